"""Capture loopback traffic of one TCP port with tshark and check it as a wire oracle.

``async with TsharkCapture(tshark, port, path)`` starts ``tshark -i lo`` before the traffic
and stops it with SIGTERM afterwards (killing it if it lingers). :func:`problems` lists
malformed packets and expert warnings; :func:`data_tsdus_not_mms` lists complete data TSDUs
(last DT of a TSDU) that tshark does not decode as MMS, apart from the ACSE release SPDUs.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from pathlib import Path

START_TIMEOUT = 20.0
"""Seconds to wait for tshark to say that it captures."""


class TsharkCapture:
    """A running ``tshark -i lo -f "tcp port PORT" -w PATH`` (needs root on Linux)."""

    def __init__(self, tshark: str, port: int, path: Path) -> None:
        self.tshark = tshark
        self.port = port
        self.path = path
        self._proc: asyncio.subprocess.Process | None = None
        self.stderr = b""

    async def __aenter__(self) -> TsharkCapture:
        self._proc = await asyncio.create_subprocess_exec(
            self.tshark,
            "-i",
            "lo",
            "-f",
            f"tcp port {self.port}",
            "-w",
            str(self.path),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self._proc.stderr is not None
        # tshark says "Capturing on ..." once the capture runs (seconds on a busy machine:
        # traffic before that is lost, and a capture stopped before it leaves no file)
        said: list[bytes] = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(START_TIMEOUT):
                while b"Capturing on" not in (line := await self._proc.stderr.readline()):
                    if not line:
                        message = b"".join(said).decode(errors="replace").strip()
                        raise RuntimeError(f"tshark ended before capturing: {message}")
                    said.append(line)
        await asyncio.sleep(1.0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        proc = self._proc
        if proc is None:
            return
        await asyncio.sleep(0.5)  # let the last packets reach the capture
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        try:
            _, err = await asyncio.wait_for(proc.communicate(), 10.0)
            self.stderr = err or b""
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


def _read(tshark: str, path: Path, port: int, *args: str) -> str:
    result = subprocess.run(
        [tshark, "-r", str(path), "-d", f"tcp.port=={port},tpkt", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def packet_count(tshark: str, path: Path, port: int, display_filter: str) -> int:
    """How many captured frames match ``display_filter`` (a frame may hold several TPKTs)."""
    out = _read(tshark, path, port, "-Y", display_filter, "-T", "fields", "-e", "frame.number")
    return len(out.split())


def problems(tshark: str, path: Path, port: int, allow_reset: bool = False) -> str:
    """tshark's lines for malformed packets and expert warnings (empty when clean).

    With ``allow_reset`` a bare TCP RST (its own expert warning) is not counted: libiec61850
    resets its socket when it closes after a release; count those separately. A bare ACK
    with a D-SACK is never counted: the kernel's answer to its own retransmission (a FIN
    resent when a busy peer acknowledged it a few milliseconds late), not a protocol's.
    """
    flt = "(_ws.malformed || _ws.expert.severity >= warning)"
    flt += " && !(tcp.options.sack.dsack && tcp.len == 0)"
    if allow_reset:
        flt += " && !(tcp.flags.reset == 1 && tcp.len == 0)"
    return _read(tshark, path, port, "-Y", flt)


def data_tsdus_not_mms(tshark: str, path: Path, port: int) -> str:
    """Last DTs of a TSDU that are not MMS, other than FINISH/DISCONNECT/ABORT (ACSE only)."""
    return _read(
        tshark,
        path,
        port,
        "-Y",
        "cotp.type == 0x0f && cotp.eot == 1 && !mms"
        " && !(ses.type == 9 || ses.type == 10 || ses.type == 25)",
    )
