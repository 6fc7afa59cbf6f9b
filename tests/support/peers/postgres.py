"""A throwaway PostgreSQL cluster on a free loopback port, for the tests and the benchmarks.

It runs the Debian package's binaries (`/usr/lib/postgresql/<version>/bin`): `initdb` with
trust authentication into a work directory, then `pg_ctl start` listening on 127.0.0.1 only,
with `fsync=off` (a test cluster need not survive a power cut). PostgreSQL refuses to run as
root, so under root the binaries run as the package's `postgres` user, which then owns the
work directory. `stop()` ends the cluster (`pg_ctl -m fast`), `kill()` ends it abruptly
(SIGKILL of the postmaster), `start()` again brings the same cluster back on the same port.
Without a `workdir` the cluster lives in a new directory under the system's temporary
directory (pytest's own `tmp_path` is private to root, out of reach of the `postgres` user).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from tests.support import REQUIRE_PEERS, free_port

USER = "postgres"


def find_bindir() -> Path | None:
    """The newest installed PostgreSQL server's bin directory, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    return Path(found[-1]).parent if found else None


def _version(path: str) -> tuple[int, ...]:
    part = Path(path).parent.parent.name
    return tuple(int(p) for p in part.split(".") if p.isdigit())


def require_postgres() -> Path:
    """The PostgreSQL bin directory, or skip the test (fail under GATEWAY_REQUIRE_PEERS=1)."""
    import pytest  # here, so that the benchmarks can use this module without pytest

    bindir = find_bindir()
    if bindir is None:
        reason = "PostgreSQL not installed (Debian package postgresql)"
        if REQUIRE_PEERS:
            pytest.fail(f"{reason}, and GATEWAY_REQUIRE_PEERS=1")
        pytest.skip(reason)
    return bindir


class Postgres:
    """One PostgreSQL cluster in `workdir`, listening on 127.0.0.1:`port`."""

    def __init__(self, workdir: str | Path | None = None, port: int | None = None) -> None:
        bindir = find_bindir()
        if bindir is None:
            raise FileNotFoundError("PostgreSQL not installed (Debian package postgresql)")
        self.bindir = bindir
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="gateway-pg-"))
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.database = "postgres"
        self._as_postgres = os.geteuid() == 0

    @property
    def datadir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_file(self) -> Path:
        return self.workdir / "postgres.log"

    @property
    def url(self) -> str:
        """A SQLAlchemy URL for asyncpg."""
        return f"postgresql+asyncpg://{USER}@{self.host}:{self.port}/{self.database}"

    @property
    def dsn(self) -> str:
        """A libpq/asyncpg DSN."""
        return f"postgresql://{USER}@{self.host}:{self.port}/{self.database}"

    def _run(self, *args: str, timeout: float = 60.0) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()}")

    def _init(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            entry = pwd.getpwnam(USER)
            os.chown(self.workdir, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.datadir), "-U", USER, "--auth=trust", "-E", "UTF8")

    def start(self, timeout: float = 30.0) -> None:
        """Create the cluster on first use, start it and wait until it accepts connections."""
        if not (self.datadir / "PG_VERSION").exists():
            self._init()
        options = (
            f"-c listen_addresses={self.host} -p {self.port} -k {self.workdir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl", "-D", str(self.datadir), "-l", str(self.log_file), "-w",
            "-t", str(int(timeout)), "-o", options, "start", timeout=timeout + 5,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"PostgreSQL did not listen on {self.host}:{self.port}")

    def _pid(self) -> int | None:
        try:
            return int((self.datadir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        """End the cluster cleanly (a no-op when it is not running)."""
        if self._pid() is None:
            return
        try:
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop")
        except RuntimeError:
            self.kill()

    def kill(self) -> None:
        """End the cluster abruptly, as a crash would."""
        pid = self._pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        (self.datadir / "postmaster.pid").unlink(missing_ok=True)

    def remove(self) -> None:
        """Stop the cluster and delete its files."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Postgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
