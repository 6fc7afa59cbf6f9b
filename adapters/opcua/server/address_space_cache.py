"""The standard OPC UA address space, kept on disk between starts of an `opcua-server`.

Built in memory, as asyncua does at every start, the standard address space costs about
50 MB of the gateway's memory and most of a second of its start. Loaded from a shelf
(asyncua's `load_aspace_shelf`), a server reads only the nodes it uses: about 2 MB.

The shelf is made once for each asyncua and Python version, in a child process so that the
gateway never holds the whole space. Its files are then listed with their sizes and CRC-32s,
synced, and their temporary directory renamed into place whole. A build that fails or is cut
short therefore leaves nothing that a later start would load, and a directory whose files no
longer match the list (truncated, a file gone or unreadable, other octets) is made again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import sys
import time
import zlib
from importlib.metadata import version
from pathlib import Path

__all__ = ["BUILD_TIMEOUT", "SHELF", "AddressSpaceCacheError", "discard", "standard_address_space"]

log = logging.getLogger(__name__)

BUILD_TIMEOUT = 120.0
"""Seconds the child making a shelf may take (a slow device takes a few)."""
SHELF = "address-space"
"""The shelf's name inside its versioned directory."""
_FILES = "files.json"
"""The list of the shelf's files with their sizes and CRC-32s, written last."""
_MAX_LISTING = 1 << 16
"""Octets beyond which the list is damaged (it holds a few names and numbers)."""
_BUILDING = ".building-"
_CHILD = (
    "import asyncio, sys, pathlib\n"
    "from asyncua.server.internal_server import InternalServer\n"
    "asyncio.run(InternalServer().load_standard_address_space(pathlib.Path(sys.argv[1])))\n"
)
"""The child's program: asyncua fills a bare address space and writes it to the shelf."""


class AddressSpaceCacheError(Exception):
    """The shelf can be neither read nor made (the message says where and why)."""


async def standard_address_space(cache_dir: Path) -> Path:
    """The shelf in ``cache_dir`` to give `Server.init`, made first if there is none yet, or
    if the one there is damaged.

    Raises :class:`AddressSpaceCacheError` when it can be neither read nor made (the caller
    then builds the space in memory)."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    directory = cache_dir / f"asyncua-{version('asyncua')}-python{python}"
    try:
        _remove_stale_builds(cache_dir)
        if os.path.lexists(directory):
            damage = await asyncio.to_thread(_damage, directory)
            if damage is None:
                return directory / SHELF
            log.warning("opcua address space cache %s is damaged (%s)", directory, damage)
            if not discard(directory / SHELF):
                raise AddressSpaceCacheError(f"cannot remove the damaged {directory}")
    except OSError as exc:  # a permission: no damage, the cache is left as it is
        raise AddressSpaceCacheError(f"cannot read {directory}: {exc}") from None
    await _build(directory)
    return directory / SHELF


def discard(shelf: Path) -> bool:
    """Remove the shelf's directory (the next start makes it again); False if it is still
    there."""
    directory = shelf.parent
    if directory.is_symlink() or not directory.is_dir():
        with contextlib.suppress(OSError):
            directory.unlink()
    else:
        shutil.rmtree(directory, ignore_errors=True)
    return not os.path.lexists(directory)


def _listing(directory: Path) -> dict[str, list[int]]:
    """Each file of ``directory`` (but the list): its size and CRC-32. Raises
    :class:`_NotAFile` for anything else there (a FIFO would block the read for ever)."""
    files: dict[str, list[int]] = {}
    chunk = bytearray(1 << 16)  # one buffer for all: no memory kept from 20 MB of reads
    view = memoryview(chunk)
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if not entry.is_file(follow_symlinks=False):
            raise _NotAFile(f"{entry.name} is not a regular file")
        if entry.name != _FILES:
            crc = 0
            with open(entry.path, "rb") as f:
                while n := f.readinto(chunk):
                    crc = zlib.crc32(view[:n], crc)
            files[entry.name] = [entry.stat(follow_symlinks=False).st_size, crc]
    return files


class _NotAFile(Exception):
    """A directory entry of the cache that is not a regular file."""


def _damage(directory: Path) -> str | None:
    """How ``directory`` differs from the list of its files, or None. Raises
    PermissionError when it cannot be read, which is no damage."""
    if directory.is_symlink() or not directory.is_dir():
        return "not a directory"
    try:
        found = _listing(directory)
        listing = directory / _FILES
        if listing.stat().st_size > _MAX_LISTING:
            return f"{_FILES} is larger than {_MAX_LISTING} octets"
        listed = json.loads(listing.read_text())
    except PermissionError:
        raise
    except (OSError, ValueError, RecursionError, _NotAFile) as exc:  # EIO, a file gone...
        return str(exc)
    if not isinstance(listed, dict):
        return f"{_FILES} lists no files"
    for name in sorted(set(listed) | set(found)):
        if name not in found:
            return f"no {name}"
        if found[name] != listed.get(name):
            return f"{name} differs from its size and CRC-32 when made"
    return None


async def _build(directory: Path) -> None:
    """Make the shelf of ``directory`` in a fresh directory beside it, then rename that into
    place."""
    cache_dir = directory.parent
    building = cache_dir / f"{_BUILDING}{os.getpid()}-{secrets.token_hex(4)}"
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        building.mkdir()  # with the umask's mode (not mkdtemp's 0700)
    except OSError as exc:
        raise AddressSpaceCacheError(f"cannot write in {cache_dir}: {exc}") from None
    started = time.monotonic()
    try:
        shelf = building / SHELF
        await _run_child(shelf)
        try:
            if not (shelf.is_file() or shelf.with_suffix(".db").is_file()):
                # dbm.dumb writes <shelf>.dat and <shelf>.dir only, but asyncua loads a
                # shelf only when a file <shelf> (or <shelf>.db) is there: an empty one.
                shelf.touch()
            await asyncio.to_thread(_seal, building)
            building.rename(directory)
            log.info(
                "opcua address space cache made in %s (%.1f s); later starts load it",
                directory,
                time.monotonic() - started,
            )
        except OSError as exc:
            if not directory.is_dir():  # else another build got there first: use that one
                raise AddressSpaceCacheError(f"cannot keep {building}: {exc}") from None
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _seal(building: Path) -> None:
    """List the files with their sizes and CRC-32s, and sync it all to disk before the
    directory is renamed into place."""
    (building / _FILES).write_text(json.dumps(_listing(building)))
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
