"""BER (X.690) tag/length/value codec for the ISO upper layers and MMS.

Tags are handled as the identifier octet(s) read as one big-endian integer (``0x80``,
``0xA1``, ``0x30``, ``0xBF4A``), so callers compare tags with plain integer constants.
Decoding works on absolute positions inside one buffer (``bytes`` or ``memoryview``) and
never copies content: the decoder returns positions and the caller slices what it needs.
Every length is checked against the end of the enclosing element before anything is
allocated, so a length field claiming gigabytes fails at once with :class:`BerError`.

Encoders return ``bytes``; definite lengths only. Indefinite lengths (``80`` ... ``00 00``)
are accepted on input.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum, IntEnum
from typing import TypeVar

__all__ = [
    "MAX_INDEFINITE_DEPTH",
    "MAX_TAG_OCTETS",
    "BerError",
    "code_name",
    "decode_bit_string",
    "decode_boolean",
    "decode_header",
    "decode_integer",
    "decode_oid",
    "decode_tlv",
    "decode_unsigned",
    "definite_span",
    "encode_bit_string",
    "encode_boolean",
    "encode_integer",
    "encode_length",
    "encode_oid",
    "encode_tag",
    "encode_unsigned",
    "is_constructed",
    "iter_tlv",
    "named",
    "tlv",
    "tlv_header",
    "tlv_size",
]

E = TypeVar("E", bound=IntEnum)

Buffer = bytes | bytearray | memoryview

MAX_TAG_OCTETS = 4
"""Longest identifier accepted (first octet plus three subsequent octets)."""

MAX_INDEFINITE_DEPTH = 32
"""Deepest nesting of indefinite-length elements accepted inside one element."""

_MAX_LENGTH_OCTETS = 4


class BerError(ValueError):
    """Malformed BER input; ``offset`` is the absolute byte offset of the problem."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (at offset {offset})")
        self.message = message
        self.offset = offset


# --------------------------------------------------------------------------- encoding


def encode_length(n: int) -> bytes:
    """Encode a definite length: short form below 128, else the shortest long form."""
    if n < 0x80:
        if n < 0:
            raise ValueError(f"negative BER length {n}")
        return bytes((n,))
    if n < 0x100:
        return bytes((0x81, n))
    if n < 0x10000:
        return bytes((0x82, n >> 8, n & 0xFF))
    size = (n.bit_length() + 7) // 8
    if size > _MAX_LENGTH_OCTETS:
        raise ValueError(f"BER length {n} too large")
    return bytes((0x80 | size,)) + n.to_bytes(size, "big")


def encode_tag(tag: int) -> bytes:
    """Return the identifier octet(s) of ``tag`` (an int as used throughout this module)."""
    if 0 <= tag < 0x100:
        return bytes((tag,))
    if tag < 0:
        raise ValueError(f"negative BER tag {tag}")
    return tag.to_bytes((tag.bit_length() + 7) // 8, "big")


def tlv_header(tag: int, length: int) -> bytes:
    """Identifier and length octets for an element of ``length`` content octets."""
    if tag < 0x100 and 0 <= length < 0x80 and tag >= 0:
        return bytes((tag, length))
    return encode_tag(tag) + encode_length(length)


def tlv_size(content: int) -> int:
    """Octets of a BER element (one-octet tag) with ``content`` content octets."""
    if content < 0x80:
        return 2 + content
    return 2 + (content.bit_length() + 7) // 8 + content


def tlv(tag: int, content: bytes) -> bytes:
    """Encode one element: identifier ``tag``, definite length, ``content``."""
    n = len(content)
    if 0 <= tag < 0x100 and n < 0x80:
        return bytes((tag, n)) + content
    return encode_tag(tag) + encode_length(n) + content


def encode_integer(value: int) -> bytes:
    """Content octets of an INTEGER: minimal two's complement."""
    return value.to_bytes((value + (value < 0)).bit_length() // 8 + 1, "big", signed=True)


def encode_unsigned(value: int) -> bytes:
    """Content octets of a non-negative INTEGER (a leading ``00`` when the high bit is set)."""
    if value < 0:
        raise ValueError(f"encode_unsigned of negative value {value}")
    return value.to_bytes(value.bit_length() // 8 + 1, "big")


def encode_boolean(value: bool) -> bytes:
    """Content octet of a BOOLEAN (``FF`` for true, as DER/CER and most peers send)."""
    return b"\xff" if value else b"\x00"


def encode_bit_string(value: bytes, nbits: int) -> bytes:
    """Content octets of a BIT STRING of ``nbits`` bits taken from the front of ``value``.

    Bit 0 is the most significant bit of the first octet; unused trailing bits are cleared.
    """
    nbytes = (nbits + 7) // 8
    if nbits < 0 or len(value) < nbytes:
        raise ValueError(f"bit string of {nbits} bits needs {nbytes} octets, got {len(value)}")
    unused = nbytes * 8 - nbits
    body = bytearray(value[:nbytes])
    if unused:
        body[-1] &= (0xFF << unused) & 0xFF
    return bytes((unused,)) + bytes(body)


def named(codes: type[E], value: int) -> E | int:
    """A decoded code as its member of ``codes`` when it has one, else the integer itself.

    Decoders stay liberal: a peer's code this side has no name for is kept, not refused.
    """
    try:
        return codes(value)
    except ValueError:
        return value


def code_name(code: Enum) -> str:
    """A named code as the ASN.1 value notation spells it: ``OBJECT_NON_EXISTENT`` ->
    ``object-non-existent`` (for log lines, audit records and JSON)."""
    return code.name.lower().replace("_", "-")


def encode_oid(dotted: str) -> bytes:
    """Content octets of an OBJECT IDENTIFIER given in dotted form (``"1.0.9506.2.1"``)."""
    try:
        arcs = [int(part) for part in dotted.split(".")]
    except ValueError:
        raise ValueError(f"invalid object identifier {dotted!r}") from None
    if len(arcs) < 2 or arcs[0] > 2 or min(arcs) < 0 or (arcs[0] < 2 and arcs[1] >= 40):
        raise ValueError(f"invalid object identifier {dotted!r}")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        if arc < 0x80:
            out.append(arc)
            continue
        chunk = bytearray()
        while arc:
            chunk.append((arc & 0x7F) | 0x80)
            arc >>= 7
        chunk[0] &= 0x7F
        chunk.reverse()
        out += chunk
    return bytes(out)


# --------------------------------------------------------------------------- decoding


def is_constructed(tag: int) -> bool:
    """True when the identifier ``tag`` has the constructed bit (0x20 of its first octet)."""
    if tag < 0x100:
        return bool(tag & 0x20)
    return bool((tag >> (((tag.bit_length() - 1) // 8) * 8)) & 0x20)


def decode_tlv(data: Buffer, pos: int, end: int) -> tuple[int, int, int, int]:
    """Decode the element starting at ``pos`` and lying entirely before ``end``.

    Returns ``(tag, content_start, content_end, next_pos)``. For a definite length
    ``content_end == next_pos``; for an indefinite length ``content_end`` is the position of
    the end-of-contents ``00 00`` and ``next_pos`` the position after it.
    ``end`` must not exceed ``len(data)`` (:func:`iter_tlv` checks that once per level).
    """
    # The identifier and length decoding of decode_header() is repeated inline here on
    # purpose: this is the hot path of every decoder, and a call costs a quarter of it.
    try:
        if pos >= end:
            raise BerError("truncated BER tag", pos)
        tag = data[pos]
        p = pos + 1
        if tag & 0x1F == 0x1F:
            while True:
                if p >= end:
                    raise BerError("truncated BER multi-octet tag", p)
                b = data[p]
                tag = (tag << 8) | b
                p += 1
                if not b & 0x80:
                    break
                if p - pos >= MAX_TAG_OCTETS:
                    raise BerError(f"BER tag longer than {MAX_TAG_OCTETS} octets", pos)
        if p >= end:
            raise BerError("truncated BER length", p)
        length = data[p]
        p += 1
        if length < 0x80:
            ce = p + length
            if ce > end:
                raise BerError(
                    f"BER length {length} of tag 0x{tag:02X} exceeds the {end - p} octets left",
                    p - 1,
                )
            return tag, p, ce, ce
        if length == 0x80:
            return _decode_indefinite(data, pos, tag, p, end)
        n = length & 0x7F
        if n > _MAX_LENGTH_OCTETS:
            raise BerError(f"BER length of {n} octets (more than {_MAX_LENGTH_OCTETS})", p - 1)
        if p + n > end:
            raise BerError("truncated BER long-form length", p - 1)
        length = 0
        for i in range(p, p + n):
            length = (length << 8) | data[i]
        cs = p + n
        ce = cs + length
        if ce > end:
            raise BerError(
                f"BER length {length} of tag 0x{tag:02X} exceeds the {end - cs} octets left",
                p - 1,
            )
        return tag, cs, ce, ce
    except IndexError:
        raise BerError("BER element runs past the end of the buffer", len(data)) from None


def definite_span(data: Buffer, pos: int, end: int) -> tuple[int, int]:
    """``(content start, content end)`` of the definite length octets at ``pos`` (short
    form, or long form of one or two octets) when the content ends by ``end``; else
    ``(-1, -1)``. The cheap check of the fast paths, which leave anything else to
    :func:`decode_tlv`."""
    if pos >= end:
        return -1, -1
    first = data[pos]
    if first < 0x80:
        start, size = pos + 1, first
    elif first == 0x81 and pos + 1 < end:
        start, size = pos + 2, data[pos + 1]
    elif first == 0x82 and pos + 2 < end:
        start, size = pos + 3, (data[pos + 1] << 8) | data[pos + 2]
    else:
        return -1, -1
    stop = start + size
    return (start, stop) if stop <= end else (-1, -1)


def decode_header(data: Buffer, pos: int, end: int) -> tuple[int, int, int]:
    """Decode only the identifier and length octets at ``pos``.

    Returns ``(tag, content_start, length)`` with ``length == -1`` for an indefinite length.
    The content is not examined; a definite length is checked against ``end``.
    """
    if pos >= end:
        raise BerError("truncated BER tag", pos)
    tag = data[pos]
    p = pos + 1
    if tag & 0x1F == 0x1F:
        while True:
            if p >= end:
                raise BerError("truncated BER multi-octet tag", p)
            b = data[p]
            tag = (tag << 8) | b
            p += 1
            if not b & 0x80:
                break
            if p - pos >= MAX_TAG_OCTETS:
                raise BerError(f"BER tag longer than {MAX_TAG_OCTETS} octets", pos)
    if p >= end:
        raise BerError("truncated BER length", p)
    length = data[p]
    p += 1
    if length == 0x80:
        return tag, p, -1
    if length > 0x80:
        n = length & 0x7F
        if n > _MAX_LENGTH_OCTETS:
            raise BerError(f"BER length of {n} octets (more than {_MAX_LENGTH_OCTETS})", p - 1)
        if p + n > end:
            raise BerError("truncated BER long-form length", p - 1)
        length = 0
        for i in range(p, p + n):
            length = (length << 8) | data[i]
        p += n
    if p + length > end:
        raise BerError(
            f"BER length {length} of tag 0x{tag:02X} exceeds the {end - p} octets left", pos
        )
    return tag, p, length


def _decode_indefinite(
    data: Buffer, pos: int, tag: int, cs: int, end: int
) -> tuple[int, int, int, int]:
    """Find the end-of-contents of the indefinite-length element at ``pos`` (no recursion)."""
    if not is_constructed(tag):
        raise BerError(f"indefinite length on primitive tag 0x{tag:02X}", pos)
    q = cs
    depth = 1
    while True:
        if q + 1 < end and data[q] == 0 and data[q + 1] == 0:
            depth -= 1
            q += 2
            if depth == 0:
                return tag, cs, q - 2, q
            continue
        if q >= end:
            raise BerError(f"missing end-of-contents for tag 0x{tag:02X}", pos)
        inner_tag, inner_cs, length = decode_header(data, q, end)
        if length < 0:
            if not is_constructed(inner_tag):
                raise BerError(f"indefinite length on primitive tag 0x{inner_tag:02X}", q)
            depth += 1
            if depth > MAX_INDEFINITE_DEPTH:
                raise BerError("indefinite-length elements nested too deeply", q)
            q = inner_cs
        else:
            q = inner_cs + length


def iter_tlv(data: Buffer, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """Yield ``decode_tlv`` results for the elements filling ``[start, end)`` exactly."""
    if end > len(data):
        raise BerError("element runs past the end of the buffer", len(data))
    pos = start
    while pos < end:
        item = decode_tlv(data, pos, end)
        yield item
        pos = item[3]


def decode_integer(data: Buffer, start: int, end: int) -> int:
    """Signed value of INTEGER content octets ``data[start:end]``."""
    if end <= start:
        raise BerError("empty INTEGER content", start)
    if end > len(data):
        raise BerError("INTEGER runs past the end of the buffer", len(data))
    if end - start == 1:
        v = data[start]
        return v - 256 if v & 0x80 else v
    return int.from_bytes(data[start:end], "big", signed=True)


def decode_unsigned(data: Buffer, start: int, end: int) -> int:
    """Value of INTEGER content octets that must not be negative."""
    value = decode_integer(data, start, end)
    if value < 0:
        raise BerError(f"negative value {value} where an unsigned INTEGER is required", start)
    return value


def decode_boolean(data: Buffer, start: int, end: int) -> bool:
    """Value of BOOLEAN content octets (exactly one octet; any non-zero is true)."""
    if end - start != 1 or end > len(data):
        raise BerError(f"BOOLEAN content of {end - start} octets (expected 1)", start)
    return data[start] != 0


def decode_bit_string(data: Buffer, start: int, end: int) -> tuple[bytes, int]:
    """Primitive BIT STRING content: ``(octets, number_of_bits)``."""
    if end <= start or end > len(data):
        raise BerError("empty BIT STRING content", start)
    unused = data[start]
    if unused > 7 or (unused and end - start == 1):
        raise BerError(f"BIT STRING with {unused} unused bits", start)
    return bytes(data[start + 1 : end]), (end - start - 1) * 8 - unused


def decode_oid(data: Buffer, start: int, end: int) -> str:
    """Dotted form of OBJECT IDENTIFIER content octets ``data[start:end]``."""
    if end <= start:
        raise BerError("empty OBJECT IDENTIFIER content", start)
    if end > len(data):
        raise BerError("OBJECT IDENTIFIER runs past the end of the buffer", len(data))
    if data[end - 1] & 0x80:
        raise BerError("truncated OBJECT IDENTIFIER subidentifier", end - 1)
    arcs: list[int] = []
    value = 0
    for i in range(start, end):
        b = data[i]
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            if not arcs:
                if value < 80:
                    arcs.append(value // 40)
                    arcs.append(value % 40)
                else:
                    arcs.append(2)
                    arcs.append(value - 80)
            else:
                arcs.append(value)
            value = 0
    return ".".join(map(str, arcs))
