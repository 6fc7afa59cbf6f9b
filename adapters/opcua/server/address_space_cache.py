"""The standard OPC UA address space, kept on disk between starts of an `opcua-server`.

Built in memory, as asyncua does at every start, the standard address space costs about
50 MB of the gateway's memory and most of a second of its start. Loaded from a shelf
(asyncua's `load_aspace_shelf`), a server reads only the nodes it uses: about 2 MB.

The shelf is made once for each asyncua and Python version, in a child process so that the
gateway never holds the whole space. The child reads every record back; the files are then
synced, listed with their sizes, and their temporary directory renamed into place whole. A
build that fails or is cut short therefore leaves nothing that a later start would load,
and a directory whose files no longer match the list (truncated, a file gone) is made again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

__all__ = ["BUILD_TIMEOUT", "SHELF", "AddressSpaceCacheError", "discard", "standard_address_space"]

log = logging.getLogger(__name__)

BUILD_TIMEOUT = 120.0
"""Seconds the child making a shelf may take (a slow device takes a few)."""
SHELF = "address-space"
"""The shelf's name inside its versioned directory."""
_SIZES = "sizes.json"
"""The list of the shelf's files and their sizes, written last."""
_BUILDING = ".building-"
_CHILD = """\
import asyncio, pathlib, shelve, sys
from asyncua.server.internal_server import InternalServer
path = pathlib.Path(sys.argv[1])
asyncio.run(InternalServer().load_standard_address_space(path))
with shelve.open(str(path), "r") as shelf:
    for key in shelf.keys():
        shelf[key]
"""
"""The child's program: asyncua fills a bare address space and writes it to the shelf, whose
every record is then read back."""


class AddressSpaceCacheError(Exception):
    """The shelf could not be made (the message says where and why)."""


async def standard_address_space(cache_dir: Path) -> Path:
    """The shelf in ``cache_dir`` to give `Server.init`, made first if there is none yet, or
    if the one there is incomplete.

    Raises :class:`AddressSpaceCacheError` when it cannot be made (the caller then builds the
    space in memory)."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    directory = cache_dir / f"asyncua-{version('asyncua')}-python{python}"
    if directory.is_dir():
        problem = _problem(directory)
        if problem is None:
            return directory / SHELF
        log.warning("opcua address space cache %s is damaged (%s): made again", directory, problem)
        if not discard(directory / SHELF):
            raise AddressSpaceCacheError(f"cannot remove the damaged {directory}")
    await _build(directory)
    return directory / SHELF


def discard(shelf: Path) -> bool:
    """Remove the shelf's directory (the next start makes it again); False if it is still
    there."""
    shutil.rmtree(shelf.parent, ignore_errors=True)
    return not shelf.parent.exists()


def _problem(directory: Path) -> str | None:
    """What does not match the list of the shelf's files, or None."""
    try:
        sizes = json.loads((directory / _SIZES).read_text()).items()
    except (OSError, ValueError, AttributeError) as exc:
        return f"{_SIZES}: {exc}"
    for name, size in sizes:
        try:
            actual = (directory / name).stat().st_size
        except OSError as exc:
            return f"{name}: {exc.strerror}"
        if actual != size:
            return f"{name} has {actual} octets, not {size}"
    return None


async def _build(directory: Path) -> None:
    """Make the shelf of ``directory`` in a fresh directory beside it, then rename that into
    place; remove the builds cut short that an earlier run left beside it."""
    cache_dir = directory.parent
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        _remove_stale_builds(cache_dir)
        building = Path(tempfile.mkdtemp(prefix=_BUILDING, dir=cache_dir))
    except OSError as exc:
        raise AddressSpaceCacheError(f"cannot write in {cache_dir}: {exc}") from None
    try:
        shelf = building / SHELF
        await _run_child(shelf)
        try:
            if not (shelf.is_file() or shelf.with_suffix(".db").is_file()):
                # dbm.dumb writes <shelf>.dat and <shelf>.dir only, but asyncua loads a
                # shelf only when a file <shelf> (or <shelf>.db) is there: an empty one.
                shelf.touch()
            _seal(building)
            building.rename(directory)
        except OSError as exc:
            if _problem(directory) is not None:  # else another build got there first
                raise AddressSpaceCacheError(f"cannot keep {building}: {exc}") from None
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _seal(building: Path) -> None:
    """List the files with their sizes, make the directory readable by other users (the
    shelf is no secret) and sync it all to disk before it is renamed into place."""
    sizes = {p.name: p.stat().st_size for p in building.iterdir()}
    (building / _SIZES).write_text(json.dumps(sizes))
    building.chmod(0o755)
    for path in [*building.iterdir(), building]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_stale_builds(cache_dir: Path) -> None:
    """Builds cut short (the gateway killed) more than twice ``BUILD_TIMEOUT`` ago.

    Other versions' shelves are left alone: a gateway of that version may be reading one."""
    stale = time.time() - 2 * BUILD_TIMEOUT
    for path in cache_dir.glob(_BUILDING + "*"):
        with contextlib.suppress(OSError):
            if path.is_dir() and path.stat().st_mtime < stale:
                shutil.rmtree(path, ignore_errors=True)


async def _run_child(shelf: Path) -> None:
    """Make ``shelf`` in a child process; kill it when cancelled or too slow."""
    try:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _CHILD,
            str(shelf),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise AddressSpaceCacheError(f"cannot start {sys.executable}: {exc}") from None
    try:
        async with asyncio.timeout(BUILD_TIMEOUT):
            _, err = await child.communicate()
    except TimeoutError:
        raise AddressSpaceCacheError(
            f"making {shelf} took more than {BUILD_TIMEOUT:g} s; stopped"
        ) from None
    finally:
        if child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            await child.wait()
    if child.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        why = lines[-1] if lines else f"exit status {child.returncode}"
        raise AddressSpaceCacheError(f"making {shelf} failed: {why}")
