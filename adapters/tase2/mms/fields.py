"""Small field readers and writers shared by the MMS codecs (typed errors, bounded sizes)."""

from __future__ import annotations

from adapters.tase2.asn1.ber import encode_integer, encode_unsigned, tlv
from adapters.tase2.mms.errors import MmsDecodeError, MmsEncodeError

__all__ = [
    "MAX_INTEGER_OCTETS",
    "Buffer",
    "decode_visible",
    "encode_visible",
    "int_tlv",
    "read_bool",
    "read_int",
    "read_uint",
    "uint_tlv",
]

Buffer = bytes | bytearray | memoryview
"""Anything the decoders read from."""

MAX_INTEGER_OCTETS = 32
"""Longest INTEGER content accepted (MMS uses at most 64-bit values; this leaves room)."""


def read_int(data: Buffer, start: int, end: int, field: str) -> int:
    """Signed INTEGER content ``data[start:end]`` (non-minimal forms accepted)."""
    n = end - start
    if n <= 0:
        raise MmsDecodeError("empty INTEGER", start, field)
    if n > MAX_INTEGER_OCTETS:
        raise MmsDecodeError(f"INTEGER of {n} octets is too long", start, field)
    return int.from_bytes(data[start:end], "big", signed=True)


def read_uint(data: Buffer, start: int, end: int, field: str) -> int:
    """Non-negative INTEGER content; a negative value is a decode error."""
    value = read_int(data, start, end, field)
    if value < 0:
        raise MmsDecodeError(f"negative value {value} for an unsigned field", start, field)
    return value


def read_bool(data: Buffer, start: int, end: int, field: str) -> bool:
    """BOOLEAN content: exactly one octet, any non-zero value is true."""
    if end - start != 1:
        raise MmsDecodeError(f"BOOLEAN of {end - start} octets", start, field)
    return data[start] != 0


def decode_visible(data: Buffer, start: int, end: int) -> str:
    """VisibleString content; decoded as Latin-1 so that no octet sequence fails."""
    return bytes(data[start:end]).decode("latin-1")


def encode_visible(text: str, field: str) -> bytes:
    """VisibleString content octets; only ASCII is sent."""
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        raise MmsEncodeError(f"{field}: {text!r} is not ASCII") from None


def uint_tlv(tag: int, value: int, field: str) -> bytes:
    """An element carrying a non-negative INTEGER (Unsigned32 and friends)."""
    if value < 0:
        raise MmsEncodeError(f"{field}: negative value {value}")
    return tlv(tag, encode_unsigned(value))


def int_tlv(tag: int, value: int) -> bytes:
    """An element carrying a signed INTEGER."""
    return tlv(tag, encode_integer(value))
