"""The gateway's event loop: uvloop where installed, asyncio's own on request or without it."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from gateway import eventloop
from gateway.eventloop import EventLoopError, loop_name, run


async def loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_auto_runs_on_uvloop_and_asyncio_on_its_own_loop() -> None:
    assert run(loop_module()).startswith("uvloop")  # uvloop is a dependency
    assert run(loop_module(), "asyncio").startswith("asyncio")
    assert loop_name() == "uvloop" and loop_name("asyncio") == "asyncio"


def test_without_uvloop_auto_falls_back_and_uvloop_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        eventloop.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "uvloop" else find_spec(name, *a),
    )
    assert run(loop_module()).startswith("asyncio")
    with pytest.raises(EventLoopError, match="uvloop is not installed"):
        run(loop_module(), "uvloop")
