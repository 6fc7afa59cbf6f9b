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


def _crc_ok(data: bytes | bytearray, start: int, end: int) -> bool:
    """Whether data[start:end] is followed by its CRC (low octet first)."""
    return crc16_dnp(bytes(data[start:end])) == data[end] | data[end + 1] << 8


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
            if not _crc_ok(buf, start, start + 8) or buf[start + 2] < MIN_LENGTH:
                self.problems.append(f"link header with a bad CRC or length at octet {start}")
                pos = start + len(START)
                continue
            user = buf[start + 2] - MIN_LENGTH
            total = HEADER + user + 2 * -(-user // BLOCK)
            if size - start < total:
                pos = start
                break
            payload = bytearray()
            offset = start + HEADER
            end = start + total
            while offset < end:
                block = min(BLOCK, end - offset - 2)
                if not _crc_ok(buf, offset, offset + block):
                    self.problems.append("link frame with a bad data block CRC dropped")
                    break
                payload += buf[offset : offset + block]
                offset += block + 2
            else:
                frames.append(
                    LinkFrame(
                        control=buf[start + 3],
                        destination=buf[start + 4] | buf[start + 5] << 8,
                        source=buf[start + 6] | buf[start + 7] << 8,
                        payload=bytes(payload),
                    )
                )
            pos = end
        del buf[:pos]
        return frames
