"""The standard OPC UA address space, made once on disk and loaded from there by every later
start of an `opcua-server` (checked with an asyncua client in another process)."""

import asyncio
import os

import pytest

from adapters.opcua.server.address_space_cache import standard_address_space
from gateway.bus import PointBus
from gateway.points import GOOD, PointDef
from tests.adapters.opcua.server.test_adapter import served
from tests.support.peers.opcua_client import opcua_client

pytestmark = pytest.mark.timeout(120)

SERVER = "i=2253"
STANDARD = ["i=2259", "i=2255", "i=2254", "i=11705", "i=2994"]
"""ServerStatus.State, NamespaceArray, ServerArray, MaxNodesPerRead, Auditing."""


def _bus():
    bus = PointBus()
    bus.add_owner("field")
    bus.register(PointDef(id="G1_MW"), "field")
    bus.update("G1_MW", 12.5, GOOD, 1700000000.0)
    return bus


async def _look(**options):
    """What a client sees of the standard Server object and of a served point."""
    async with served(_bus(), points=[{"point": "*"}], **options) as (adapter, url):
        async with opcua_client(url) as client:
            tree = await client.call("browse", root=SERVER)
            values = (await client.call("read", nodes=[*STANDARD, "ns=2;s=G1_MW"]))["values"]
        lazily = not isinstance(adapter._server.iserver.aspace._nodes, dict)
    return tree, [(v["value"], v["status"]) for v in values], lazily


def _files(directory):
    return {p.name: p.stat().st_mtime_ns for p in directory.iterdir()}


async def test_the_address_space_is_made_once_then_loaded_from_disk(tmp_path):
    shelf = await standard_address_space(tmp_path)
    made = _files(shelf.parent)
    assert await standard_address_space(tmp_path) == shelf
    assert _files(shelf.parent) == made
    assert [p.name for p in tmp_path.iterdir()] == [shelf.parent.name]
    assert shelf.parent.stat().st_mode & 0o777 == 0o755  # readable by another service user


async def test_a_server_from_the_cache_shows_what_one_built_in_memory_shows(tmp_path):
    in_memory = await _look(address_space_cache=None)
    from_disk = await _look(address_space_cache=str(tmp_path))
    assert in_memory[2] is False and from_disk[2] is True  # nodes loaded as used
    assert from_disk[:2] == in_memory[:2]
    tree, values, _ = from_disk
    assert "/ServerCapabilities/OperationLimits" in tree["folders"]
    assert values[0] == (0, 0)  # ServerState Running
    assert values[1][0][-1] == "urn:iccp-gateway"
    assert values[-1] == (12.5, 0)


async def test_a_cache_whose_files_changed_is_made_again(tmp_path, caplog):
    shelf = await standard_address_space(tmp_path)
    biggest = max(shelf.parent.iterdir(), key=lambda p: p.stat().st_size)
    with biggest.open("r+b") as f:
        f.truncate(biggest.stat().st_size // 2)  # a disk that lost the end of the file
    assert await standard_address_space(tmp_path) == shelf
    assert f"{biggest.name} has" in caplog.text and "made again" in caplog.text
    caplog.clear()
    shelf.unlink()  # dbm.dumb's empty marker, or gdbm's whole file
    assert await standard_address_space(tmp_path) == shelf
    assert f"{shelf.name}: No such file" in caplog.text
    _, values, lazily = await _look(address_space_cache=str(tmp_path))
    assert lazily and values[0] == (0, 0)


async def test_a_cache_that_cannot_be_loaded_is_discarded_and_the_server_still_starts(
    tmp_path, caplog
):
    shelf = await standard_address_space(tmp_path)
    for path in shelf.parent.iterdir():
        if path.name != "sizes.json":
            path.write_bytes(b"\xff" * path.stat().st_size)  # the sizes still match
    _, values, lazily = await _look(address_space_cache=str(tmp_path))
    assert values[0] == (0, 0) and values[-1] == (12.5, 0)
    assert not lazily
    assert "cannot be loaded" in caplog.text and "made again at the next start" in caplog.text
    assert not shelf.parent.exists()


async def test_without_a_place_for_the_cache_the_space_is_built_in_memory(tmp_path, caplog):
    (tmp_path / "file").write_text("")
    _, values, lazily = await _look(address_space_cache=str(tmp_path / "file" / "cache"))
    assert values[0] == (0, 0) and not lazily
    assert "no cached standard address space (cannot write in" in caplog.text


async def test_servers_starting_together_make_one_cache(tmp_path):
    first, second = await asyncio.gather(
        standard_address_space(tmp_path), standard_address_space(tmp_path)
    )
    assert first == second
    assert [p.name for p in tmp_path.iterdir()] == [first.parent.name]


async def test_builds_cut_short_long_ago_are_removed_other_versions_kept(tmp_path):
    other, stale, fresh = (
        tmp_path / n for n in ("asyncua-0.9-python3.9", ".building-a", ".building-b")
    )
    for directory in (other, stale, fresh):
        directory.mkdir()
    os.utime(stale, (0, 0))
    (tmp_path / "server.der").write_bytes(b"certificate")
    shelf = await standard_address_space(tmp_path)
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {shelf.parent.name, other.name, fresh.name, "server.der"}
