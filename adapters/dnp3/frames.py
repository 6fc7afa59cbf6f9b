"""DNP3 link frames read from a byte stream, their CRCs checked in C (sans-IO).

A frame (IEEE 1815-2012 9.2) is the start octets 05 64, length, control, destination and
source (little-endian), a CRC over those eight octets, then the user data in blocks of up to
16 octets, each followed by its CRC. The CRC is CRC-16/DNP (polynomial 0x3D65, reflected,
final XOR 0xFFFF), computed by crcmod's C extension: py1815's `FrameReader` does the same in
pure Python, which cost about 2 µs per point of an integrity poll.

A header whose CRC fails may not be a header at all, so the reader steps past its start
octets and searches again; a frame whose header is sound but a data block is not is dropped
whole. Each drop is recorded in `problems` (the caller reports them).
"""

from __future__ import annotations

import crcmod
from py1815.link import LinkFrame

START = b"\x05\x64"
HEADER = 10
BLOCK = 16
MIN_LENGTH = 5  # control, destination and source: the length octet counts them

crc16_dnp = crcmod.mkCrcFun(0x13D65, initCrc=0xFFFF, rev=True, xorOut=0xFFFF)
"""The CRC-16/DNP of some octets (check value 0xEA82 over b"123456789")."""


RESIDUE = 0x993A
"""The CRC-16/DNP of any octets followed by their own CRC: a block checks in one call."""


class FrameReader:
    """Turns a byte stream into link frames (see the module docstring)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.problems: list[str] = []

    def feed(self, data: bytes) -> list[LinkFrame]:
        """Add received octets; returns every frame they completed, in order."""
        buf = self._buffer
        buf += data
        frames: list[LinkFrame] = []
        pos = 0
        size = len(buf)
        while True:
            start = buf.find(START, pos)
            if start < 0:
                pos = size - 1 if size and buf[-1] == START[0] else size
                break
            if size - start < HEADER:
                pos = start
                break
            if crc16_dnp(buf[start : start + HEADER]) != RESIDUE or buf[start + 2] < MIN_LENGTH:
                self.problems.append(f"link header with a bad CRC or length at octet {start}")
                pos = start + len(START)
                continue
            user = buf[start + 2] - MIN_LENGTH
            end = start + HEADER + user + 2 * -(-user // BLOCK)
            if size < end:
                pos = start
                break
            blocks = [
                buf[b : min(b + BLOCK + 2, end)] for b in range(start + HEADER, end, BLOCK + 2)
            ]
            if all(crc16_dnp(block) == RESIDUE for block in blocks):
                frames.append(
                    LinkFrame(
                        control=buf[start + 3],
                        destination=buf[start + 4] | buf[start + 5] << 8,
                        source=buf[start + 6] | buf[start + 7] << 8,
                        payload=b"".join(block[:-2] for block in blocks),
                    )
                )
            else:
                self.problems.append("link frame with a bad data block CRC dropped")
            pos = end
        del buf[:pos]
        return frames
