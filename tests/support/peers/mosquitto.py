"""A throwaway mosquitto broker on a free loopback port, for the tests and the benchmarks.

It writes a config into a work directory, starts
`mosquitto -c FILE` and waits until the port accepts connections; `stop()` ends it (SIGTERM,
so a persistent broker saves its sessions), `kill()` ends it abruptly.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from tests.support import find_program, free_port


class Mosquitto:
    """One mosquitto process listening on 127.0.0.1:`port`."""

    def __init__(
        self,
        workdir: str | Path,
        port: int | None = None,
        *,
        persistence: bool = False,
        program: str | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.persistence = persistence
        found = program or find_program("mosquitto")
        if found is None:
            raise FileNotFoundError("mosquitto not installed (Debian package mosquitto)")
        self.program = found
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def config_file(self) -> Path:
        return self.workdir / "mosquitto.conf"

    @property
    def log_file(self) -> Path:
        return self.workdir / "mosquitto.log"

    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            "max_queued_messages 1000000",
            f"log_dest file {self.log_file}",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # else mosquitto drops to the `mosquitto` user
        self.config_file.write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 5.0) -> None:
        """Start the broker and wait until it accepts connections."""
        self._write_config()
        self.process = subprocess.Popen(
            [self.program, "-c", str(self.config_file)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}: {err}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.01)
        self.kill()
        raise TimeoutError(f"mosquitto did not listen on {self.host}:{self.port} in {timeout}s")

    def stop(self, timeout: float = 5.0) -> None:
        """End the broker cleanly (it saves persistent sessions), killing it if it lingers."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
        finally:
            if process.stderr is not None:
                process.stderr.close()

    def kill(self) -> None:
        """End the broker abruptly."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(5.0)
        if process is not None and process.stderr is not None:
            process.stderr.close()

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
