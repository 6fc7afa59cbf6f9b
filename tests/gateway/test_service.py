"""The service: live reload of the config file, safe against half-written files."""

import asyncio
import contextlib
import logging
import platform
from pathlib import Path

import pytest

from gateway import service as service_module
from gateway.config import check_config
from gateway.service import Service, release_free_heap
from tests.support import eventually

SIMS = ["s1", "s2", "s3"]


def sims_yaml(names: list[str], pointless: tuple[str, ...] = ()) -> str:
    """A gateway of sim adapters, one point each, then the `pointless` ones (no points)."""
    points = "".join(f"  - {{id: {n.upper()}}}\n" for n in names)
    adapters = "".join(
        f"  - {{name: {n}, type: sim, interval: 0.05, points: [{{point: {n.upper()}}}]}}\n"
        for n in names
    )
    adapters += "".join(f"  - {{name: {n}, type: sim}}\n" for n in pointless)
    return f"points:\n{points}adapters:\n{adapters}"


def replace_file(path: Path, text: str) -> None:
    """Write ``path`` the way a deploy tool does: a new file renamed over the old one, so
    that the watcher never sees it half written (the tests of half files write in place)."""
    new = path.with_suffix(".new")
    new.write_text(text)
    new.replace(path)


@contextlib.asynccontextmanager
async def watching(path: Path, settle: float, **kw):
    """A Service on ``path`` started, watching it every 20 ms."""
    service = Service(path, check_config(path)[0], watch_period=0.02, settle=settle, **kw)
    await service.runtime.start()
    task = asyncio.create_task(service._watch())
    try:
        yield service
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await service.runtime.stop()


async def test_a_file_written_in_two_halves_is_never_applied_half(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    path = tmp_path / "gw.yaml"
    path.write_text(sims_yaml(SIMS[:1]))
    full = sims_yaml(SIMS[:1], pointless=("s2", "s3"))
    cut = full.index("  - {name: s2")  # the first half is a valid gateway: only s1
    applied: list[list[str]] = []
    async with watching(path, settle=0.5) as service:
        real_apply = service.runtime.apply

        async def apply(config):
            applied.append([a.name for a in config.adapters])
            return await real_apply(config)

        service.runtime.apply = apply  # type: ignore[method-assign]
        with path.open("w") as f:  # a deploy tool: the first half, a pause, the rest
            f.write(full[:cut])
            f.flush()
            await asyncio.sleep(0.1)
            f.write(full[cut:])
        await eventually(lambda: applied, 5.0, "the reload")
        await asyncio.sleep(0.2)
    assert applied == [SIMS]


async def test_truncating_the_file_keeps_every_adapter_running(tmp_path, caplog):
    path = tmp_path / "gw.yaml"
    path.write_text(sims_yaml(SIMS))
    async with watching(path, settle=0.05) as service:
        path.write_text("")
        await eventually(
            lambda: "keeps running the last good one" in caplog.text, 5.0, "the refusal"
        )
        assert [r.levelname for r in caplog.records if "the file is empty" in r.message] == [
            "ERROR"
        ]
        status = service.runtime.status()["adapters"]
        assert {n: s["state"] for n, s in status.items()} == dict.fromkeys(SIMS, "running")


async def test_removed_adapters_are_named_and_a_limit_refuses_too_many(tmp_path, caplog):
    path = tmp_path / "gw.yaml"
    path.write_text(sims_yaml(SIMS))
    async with watching(path, settle=0.05, max_removed_adapters=1) as service:
        replace_file(path, sims_yaml(SIMS[:1]))  # removes two: refused
        await eventually(lambda: "more than the limit of 1" in caplog.text, 5.0, "the refusal")
        [refusal] = [r for r in caplog.records if "more than the limit" in r.message]
        assert refusal.levelname == "ERROR" and "removes 2 adapters (s2, s3)" in refusal.message
        assert sorted(service.runtime.adapters) == SIMS

        replace_file(path, sims_yaml(SIMS[:2]))  # removes one: applied, with a warning
        await eventually(lambda: sorted(service.runtime.adapters) == SIMS[:2], 5.0, "s3 gone")
        [warning] = [r for r in caplog.records if "removes adapter" in r.message]
        assert warning.levelname == "WARNING" and warning.message.endswith("adapter s3")


async def test_the_free_heap_is_released_once_the_gateway_runs(tmp_path, monkeypatch):
    path = tmp_path / "gw.yaml"
    path.write_text(sims_yaml(SIMS[:1]))
    calls: list[int] = []

    def release() -> bool:
        calls.append(len(service.runtime.adapters))  # after start: the adapters exist
        return True

    monkeypatch.setattr(service_module, "release_free_heap", release)
    service = Service(path, check_config(path)[0], watch_period=None)
    task = asyncio.create_task(service.run())
    await eventually(lambda: calls, 5.0, "the release after start-up")
    service.stop()
    assert await asyncio.wait_for(task, 10.0) is True
    assert calls == [1]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_releasing_the_free_heap_works_on_glibc() -> None:
    assert release_free_heap() is True
