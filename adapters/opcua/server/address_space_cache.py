"""The standard OPC UA address space, kept on disk between starts of an `opcua-server`.

Built in memory, as asyncua does at every start, the standard address space costs about
50 MB of the gateway's memory and a second of its start. Loaded from a shelf (asyncua's
`load_aspace_shelf`), a server reads only the nodes it uses: about 2 MB. The shelf is made
once for each asyncua and Python version, in a child process so that the gateway itself
never holds the whole space, into a temporary directory that is renamed into place whole:
a build that fails or is cut short leaves nothing that a later start would load.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

__all__ = ["BUILD_TIMEOUT", "SHELF", "AddressSpaceCacheError", "discard", "standard_address_space"]

BUILD_TIMEOUT = 120.0
"""Seconds the child making a shelf may take (a slow device takes a few)."""
SHELF = "address-space"
"""The shelf's name inside its versioned directory."""
_CHILD = (
    "import asyncio, sys, pathlib\n"
    "from asyncua.server.internal_server import InternalServer\n"
    "asyncio.run(InternalServer().load_standard_address_space(pathlib.Path(sys.argv[1])))\n"
)
"""The child's program: asyncua fills a bare address space and writes it to the shelf."""
_BUILDING = ".building-"


class AddressSpaceCacheError(Exception):
    """The shelf could not be made (the message says where and why)."""


def _versioned(cache_dir: Path) -> Path:
    """The directory of the shelf that this asyncua and this Python make and read."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return cache_dir / f"asyncua-{version('asyncua')}-python{python}"


async def standard_address_space(cache_dir: Path) -> Path:
    """The shelf in ``cache_dir`` to give `Server.init`, made first if there is none yet.

    Raises :class:`AddressSpaceCacheError` when it cannot be made (the caller then builds the
    space in memory)."""
    directory = _versioned(cache_dir)
    if not directory.is_dir():
        await _build(directory)
    return directory / SHELF


def discard(shelf: Path) -> None:
    """Remove the shelf and its directory (damaged: the next start makes it again)."""
    shutil.rmtree(shelf.parent, ignore_errors=True)


async def _build(directory: Path) -> None:
    """Make the shelf of ``directory`` in a fresh directory beside it, then rename that
    into place; then remove what older versions and builds cut short left beside it."""
    cache_dir = directory.parent
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
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
            building.rename(directory)
        except OSError as exc:
            if not directory.is_dir():  # else another build got there first: use that one
                raise AddressSpaceCacheError(f"cannot keep {building}: {exc}") from None
    finally:
        shutil.rmtree(building, ignore_errors=True)
    _remove_leftovers(cache_dir, keep=directory)


def _remove_leftovers(cache_dir: Path, keep: Path) -> None:
    """Shelves of other versions, and builds cut short over ``BUILD_TIMEOUT`` ago."""
    stale = time.time() - 2 * BUILD_TIMEOUT
    for path in cache_dir.iterdir():
        with contextlib.suppress(OSError):
            if (
                path != keep
                and path.is_dir()
                and (
                    path.name.startswith("asyncua-")
                    or (path.name.startswith(_BUILDING) and path.stat().st_mtime < stale)
                )
            ):
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
