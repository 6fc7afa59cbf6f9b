"""The MMS ``Data`` value model and its BER codec, plus ``AccessResult`` and DataAccessError.

Every MMS Data alternative is a small tagged class so that the information that is not
implied by a Python value survives a round trip: the bit count of a bit string, the width of
a floating-point value, integer vs unsigned, a 4- vs 6-octet binary time.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeAlias

from adapters.tase2.asn1.ber import decode_oid, decode_tlv, encode_integer, encode_oid, tlv
from adapters.tase2.mms.errors import MmsDecodeError, MmsEncodeError
from adapters.tase2.mms.fields import Buffer, decode_visible, encode_visible, read_int

__all__ = [
    "MAX_DATA_DEPTH",
    "AccessResult",
    "Array",
    "Bcd",
    "BinaryTime",
    "BitString",
    "Boolean",
    "BooleanArray",
    "Data",
    "DataAccessError",
    "Float32",
    "Float64",
    "GeneralizedTime",
    "Integer",
    "MmsString",
    "ObjId",
    "OctetString",
    "Structure",
    "Unsigned",
    "UtcTime",
    "VisibleString",
    "decode_access_result",
    "decode_access_results",
    "decode_data",
    "decode_data_list",
    "encode_access_result",
    "encode_access_results",
    "encode_data",
    "encode_data_list",
]

MAX_DATA_DEPTH = 32
"""Deepest nesting of arrays/structures accepted by default (MMS peers negotiate ~10)."""

_MAX_OID_OCTETS = 128


class DataAccessError(IntEnum):
    """Per-variable failure code in Read/Write responses and InformationReports."""

    OBJECT_INVALIDATED = 0
    HARDWARE_FAULT = 1
    TEMPORARILY_UNAVAILABLE = 2
    OBJECT_ACCESS_DENIED = 3
    OBJECT_UNDEFINED = 4
    INVALID_ADDRESS = 5
    TYPE_UNSUPPORTED = 6
    TYPE_INCONSISTENT = 7
    OBJECT_ATTRIBUTE_INCONSISTENT = 8
    OBJECT_ACCESS_UNSUPPORTED = 9
    OBJECT_NON_EXISTENT = 10
    OBJECT_VALUE_INVALID = 11


# --------------------------------------------------------------------------- the model


@dataclass(slots=True, frozen=True)
class Array:
    """MMS array [1]: elements of one type."""

    items: tuple[Data, ...]


@dataclass(slots=True, frozen=True)
class Structure:
    """MMS structure [2]: components in type order, without names."""

    items: tuple[Data, ...]


@dataclass(slots=True, frozen=True)
class Boolean:
    """MMS boolean [3]."""

    value: bool


def _check_bits(nbits: int, data: bytes, what: str) -> None:
    """Raise MmsEncodeError unless ``data`` holds exactly ``nbits`` bits."""
    if nbits < 0 or len(data) != (nbits + 7) // 8:
        raise MmsEncodeError(f"{what} of {nbits} bits cannot be held in {len(data)} octets")


@dataclass(slots=True, frozen=True)
class BitString:
    """MMS bit-string [4] of exactly ``nbits`` bits; bit 0 is the MSB (0x80) of octet 0.

    Unused trailing bits of ``data`` are ignored when encoding and cleared when decoding.
    """

    nbits: int
    data: bytes

    def __post_init__(self) -> None:
        _check_bits(self.nbits, self.data, "bit string")

    @classmethod
    def from_bits(cls, nbits: int, set_bits: Iterable[int] = ()) -> BitString:
        """A bit string of ``nbits`` bits with the given ASN.1 bit numbers set."""
        buf = bytearray((nbits + 7) // 8)
        for n in set_bits:
            if not 0 <= n < nbits:
                raise MmsEncodeError(f"bit {n} outside a bit string of {nbits} bits")
            buf[n >> 3] |= 0x80 >> (n & 7)
        return cls(nbits, bytes(buf))

    def bit(self, n: int) -> bool:
        """Value of ASN.1 bit ``n`` (0 = most significant bit of the first octet)."""
        if not 0 <= n < self.nbits:
            raise IndexError(f"bit {n} outside a bit string of {self.nbits} bits")
        return bool(self.data[n >> 3] & (0x80 >> (n & 7)))

    def set_bits(self) -> list[int]:
        """ASN.1 numbers of the bits that are set."""
        return [n for n in range(self.nbits) if self.data[n >> 3] & (0x80 >> (n & 7))]


@dataclass(slots=True, frozen=True)
class Integer:
    """MMS integer [5] (signed; the declared width lives in the TypeSpecification)."""

    value: int


@dataclass(slots=True, frozen=True)
class Unsigned:
    """MMS unsigned [6] (non-negative)."""

    value: int


@dataclass(slots=True, frozen=True)
class Float32:
    """MMS floating-point [7], IEEE single (exponent width 8). Values are rounded to float32."""

    value: float


@dataclass(slots=True, frozen=True)
class Float64:
    """MMS floating-point [7], IEEE double (exponent width 11)."""

    value: float


@dataclass(slots=True, frozen=True)
class OctetString:
    """MMS octet-string [9]."""

    value: bytes


@dataclass(slots=True, frozen=True)
class VisibleString:
    """MMS visible-string [10] (ASCII on output; any octet accepted on input, as Latin-1)."""

    value: str


@dataclass(slots=True, frozen=True)
class GeneralizedTime:
    """MMS generalized-time [11], kept as its text."""

    value: str


@dataclass(slots=True, frozen=True)
class BinaryTime:
    """MMS binary-time [12]: milliseconds since midnight, plus days since 1984-01-01 or None."""

    ms: int
    days: int | None = None


@dataclass(slots=True, frozen=True)
class Bcd:
    """MMS bcd [13] (a non-negative integer)."""

    value: int


@dataclass(slots=True, frozen=True)
class BooleanArray:
    """MMS booleanArray [14]: a bit string of ``nbits`` booleans."""

    nbits: int
    data: bytes

    def __post_init__(self) -> None:
        _check_bits(self.nbits, self.data, "boolean array")


@dataclass(slots=True, frozen=True)
class ObjId:
    """MMS objId [15], dotted form."""

    value: str


@dataclass(slots=True, frozen=True)
class MmsString:
    """MMS MMSString [16] (UTF-8)."""

    value: str


@dataclass(slots=True, frozen=True)
class UtcTime:
    """MMS utc-time [17]: seconds since 1970, a 24-bit binary fraction and a quality octet.

    Quality bits: 0x80 leap second known, 0x40 clock failure, 0x20 not synchronised, low five
    bits = number of significant fraction bits.
    """

    seconds: int
    fraction: int = 0
    quality: int = 0

    @classmethod
    def from_timestamp(cls, t: float, quality: int = 0) -> UtcTime:
        """Build from POSIX seconds (the fraction is rounded to 2**-24 s)."""
        seconds = int(t // 1)
        fraction = round((t - seconds) * (1 << 24))
        if fraction >= 1 << 24:
            seconds, fraction = seconds + 1, 0
        return cls(seconds, fraction, quality)

    @property
    def timestamp(self) -> float:
        """POSIX seconds as a float."""
        return self.seconds + self.fraction / (1 << 24)


Data: TypeAlias = (
    Array
    | Structure
    | Boolean
    | BitString
    | Integer
    | Unsigned
    | Float32
    | Float64
    | OctetString
    | VisibleString
    | GeneralizedTime
    | BinaryTime
    | Bcd
    | BooleanArray
    | ObjId
    | MmsString
    | UtcTime
)
"""Any MMS Data value."""

AccessResult: TypeAlias = Data | DataAccessError
"""A Read/InformationReport result: the value, or why it could not be accessed."""


# --------------------------------------------------------------------------- encoding

_F32 = struct.Struct(">f")
_F64 = struct.Struct(">d")


def bits_content(nbits: int, data: bytes) -> bytes:
    """BIT STRING content octets: unused-bit count, then ``data`` with those bits cleared."""
    unused = (8 - nbits % 8) % 8
    if unused and data:
        return bytes((unused,)) + data[:-1] + bytes((data[-1] & (0xFF << unused) & 0xFF,))
    return bytes((unused,)) + data


def _enc_array(d: Array) -> bytes:
    return tlv(0xA1, b"".join([encode_data(x) for x in d.items]))


def _enc_structure(d: Structure) -> bytes:
    return tlv(0xA2, b"".join([encode_data(x) for x in d.items]))


def _enc_boolean(d: Boolean) -> bytes:
    return b"\x83\x01\xff" if d.value else b"\x83\x01\x00"


def _enc_bit_string(d: BitString) -> bytes:
    return tlv(0x84, bits_content(d.nbits, d.data))


def _enc_integer(d: Integer) -> bytes:
    return tlv(0x85, encode_integer(d.value))


def _enc_unsigned(d: Unsigned) -> bytes:
    if d.value < 0:
        raise MmsEncodeError(f"unsigned Data with negative value {d.value}")
    return tlv(0x86, encode_integer(d.value))


def _enc_float32(d: Float32) -> bytes:
    try:
        return b"\x87\x05\x08" + _F32.pack(d.value)
    except (OverflowError, struct.error):
        raise MmsEncodeError(f"{d.value!r} does not fit a 32-bit float") from None


def _enc_float64(d: Float64) -> bytes:
    return b"\x87\x09\x0b" + _F64.pack(d.value)


def _enc_octet_string(d: OctetString) -> bytes:
    return tlv(0x89, bytes(d.value))


def _enc_visible_string(d: VisibleString) -> bytes:
    return tlv(0x8A, encode_visible(d.value, "visible-string"))


def _enc_generalized_time(d: GeneralizedTime) -> bytes:
    return tlv(0x8B, encode_visible(d.value, "generalized-time"))


def _enc_binary_time(d: BinaryTime) -> bytes:
    if not 0 <= d.ms < 1 << 32:
        raise MmsEncodeError(f"binary-time milliseconds {d.ms} out of range")
    if d.days is None:
        return b"\x8c\x04" + d.ms.to_bytes(4, "big")
    if not 0 <= d.days < 1 << 16:
        raise MmsEncodeError(f"binary-time days {d.days} out of range")
    return b"\x8c\x06" + d.ms.to_bytes(4, "big") + d.days.to_bytes(2, "big")


def _enc_bcd(d: Bcd) -> bytes:
    if d.value < 0:
        raise MmsEncodeError(f"bcd Data with negative value {d.value}")
    return tlv(0x8D, encode_integer(d.value))


def _enc_boolean_array(d: BooleanArray) -> bytes:
    return tlv(0x8E, bits_content(d.nbits, d.data))


def _enc_obj_id(d: ObjId) -> bytes:
    try:
        return tlv(0x8F, encode_oid(d.value))
    except ValueError as exc:
        raise MmsEncodeError(str(exc)) from None


def _enc_mms_string(d: MmsString) -> bytes:
    return tlv(0x90, d.value.encode("utf-8"))


def _enc_utc_time(d: UtcTime) -> bytes:
    if not (0 <= d.seconds < 1 << 32 and 0 <= d.fraction < 1 << 24 and 0 <= d.quality < 256):
        raise MmsEncodeError(f"utc-time field out of range: {d}")
    return (
        b"\x91\x08"
        + d.seconds.to_bytes(4, "big")
        + d.fraction.to_bytes(3, "big")
        + bytes((d.quality,))
    )


_ENCODERS: dict[type, Callable[..., bytes]] = {
    Array: _enc_array,
    Structure: _enc_structure,
    Boolean: _enc_boolean,
    BitString: _enc_bit_string,
    Integer: _enc_integer,
    Unsigned: _enc_unsigned,
    Float32: _enc_float32,
    Float64: _enc_float64,
    OctetString: _enc_octet_string,
    VisibleString: _enc_visible_string,
    GeneralizedTime: _enc_generalized_time,
    BinaryTime: _enc_binary_time,
    Bcd: _enc_bcd,
    BooleanArray: _enc_boolean_array,
    ObjId: _enc_obj_id,
    MmsString: _enc_mms_string,
    UtcTime: _enc_utc_time,
}


def encode_data(value: Data) -> bytes:
    """BER encoding of one Data value (tag, length and content)."""
    encoder = _ENCODERS.get(type(value))
    if encoder is None:
        raise MmsEncodeError(f"not an MMS Data value: {value!r}")
    return encoder(value)


def encode_data_list(values: Iterable[Data]) -> bytes:
    """Concatenated encodings of ``values`` (the content of a SEQUENCE OF Data)."""
    return b"".join([encode_data(v) for v in values])


def encode_access_result(result: AccessResult) -> bytes:
    """One AccessResult: ``80 01 code`` for a DataAccessError, else the Data encoding."""
    if isinstance(result, DataAccessError):
        return bytes((0x80, 0x01, int(result)))
    return encode_data(result)


def encode_access_results(results: Iterable[AccessResult]) -> bytes:
    """Concatenated AccessResults (the content of a listOfAccessResult)."""
    return b"".join([encode_access_result(r) for r in results])


# --------------------------------------------------------------------------- decoding

_FIELD = "Data"


def read_bits(data: Buffer, cs: int, ce: int, what: str, field: str = _FIELD) -> tuple[int, bytes]:
    """BIT STRING content ``[cs, ce)`` -> ``(nbits, octets)`` with unused bits cleared."""
    if ce <= cs:
        raise MmsDecodeError(f"empty {what}", cs, field)
    unused = data[cs]
    if unused > 7 or (unused and ce - cs == 1):
        raise MmsDecodeError(f"{what} with {unused} unused bits", cs, field)
    body = bytes(data[cs + 1 : ce])
    if unused and body[-1] & ((1 << unused) - 1):
        body = body[:-1] + bytes((body[-1] & (0xFF << unused) & 0xFF,))
    return (ce - cs - 1) * 8 - unused, body


def _primitive(data: Buffer, tag: int, cs: int, ce: int) -> Data:
    n = ce - cs
    if tag == 0x87:
        if n == 5:
            if data[cs] != 8:
                raise MmsDecodeError(f"float32 with exponent width {data[cs]}", cs, _FIELD)
            return Float32(_F32.unpack_from(data, cs + 1)[0])
        if n == 9:
            if data[cs] != 11:
                raise MmsDecodeError(f"float64 with exponent width {data[cs]}", cs, _FIELD)
            return Float64(_F64.unpack_from(data, cs + 1)[0])
        raise MmsDecodeError(f"floating-point of {n} octets", cs, _FIELD)
    if tag == 0x85:
        return Integer(read_int(data, cs, ce, "Data integer"))
    if tag == 0x84:
        nbits, body = read_bits(data, cs, ce, "bit-string")
        return BitString(nbits, body)
    if tag == 0x83:
        if n != 1:
            raise MmsDecodeError(f"boolean of {n} octets", cs, _FIELD)
        return Boolean(data[cs] != 0)
    if tag == 0x86:
        # Liberal: a peer that forgot the leading 00 still means a non-negative value.
        if n > 32 or n == 0:
            raise MmsDecodeError(f"unsigned of {n} octets", cs, _FIELD)
        return Unsigned(int.from_bytes(data[cs:ce], "big"))
    if tag == 0x89:
        return OctetString(bytes(data[cs:ce]))
    if tag == 0x8A:
        return VisibleString(decode_visible(data, cs, ce))
    if tag == 0x91:
        if n != 8:
            raise MmsDecodeError(f"utc-time of {n} octets (expected 8)", cs, _FIELD)
        return UtcTime(
            int.from_bytes(data[cs : cs + 4], "big"),
            int.from_bytes(data[cs + 4 : cs + 7], "big"),
            data[cs + 7],
        )
    if tag == 0x8C:
        if n == 4:
            return BinaryTime(int.from_bytes(data[cs:ce], "big"))
        if n == 6:
            return BinaryTime(
                int.from_bytes(data[cs : cs + 4], "big"), int.from_bytes(data[cs + 4 : ce], "big")
            )
        raise MmsDecodeError(f"binary-time of {n} octets (expected 4 or 6)", cs, _FIELD)
    if tag == 0x8B:
        return GeneralizedTime(decode_visible(data, cs, ce))
    if tag == 0x8D:
        value = read_int(data, cs, ce, "Data bcd")
        if value < 0:
            raise MmsDecodeError("negative bcd", cs, _FIELD)
        return Bcd(value)
    if tag == 0x8E:
        nbits, body = read_bits(data, cs, ce, "booleanArray")
        return BooleanArray(nbits, body)
    if tag == 0x8F:
        if n > _MAX_OID_OCTETS:
            raise MmsDecodeError(f"objId of {n} octets", cs, _FIELD)
        return ObjId(decode_oid(data, cs, ce))
    if tag == 0x90:
        try:
            return MmsString(bytes(data[cs:ce]).decode("utf-8"))
        except UnicodeDecodeError:
            raise MmsDecodeError("MMSString is not UTF-8", cs, _FIELD) from None
    raise MmsDecodeError(f"unknown Data tag 0x{tag:02X}", cs, _FIELD)


def decode_data(
    data: Buffer, pos: int, end: int, max_depth: int = MAX_DATA_DEPTH
) -> tuple[Data, int]:
    """Decode one Data element at ``pos`` (before ``end``); returns ``(value, next_pos)``.

    Arrays and structures may nest at most ``max_depth`` levels.
    """
    tag, cs, ce, nxt = decode_tlv(data, pos, end)
    if tag == 0xA2 or tag == 0xA1:
        if max_depth <= 0:
            raise MmsDecodeError("Data nested too deeply", pos, _FIELD)
        items = decode_data_list(data, cs, ce, max_depth - 1)
        return (Structure(items) if tag == 0xA2 else Array(items)), nxt
    return _primitive(data, tag, cs, ce), nxt


def decode_data_list(
    data: Buffer, start: int, end: int, max_depth: int = MAX_DATA_DEPTH
) -> tuple[Data, ...]:
    """Decode the Data elements that exactly fill ``[start, end)``."""
    out: list[Data] = []
    pos = start
    while pos < end:
        value, pos = decode_data(data, pos, end, max_depth)
        out.append(value)
    return tuple(out)


def decode_access_result(
    data: Buffer, pos: int, end: int, max_depth: int = MAX_DATA_DEPTH
) -> tuple[AccessResult, int]:
    """Decode one AccessResult at ``pos``; returns ``(result, next_pos)``."""
    if pos < end and data[pos] == 0x80:
        _, cs, ce, nxt = decode_tlv(data, pos, end)
        code = read_int(data, cs, ce, "DataAccessError")
        try:
            return DataAccessError(code), nxt
        except ValueError:
            raise MmsDecodeError(f"unknown DataAccessError {code}", cs, _FIELD) from None
    return decode_data(data, pos, end, max_depth)


def decode_access_results(
    data: Buffer, start: int, end: int, max_depth: int = MAX_DATA_DEPTH
) -> tuple[AccessResult, ...]:
    """Decode the AccessResults that exactly fill ``[start, end)``."""
    out: list[AccessResult] = []
    pos = start
    while pos < end:
        result, pos = decode_access_result(data, pos, end, max_depth)
        out.append(result)
    return tuple(out)
