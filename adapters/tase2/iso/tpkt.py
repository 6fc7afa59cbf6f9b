"""TPKT (RFC 1006) framing: one COTP TPDU per 4-byte-headed packet on the TCP stream."""

from __future__ import annotations

from typing import NoReturn

from adapters.tase2.iso.errors import TpktError

__all__ = ["HEADER_SIZE", "MAX_TPKT_LENGTH", "MIN_TPKT_LENGTH", "TpktReassembler", "encode_tpkt"]

HEADER_SIZE = 4
MIN_TPKT_LENGTH = 7
"""Smallest legal packet: header plus the 3-octet COTP DT header."""
MAX_TPKT_LENGTH = 65535


def encode_tpkt(tpdu: bytes) -> bytes:
    """Frame one COTP TPDU: ``03 00`` + big-endian total length + ``tpdu``."""
    total = len(tpdu) + HEADER_SIZE
    if total > MAX_TPKT_LENGTH:
        raise ValueError(f"TPDU of {len(tpdu)} octets does not fit in one TPKT")
    return bytes((3, 0, total >> 8, total & 0xFF)) + tpdu


class TpktReassembler:
    """Cut a TCP byte stream into TPKT payloads (COTP TPDUs), at most ``max_length`` each.

    Feed it whatever ``recv`` returned; it keeps partial packets. A bad header makes the
    stream unusable (there is no way to resynchronise), so after a :class:`TpktError` every
    further ``feed`` raises again.
    """

    __slots__ = ("_buffer", "_consumed", "_error", "max_length")

    def __init__(self, max_length: int = MAX_TPKT_LENGTH) -> None:
        if not MIN_TPKT_LENGTH <= max_length <= MAX_TPKT_LENGTH:
            raise ValueError(f"max_length {max_length} outside {MIN_TPKT_LENGTH}..65535")
        self.max_length = max_length
        self._buffer = bytearray()
        self._consumed = 0
        self._error: TpktError | None = None

    @property
    def buffered(self) -> int:
        """Octets received but not yet returned as a complete packet."""
        return len(self._buffer)

    @property
    def idle(self) -> bool:
        """True when no partial packet is held and the stream is still usable."""
        return not self._buffer and self._error is None

    def passed(self, size: int) -> None:
        """``size`` octets of whole packets went past this reassembler (see ``idle``)."""
        self._consumed += size

    def feed(self, data: bytes) -> list[bytes]:
        """Append received bytes; return the payloads of all packets now complete."""
        if self._error is not None:
            raise self._error
        buf = self._buffer
        buf += data
        out: list[bytes] = []
        pos = 0
        n = len(buf)
        while n - pos >= HEADER_SIZE:
            if buf[pos] != 3 or buf[pos + 1] != 0:
                self._fail(f"bad TPKT header {bytes(buf[pos : pos + 2]).hex(' ')}", pos)
            length = (buf[pos + 2] << 8) | buf[pos + 3]
            if length < MIN_TPKT_LENGTH or length > self.max_length:
                self._fail(
                    f"TPKT length {length} outside {MIN_TPKT_LENGTH}..{self.max_length}", pos + 2
                )
            if n - pos < length:
                break
            out.append(bytes(buf[pos + HEADER_SIZE : pos + length]))
            pos += length
        if pos:
            del buf[:pos]
            self._consumed += pos
        return out

    def _fail(self, message: str, pos: int) -> NoReturn:
        self._error = TpktError(message, self._consumed + pos)
        self._buffer.clear()
        raise self._error
