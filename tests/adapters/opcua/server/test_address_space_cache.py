"""The standard OPC UA address space, made once on disk and loaded from there by every later
start of an `opcua-server` (checked with an asyncua client in another process)."""

import asyncio
import json
import logging
import os
import shutil
import sys
import zlib

import pytest

from adapters.opcua.server import OpcuaServerAdapter, OpcuaServerSettings
from adapters.opcua.server.address_space_cache import discard, standard_address_space
from gateway.bus import PointBus
from gateway.points import GOOD, PointDef
from tests.adapters.opcua.server.test_adapter import served
from tests.support import REPO, eventually, free_port, running
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


async def test_the_address_space_is_made_once_then_loaded_from_disk(tmp_path, caplog):
    caplog.set_level(logging.INFO, "adapters.opcua.server.address_space_cache")
    shelf = await standard_address_space(tmp_path)
    made = _files(shelf.parent)
    assert await standard_address_space(tmp_path) == shelf
    assert _files(shelf.parent) == made
    assert caplog.text.count(f"cache made in {shelf.parent}") == 1
    assert [p.name for p in tmp_path.iterdir()] == [shelf.parent.name]
    probe = tmp_path / "probe"
    probe.mkdir()
    assert shelf.parent.stat().st_mode == probe.stat().st_mode  # the umask's, not 0700


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


def _listed(shelf):
    return sorted((p for p in shelf.parent.iterdir() if p.name != "files.json"), key=_size)


def _size(path):
    return path.stat().st_size


def _truncate(directory, biggest, smallest):  # a disk that lost the end of a file
    os.truncate(biggest, _size(biggest) // 2)
    return biggest.name


def _overwrite(directory, biggest, smallest):  # the same size, other octets
    with biggest.open("r+b") as f:
        f.seek(_size(biggest) // 3)
        f.write(b"\x00" * 8 if f.read(8) != b"\x00" * 8 else b"\xff" * 8)
    return biggest.name


def _remove(directory, biggest, smallest):
    smallest.unlink()
    return "no " + smallest.name


def _fifo(directory, biggest, smallest):  # reading it would block for ever
    os.mkfifo(directory / "zz")
    return "zz is not a regular file"


def _endless(directory, biggest, smallest):
    (directory / "zz").symlink_to("/dev/zero")
    return "zz is not a regular file"


def _nested_listing(directory, biggest, smallest):
    (directory / "files.json").write_text("[" * 10_000)  # under the size limit, too deep
    return "recursion"


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "damage", [_truncate, _overwrite, _remove, _fifo, _endless, _nested_listing]
)
async def test_a_cache_whose_files_changed_is_made_again(tmp_path, caplog, damage):
    shelf = await standard_address_space(tmp_path)
    smallest, biggest = _listed(shelf)[0], _listed(shelf)[-1]
    said = damage(shelf.parent, biggest, smallest)
    made = _files(shelf.parent)
    assert await standard_address_space(tmp_path) == shelf
    assert "is damaged" in caplog.text and said in caplog.text
    assert _files(shelf.parent) != made  # made again
    _, values, lazily = await _look(address_space_cache=str(tmp_path))
    assert lazily and values[0] == (0, 0)


async def test_a_file_in_the_place_of_the_cache_is_replaced_by_one(tmp_path, caplog):
    shelf = await standard_address_space(tmp_path)
    discard(shelf)
    shelf.parent.write_text("not a cache")
    assert await standard_address_space(tmp_path) == shelf
    assert "damaged (not a directory)" in caplog.text and shelf.is_file()


_CHECK = """\
import asyncio, pathlib, sys
from adapters.opcua.server.address_space_cache import standard_address_space
try:
    asyncio.run(standard_address_space(pathlib.Path(sys.argv[1])))
except Exception as exc:
    print(type(exc).__name__, exc)
"""


async def test_a_cache_that_cannot_be_read_is_kept(tmp_path):
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is needed to read without root's file access")
    shelf = await standard_address_space(tmp_path)
    made = _files(shelf.parent)
    shelf.parent.chmod(0o000)
    try:  # root without the capability to bypass file permissions
        check = await asyncio.create_subprocess_exec(
            setpriv, "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-c",
            _CHECK, str(tmp_path), stdout=asyncio.subprocess.PIPE, cwd=REPO,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(check.communicate(), 60)
    finally:
        shelf.parent.chmod(0o755)
    assert out.decode().startswith("AddressSpaceCacheError cannot read"), out
    assert _files(shelf.parent) == made


async def test_a_cache_that_cannot_be_loaded_is_discarded_and_the_server_still_starts(
    tmp_path, caplog
):
    shelf = await standard_address_space(tmp_path)
    for path in _listed(shelf):
        path.write_bytes(b"\xff" * _size(path))
    listing = shelf.parent / "files.json"  # listed as they are now: no damage seen at start
    listing.write_text(
        json.dumps({p.name: [_size(p), zlib.crc32(p.read_bytes())] for p in _listed(shelf)})
    )
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


async def test_a_cache_that_cannot_be_made_is_not_tried_again_but_in_another_place(
    tmp_path, caplog
):
    (tmp_path / "file").write_text("")
    bus = _bus()
    options = {"port": free_port(), "points": [{"point": "*"}]}
    nowhere = {**options, "address_space_cache": str(tmp_path / "file" / "cache")}
    adapter = OpcuaServerAdapter("scada", OpcuaServerSettings.model_validate(nowhere), bus)
    bus.add_owner("scada")

    async def start():
        adapter.ready.clear()
        async with running(adapter) as task:
            await eventually(lambda: adapter.ready.is_set() or task.done(), 30, "listening")
            assert not task.done(), task
            return not isinstance(adapter._server.iserver.aspace._nodes, dict)

    assert not await start()
    assert not await start()
    assert caplog.text.count("no cached standard address space") == 1
    elsewhere = {**options, "address_space_cache": str(tmp_path / "cache")}
    assert adapter.reconfigure(OpcuaServerSettings.model_validate(elsewhere))
    assert await start()


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
