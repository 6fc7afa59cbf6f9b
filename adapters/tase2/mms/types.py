"""MMS TypeSpecification model and codec (GetVariableAccessAttributes), plus type checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from adapters.tase2.asn1.ber import decode_tlv, encode_integer, tlv
from adapters.tase2.mms.data import (
    Array,
    Bcd,
    BinaryTime,
    BitString,
    Boolean,
    Data,
    Float32,
    Float64,
    GeneralizedTime,
    Integer,
    MmsString,
    ObjId,
    OctetString,
    Structure,
    Unsigned,
    UtcTime,
    VisibleString,
)
from adapters.tase2.mms.errors import MmsDecodeError, MmsEncodeError
from adapters.tase2.mms.fields import (
    Buffer,
    decode_visible,
    encode_visible,
    read_bool,
    read_int,
    read_uint,
)
from adapters.tase2.mms.names import ObjectName, decode_object_name, encode_object_name

__all__ = [
    "MAX_TYPE_DEPTH",
    "ArrayType",
    "BcdType",
    "BinaryTimeType",
    "BitStringType",
    "BooleanType",
    "FloatType",
    "GeneralizedTimeType",
    "IntegerType",
    "MmsStringType",
    "ObjIdType",
    "OctetStringType",
    "StructureComponent",
    "StructureType",
    "TypeName",
    "TypeSpecification",
    "UnsignedType",
    "UtcTimeType",
    "VisibleStringType",
    "conforms",
    "decode_type_spec",
    "encode_type_spec",
]

MAX_TYPE_DEPTH = 32
"""Deepest nesting of array/structure type descriptions accepted."""


@dataclass(slots=True, frozen=True)
class TypeName:
    """typeName [0]: a reference to a named type (not used by TASE.2)."""

    name: ObjectName


@dataclass(slots=True, frozen=True)
class ArrayType:
    """array [1]: ``count`` elements of ``element``."""

    count: int
    element: TypeSpecification
    packed: bool = False


@dataclass(slots=True, frozen=True)
class StructureComponent:
    """One component of a structure type; ``name`` is optional in MMS."""

    name: str | None
    type: TypeSpecification


@dataclass(slots=True, frozen=True)
class StructureType:
    """structure [2]: named components in wire order."""

    components: tuple[StructureComponent, ...]
    packed: bool = False


@dataclass(slots=True, frozen=True)
class BooleanType:
    """boolean [3]."""


@dataclass(slots=True, frozen=True)
class BitStringType:
    """bit-string [4]: ``size`` bits; a negative size means variable length, at most -size."""

    size: int


@dataclass(slots=True, frozen=True)
class IntegerType:
    """integer [5] of ``width`` bits (8, 16, 32, 64)."""

    width: int


@dataclass(slots=True, frozen=True)
class UnsignedType:
    """unsigned [6] of ``width`` bits."""

    width: int


@dataclass(slots=True, frozen=True)
class FloatType:
    """floating-point [7]: format width (total bits) and exponent width."""

    format_width: int = 32
    exponent_width: int = 8


@dataclass(slots=True, frozen=True)
class OctetStringType:
    """octet-string [9]: ``size`` octets (negative = variable, at most -size)."""

    size: int


@dataclass(slots=True, frozen=True)
class VisibleStringType:
    """visible-string [10]: ``size`` characters (negative = variable, at most -size)."""

    size: int


@dataclass(slots=True, frozen=True)
class GeneralizedTimeType:
    """generalized-time [11]."""


@dataclass(slots=True, frozen=True)
class BinaryTimeType:
    """binary-time [12]; ``with_date`` selects the 6-octet form."""

    with_date: bool


@dataclass(slots=True, frozen=True)
class BcdType:
    """bcd [13] of ``digits`` digits."""

    digits: int


@dataclass(slots=True, frozen=True)
class ObjIdType:
    """objId [15]."""


@dataclass(slots=True, frozen=True)
class MmsStringType:
    """MMSString [16]: ``size`` characters (negative = variable)."""

    size: int


@dataclass(slots=True, frozen=True)
class UtcTimeType:
    """utc-time [17]."""


TypeSpecification: TypeAlias = (
    TypeName
    | ArrayType
    | StructureType
    | BooleanType
    | BitStringType
    | IntegerType
    | UnsignedType
    | FloatType
    | OctetStringType
    | VisibleStringType
    | GeneralizedTimeType
    | BinaryTimeType
    | BcdType
    | ObjIdType
    | MmsStringType
    | UtcTimeType
)
"""Any MMS type description."""

_SIZED: dict[type, int] = {
    BitStringType: 0x84,
    OctetStringType: 0x89,
    VisibleStringType: 0x8A,
    MmsStringType: 0x90,
}
_EMPTY: dict[type, bytes] = {
    BooleanType: b"\x83\x00",
    GeneralizedTimeType: b"\x8b\x00",
    ObjIdType: b"\x8f\x00",
    UtcTimeType: b"\x91\x00",
}


def _u8(value: int, what: str) -> bytes:
    if not 0 <= value < 256:
        raise MmsEncodeError(f"{what} {value} is not an Unsigned8")
    return encode_integer(value)


def encode_type_spec(spec: TypeSpecification) -> bytes:
    """BER encoding of a TypeSpecification."""
    kind = type(spec)
    empty = _EMPTY.get(kind)
    if empty is not None:
        return empty
    if isinstance(spec, StructureType):
        comps = []
        for c in spec.components:
            body = b"" if c.name is None else tlv(0x80, encode_visible(c.name, "componentName"))
            comps.append(tlv(0x30, body + tlv(0xA1, encode_type_spec(c.type))))
        packed = b"\x80\x01\xff" if spec.packed else b""
        return tlv(0xA2, packed + tlv(0xA1, b"".join(comps)))
    if isinstance(spec, ArrayType):
        if spec.count < 0:
            raise MmsEncodeError(f"array of {spec.count} elements")
        packed = b"\x80\x01\xff" if spec.packed else b""
        return tlv(
            0xA1,
            packed
            + tlv(0x81, encode_integer(spec.count))
            + tlv(0xA2, encode_type_spec(spec.element)),
        )
    if isinstance(spec, BitStringType | OctetStringType | VisibleStringType | MmsStringType):
        return tlv(_SIZED[kind], encode_integer(spec.size))
    if isinstance(spec, IntegerType):
        return tlv(0x85, _u8(spec.width, "integer width"))
    if isinstance(spec, UnsignedType):
        return tlv(0x86, _u8(spec.width, "unsigned width"))
    if isinstance(spec, FloatType):
        return tlv(
            0xA7,
            tlv(0x02, _u8(spec.format_width, "format width"))
            + tlv(0x02, _u8(spec.exponent_width, "exponent width")),
        )
    if isinstance(spec, BinaryTimeType):
        return b"\x8c\x01\xff" if spec.with_date else b"\x8c\x01\x00"
    if isinstance(spec, BcdType):
        return tlv(0x8D, _u8(spec.digits, "bcd digits"))
    if isinstance(spec, TypeName):
        return tlv(0xA0, encode_object_name(spec.name))
    raise MmsEncodeError(f"not a TypeSpecification: {spec!r}")


_F = "TypeSpecification"


def _dec_structure(data: Buffer, cs: int, ce: int, depth: int) -> StructureType:
    packed = False
    p = cs
    tag, ccs, cce, p = decode_tlv(data, p, ce)
    if tag == 0x80:
        packed = read_bool(data, ccs, cce, "structure packed")
        tag, ccs, cce, p = decode_tlv(data, p, ce)
    if tag != 0xA1 or p != ce:
        raise MmsDecodeError("structure without its components [1]", ccs, _F)
    comps: list[StructureComponent] = []
    q = ccs
    while q < cce:
        stag, scs, sce, q = decode_tlv(data, q, cce)
        if stag != 0x30:
            raise MmsDecodeError(f"structure component tag 0x{stag:02X}", scs, _F)
        name: str | None = None
        t, tcs, tce, r = decode_tlv(data, scs, sce)
        if t == 0x80:
            name = decode_visible(data, tcs, tce)
            t, tcs, tce, r = decode_tlv(data, r, sce)
        if t != 0xA1 or r != sce:
            raise MmsDecodeError("structure component without componentType [1]", tcs, _F)
        ctype, r = decode_type_spec(data, tcs, tce, depth - 1)
        if r != tce:
            raise MmsDecodeError("extra octets after componentType", r, _F)
        comps.append(StructureComponent(name, ctype))
    return StructureType(tuple(comps), packed)


def _dec_array(data: Buffer, cs: int, ce: int, depth: int) -> ArrayType:
    packed = False
    tag, acs, ace, p = decode_tlv(data, cs, ce)
    if tag == 0x80:
        packed = read_bool(data, acs, ace, "array packed")
        tag, acs, ace, p = decode_tlv(data, p, ce)
    if tag != 0x81:
        raise MmsDecodeError("array without numberOfElements [1]", acs, _F)
    count = read_uint(data, acs, ace, "numberOfElements")
    tag, ecs, ece, p = decode_tlv(data, p, ce)
    if tag != 0xA2 or p != ce:
        raise MmsDecodeError("array without elementType [2]", ecs, _F)
    element, r = decode_type_spec(data, ecs, ece, depth - 1)
    if r != ece:
        raise MmsDecodeError("extra octets after elementType", r, _F)
    return ArrayType(count, element, packed)


def _small(data: Buffer, cs: int, ce: int, what: str) -> int:
    value = read_uint(data, cs, ce, what)
    if value > 255:
        raise MmsDecodeError(f"{what} {value} is not an Unsigned8", cs, _F)
    return value


def decode_type_spec(
    data: Buffer, pos: int, end: int, depth: int = MAX_TYPE_DEPTH
) -> tuple[TypeSpecification, int]:
    """Decode the TypeSpecification at ``pos``; returns ``(spec, next_pos)``."""
    tag, cs, ce, nxt = decode_tlv(data, pos, end)
    if tag in (0xA1, 0xA2):
        if depth <= 0:
            raise MmsDecodeError("type nested too deeply", pos, _F)
        if tag == 0xA2:
            return _dec_structure(data, cs, ce, depth), nxt
        return _dec_array(data, cs, ce, depth), nxt
    spec: TypeSpecification
    if tag == 0x83:
        spec = BooleanType()
    elif tag == 0x84:
        spec = BitStringType(read_int(data, cs, ce, "bit-string size"))
    elif tag == 0x85:
        spec = IntegerType(_small(data, cs, ce, "integer width"))
    elif tag == 0x86:
        spec = UnsignedType(_small(data, cs, ce, "unsigned width"))
    elif tag == 0xA7:
        t1, c1, e1, p = decode_tlv(data, cs, ce)
        t2, c2, e2, p = decode_tlv(data, p, ce)
        if t1 != 0x02 or t2 != 0x02 or p != ce:
            raise MmsDecodeError("malformed floating-point type", cs, _F)
        spec = FloatType(_small(data, c1, e1, "format width"), _small(data, c2, e2, "exp width"))
    elif tag == 0x89:
        spec = OctetStringType(read_int(data, cs, ce, "octet-string size"))
    elif tag == 0x8A:
        spec = VisibleStringType(read_int(data, cs, ce, "visible-string size"))
    elif tag == 0x8B:
        spec = GeneralizedTimeType()
    elif tag == 0x8C:
        spec = BinaryTimeType(read_bool(data, cs, ce, "binary-time"))
    elif tag == 0x8D:
        spec = BcdType(_small(data, cs, ce, "bcd digits"))
    elif tag == 0x8F:
        spec = ObjIdType()
    elif tag == 0x90:
        spec = MmsStringType(read_int(data, cs, ce, "MMSString size"))
    elif tag == 0x91:
        spec = UtcTimeType()
    elif tag == 0xA0:
        name, p = decode_object_name(data, cs, ce)
        if p != ce:
            raise MmsDecodeError("extra octets after typeName", p, _F)
        spec = TypeName(name)
    else:
        raise MmsDecodeError(f"unknown TypeSpecification tag 0x{tag:02X}", pos, _F)
    return spec, nxt


_SIMPLE: dict[type, type] = {
    BooleanType: Boolean,
    GeneralizedTimeType: GeneralizedTime,
    BcdType: Bcd,
    ObjIdType: ObjId,
    UtcTimeType: UtcTime,
}
"""Spec types whose instances are recognised by their Data class alone."""


def _fits_size(size: int, n: int) -> bool:
    return n == size if size >= 0 else n <= -size


def conforms(value: Data, spec: TypeSpecification) -> bool:
    """True when ``value`` is a valid instance of ``spec`` (typeName references never match)."""
    if isinstance(spec, StructureType):
        return (
            isinstance(value, Structure)
            and len(value.items) == len(spec.components)
            and all(conforms(v, c.type) for v, c in zip(value.items, spec.components, strict=True))
        )
    if isinstance(spec, ArrayType):
        return (
            isinstance(value, Array)
            and len(value.items) == spec.count
            and all(conforms(v, spec.element) for v in value.items)
        )
    if isinstance(spec, IntegerType):
        half = 1 << (spec.width - 1) if spec.width else 0
        return isinstance(value, Integer) and -half <= value.value < half
    if isinstance(spec, UnsignedType):
        return isinstance(value, Unsigned) and 0 <= value.value < 1 << spec.width
    if isinstance(spec, FloatType):
        if spec.format_width == 32:
            return isinstance(value, Float32)
        return isinstance(value, Float64) if spec.format_width == 64 else False
    if isinstance(spec, BitStringType):
        return isinstance(value, BitString) and _fits_size(spec.size, value.nbits)
    if isinstance(spec, OctetStringType):
        return isinstance(value, OctetString) and _fits_size(spec.size, len(value.value))
    if isinstance(spec, VisibleStringType):
        return isinstance(value, VisibleString) and _fits_size(spec.size, len(value.value))
    if isinstance(spec, MmsStringType):
        return isinstance(value, MmsString) and _fits_size(spec.size, len(value.value))
    if isinstance(spec, BinaryTimeType):
        return isinstance(value, BinaryTime) and (value.days is not None) == spec.with_date
    expected = _SIMPLE.get(type(spec))
    return expected is not None and isinstance(value, expected)
