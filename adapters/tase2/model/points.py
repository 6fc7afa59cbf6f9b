"""TASE.2 indication points (IEC 60870-6-802 section 6.3), sans-IO: types, values, MMS form.

:class:`PointType` is each point type of section 6.3 with its exact MMS TypeSpecification
(component names included, as GetVariableAccessAttributes returns it), the point kinds it
can carry, an encoder ``PointValue -> Data`` (and a byte-level one for reports) and a
decoder ``Data -> DecodedPoint`` that the client reuses. Time stamps and COV counters are
here too.

Bit numbering follows ASN.1 (bit 0 = mask ``0x80`` of the first octet) throughout.
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, NamedTuple

from adapters.tase2.asn1.ber import encode_integer
from adapters.tase2.errors import RemoteError
from adapters.tase2.mms.data import (
    BitString,
    Data,
    Float32,
    Float64,
    Integer,
    Structure,
    Unsigned,
)
from adapters.tase2.mms.types import (
    BitStringType,
    FloatType,
    IntegerType,
    StructureComponent,
    StructureType,
    TypeSpecification,
    UnsignedType,
    VisibleStringType,
)
from gateway.points import GOOD, PointKind, PointValue, Quality

__all__ = [
    "GMT_BASED_S_TYPE",
    "SHAPE_TYPES",
    "TIME_STAMP_EXTENDED_TYPE",
    "DecodedPoint",
    "PartialPoint",
    "PointDecodeError",
    "PointType",
    "PointTypeInfo",
    "Role",
    "decode_point",
    "decode_role",
    "gmt_based_s",
    "identify_point_type",
    "point_type_info",
]

# --------------------------------------------------------------------------- base types

INT16: Final = IntegerType(16)
INT32: Final = IntegerType(32)
FLOAT32: Final = FloatType(32, 8)
FLAGS8: Final = BitStringType(8)
IDENTIFIER32: Final = VisibleStringType(-32)
"""VisibleString, variable length, at most 32 (``8A 01 E0``): TASE.2 identifiers."""

GMT_BASED_S_TYPE: Final = INT32
"""``GMTBasedS`` / ``Data_TimeStamp``: Integer32 seconds since 1970-01-01T00:00:00Z."""

TIME_STAMP_EXTENDED_TYPE: Final = StructureType(
    (StructureComponent("GMTBasedS", INT32), StructureComponent("Milliseconds", INT16))
)
"""``TimeStampExtended`` = {GMTBasedS Integer32, Milliseconds Integer16 (0-999)}."""

COV_COUNTER_TYPE: Final = UnsignedType(16)
"""``COV_Counter``: Unsigned16, bumped on every recorded change, wrapping."""

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
_F32_MAX: Final = struct.unpack(">f", b"\x7f\x7f\xff\xff")[0]


def gmt_based_s(ts: float) -> int:
    """POSIX seconds -> ``GMTBasedS`` (floor, clamped to the Integer32 range)."""
    s = math.floor(ts) if math.isfinite(ts) else 0
    return INT32_MIN if s < INT32_MIN else INT32_MAX if s > INT32_MAX else s


def _split_ms(ts: float) -> tuple[int, int]:
    """POSIX seconds -> (GMTBasedS, Milliseconds 0-999), rounded to the nearest millisecond."""
    if not math.isfinite(ts):
        return 0, 0
    s, ms = divmod(round(ts * 1000), 1000)
    if s < INT32_MIN:
        return INT32_MIN, 0
    if s > INT32_MAX:
        return INT32_MAX, 999
    return s, ms


# --------------------------------------------------------------------------- point types


class PointType(enum.StrEnum):
    """The TASE.2 indication point types (reference section 6.3); values are config names.

    Every member but one is named as in IEC 60870-6-802. ``DATA_STATEQ_STRUCT`` is the
    libtase2 form of Data_StateQ ({Value, Flags}); ``DATA_STATEQ`` is the SISCO form (the
    bare Data_State octet), which is what we send unless a bilateral table asks otherwise.
    """

    DATA_REAL = "Data_Real"
    DATA_STATE = "Data_State"
    DATA_DISCRETE = "Data_Discrete"
    DATA_FLAGS = "Data_Flags"
    DATA_REALQ = "Data_RealQ"
    DATA_STATEQ = "Data_StateQ"
    DATA_STATEQ_STRUCT = "Data_StateQ_Struct"
    DATA_DISCRETEQ = "Data_DiscreteQ"
    DATA_REALQ_TIMETAG = "Data_RealQTimeTag"
    DATA_STATEQ_TIMETAG = "Data_StateQTimeTag"
    DATA_DISCRETEQ_TIMETAG = "Data_DiscreteQTimeTag"
    DATA_REAL_EXTENDED = "Data_RealExtended"
    DATA_STATE_EXTENDED = "Data_StateExtended"
    DATA_DISCRETE_EXTENDED = "Data_DiscreteExtended"
    DATA_REALQ_TIMETAG_EXTENDED = "Data_RealQTimeTagExtended"
    DATA_STATEQ_TIMETAG_EXTENDED = "Data_StateQTimeTagExtended"
    DATA_DISCRETEQ_TIMETAG_EXTENDED = "Data_DiscreteQTimeTagExtended"

    @property
    def info(self) -> PointTypeInfo:
        """The type's description, encoders and decoder."""
        return _INFO[self]


class Role(enum.Enum):
    """What one component of a point type carries."""

    REAL = "real"  # Value: float32
    DISCRETE = "discrete"  # Value: Integer32
    STATE = "state"  # Data_State octet: state bits 0-1 + quality bits 2-7
    STATE_VALUE = "state_value"  # libtase2 StateQ Value: state bits only
    FLAGS = "flags"  # Data_Flags octet: quality only
    TS = "ts"  # GMTBasedS Integer32
    TSX = "tsx"  # TimeStampExtended
    COV = "cov"  # COV_Counter Unsigned16


_R = Role
_ROLE_NAME = {
    _R.REAL: "Value",
    _R.DISCRETE: "Value",
    _R.STATE_VALUE: "Value",
    _R.STATE: "Flags",
    _R.FLAGS: "Flags",
    _R.TS: "TimeStamp",
    _R.TSX: "TimeStamp",
    _R.COV: "COV",
}
_ROLE_TYPE: dict[Role, TypeSpecification] = {
    _R.REAL: FLOAT32,
    _R.DISCRETE: INT32,
    _R.STATE_VALUE: FLAGS8,
    _R.STATE: FLAGS8,
    _R.FLAGS: FLAGS8,
    _R.TS: GMT_BASED_S_TYPE,
    _R.TSX: TIME_STAMP_EXTENDED_TYPE,
    _R.COV: COV_COUNTER_TYPE,
}
# Largest AccessResult encoding of each role (tag, length, content).
_ROLE_MAX = {
    _R.REAL: 7,
    _R.DISCRETE: 6,
    _R.STATE_VALUE: 4,
    _R.STATE: 4,
    _R.FLAGS: 4,
    _R.TS: 6,
    _R.TSX: 12,
    _R.COV: 5,
}


class DecodedPoint(NamedTuple):
    """A point value decoded from MMS Data.

    ``value`` is None for Data_Flags (no value); ``quality`` is GOOD when the type carries no
    flags (Data_Real, Data_Discrete); ``ts`` (POSIX seconds) and ``cov`` are None when the
    type carries none. State values are the :class:`gateway.points.State` number (0-3).
    """

    value: float | int | None
    quality: Quality
    ts: float | None
    cov: int | None


class PointDecodeError(RemoteError, ValueError):
    """MMS Data that is not an instance of the expected (or of any) TASE.2 point type."""


# ---- component encoders (PointValue -> Data and PointValue -> bytes)


def _real(v: float | int) -> float:
    f = float(v)
    return math.copysign(math.inf, f) if abs(f) > _F32_MAX else f


def _discrete(v: float | int) -> int:
    try:
        i = int(v)
    except (ValueError, OverflowError):
        return 0
    return INT32_MIN if i < INT32_MIN else INT32_MAX if i > INT32_MAX else i


def _state_bits(v: float | int) -> int:
    try:
        s = int(v)
    except (ValueError, OverflowError):
        return 0xC0
    return (s << 6) if 0 <= s <= 3 else 0xC0  # out of range -> INVALID (3)


def _data_role(role: Role, pv: PointValue) -> Data:
    if role is _R.REAL:
        return Float32(_real(pv.value))
    if role is _R.DISCRETE:
        return Integer(_discrete(pv.value))
    if role is _R.STATE:
        return BitString(8, bytes((_state_bits(pv.value) | pv.quality,)))
    if role is _R.STATE_VALUE:
        return BitString(8, bytes((_state_bits(pv.value),)))
    if role is _R.FLAGS:
        return BitString(8, bytes((int(pv.quality),)))
    if role is _R.TS:
        return Integer(gmt_based_s(pv.ts))
    if role is _R.TSX:
        s, ms = _split_ms(pv.ts)
        return Structure((Integer(s), Integer(ms)))
    return Unsigned(pv.cov & 0xFFFF)


_PACK_F32 = struct.Struct(">f").pack


def _b_real(pv: PointValue) -> bytes:
    return b"\x87\x05\x08" + _PACK_F32(_real(pv.value))


def _b_discrete(pv: PointValue) -> bytes:
    c = encode_integer(_discrete(pv.value))
    return bytes((0x85, len(c))) + c


def _b_state(pv: PointValue) -> bytes:
    return bytes((0x84, 2, 0, _state_bits(pv.value) | pv.quality))


def _b_state_value(pv: PointValue) -> bytes:
    return bytes((0x84, 2, 0, _state_bits(pv.value)))


def _b_flags(pv: PointValue) -> bytes:
    return bytes((0x84, 2, 0, pv.quality))


def _b_ts(pv: PointValue) -> bytes:
    c = encode_integer(gmt_based_s(pv.ts))
    return bytes((0x85, len(c))) + c


def _b_tsx(pv: PointValue) -> bytes:
    s, ms = _split_ms(pv.ts)
    a = encode_integer(s)
    b = encode_integer(ms)
    return bytes((0xA2, len(a) + len(b) + 4, 0x85, len(a))) + a + bytes((0x85, len(b))) + b


def _b_cov(pv: PointValue) -> bytes:
    c = encode_integer(pv.cov & 0xFFFF)
    return bytes((0x86, len(c))) + c


_ROLE_BYTES: dict[Role, Callable[[PointValue], bytes]] = {
    _R.REAL: _b_real,
    _R.DISCRETE: _b_discrete,
    _R.STATE: _b_state,
    _R.STATE_VALUE: _b_state_value,
    _R.FLAGS: _b_flags,
    _R.TS: _b_ts,
    _R.TSX: _b_tsx,
    _R.COV: _b_cov,
}


_REALQ_TIMETAG = struct.Struct(">5sf2si3sB")
"""A Data_RealQTimeTag whose time stamp takes four octets (1970-04-08 .. 2038-01-19):
``A2 11 87 05 08 <f32> 85 04 <i32> 84 02 00 <flags>``."""
_RQT_HEAD, _RQT_TS, _RQT_FLAGS = b"\xa2\x11\x87\x05\x08", b"\x85\x04", b"\x84\x02\x00"
_FOUR_OCTETS = 1 << 23


def _realq_timetag_encoder(general: Callable[[PointValue], bytes]) -> Callable[[PointValue], bytes]:
    """The Data_RealQTimeTag encoder: one ``struct`` call in the usual case (what
    ``general`` gives, octet for octet), ``general`` for time stamps of another width."""
    pack = _REALQ_TIMETAG.pack

    def enc(pv: PointValue) -> bytes:
        ts = gmt_based_s(pv.ts)  # within Integer32: four octets unless |ts| < 2**23
        if ts >= _FOUR_OCTETS or ts < -_FOUR_OCTETS:
            return pack(_RQT_HEAD, _real(pv.value), _RQT_TS, ts, _RQT_FLAGS, pv.quality)
        return general(pv)

    return enc


def _bytes_encoder(roles: tuple[Role, ...], bare: bool) -> Callable[[PointValue], bytes]:
    """A precompiled PointValue -> AccessResult-bytes function for one layout."""
    parts = tuple(_ROLE_BYTES[r] for r in roles)
    if bare:
        return parts[0]
    if roles == (_R.REAL, _R.TS, _R.FLAGS):
        return _realq_timetag_encoder(_general_encoder(parts))
    return _general_encoder(parts)


def _general_encoder(
    parts: tuple[Callable[[PointValue], bytes], ...],
) -> Callable[[PointValue], bytes]:
    """Concatenated component encoders in a structure."""
    if len(parts) == 2:
        p0, p1 = parts

        def enc2(pv: PointValue) -> bytes:
            body = p0(pv) + p1(pv)
            return bytes((0xA2, len(body))) + body

        return enc2
    if len(parts) == 3:
        q0, q1, q2 = parts

        def enc3(pv: PointValue) -> bytes:
            body = q0(pv) + q1(pv) + q2(pv)
            return bytes((0xA2, len(body))) + body

        return enc3

    def encn(pv: PointValue) -> bytes:
        body = b"".join([p(pv) for p in parts])
        return bytes((0xA2, len(body))) + body

    return encn


# ---- component decoders


def _num(d: Data, what: str) -> int:
    if isinstance(d, Integer | Unsigned):
        return d.value
    raise PointDecodeError(f"{what}: expected an integer, got {type(d).__name__}")


def _octet(d: Data, what: str) -> int:
    if isinstance(d, BitString) and d.nbits >= 6 and d.data:
        return d.data[0]
    raise PointDecodeError(f"{what}: expected an 8-bit string, got {d!r}")


def _time(d: Data) -> float:
    """A TimeStamp component: GMTBasedS integer or TimeStampExtended structure."""
    if isinstance(d, Integer | Unsigned):
        return float(d.value)
    if isinstance(d, Structure) and len(d.items) == 2:
        return _num(d.items[0], "GMTBasedS") + _num(d.items[1], "Milliseconds") / 1000.0
    raise PointDecodeError(f"TimeStamp: expected GMTBasedS or TimeStampExtended, got {d!r}")


@dataclass(slots=True)
class PartialPoint:
    """A point value being decoded component by component."""

    value: float | int | None = None
    quality: Quality = GOOD
    ts: float | None = None
    cov: int | None = None


def decode_role(role: Role, d: Data, out: PartialPoint) -> None:
    """Decode one component ``d`` carrying ``role`` into ``out``; raises PointDecodeError."""
    if role is _R.REAL:
        if not isinstance(d, Float32 | Float64):
            raise PointDecodeError(f"Value: expected floating-point, got {d!r}")
        out.value = d.value
    elif role is _R.DISCRETE:
        out.value = _num(d, "Value")
    elif role is _R.STATE:
        octet = _octet(d, "Data_State")
        out.value = octet >> 6
        out.quality = Quality.from_flags(octet)
    elif role is _R.STATE_VALUE:
        out.value = _octet(d, "Value") >> 6
    elif role is _R.FLAGS:
        out.quality = Quality.from_flags(_octet(d, "Flags"))
    elif role is _R.TS or role is _R.TSX:
        out.ts = _time(d)
    else:
        out.cov = _num(d, "COV")


@dataclass(frozen=True, slots=True)
class PointTypeInfo:
    """One TASE.2 point type: its MMS type, the kinds it carries and its codecs.

    ``tase2_name`` is the name of 802 (``Data_StateQ`` for both StateQ forms). ``encode``
    builds the MMS Data for a bus value; ``encode_bytes`` produces the same AccessResult
    octets directly (the report hot path); ``max_size`` is the largest such encoding.
    """

    type: PointType
    tase2_name: str
    spec: TypeSpecification
    kinds: frozenset[PointKind]
    roles: tuple[Role, ...]
    bare: bool
    max_size: int
    encode_bytes: Callable[[PointValue], bytes]

    @property
    def has_quality(self) -> bool:
        """True when the type carries the quality flags."""
        return _R.FLAGS in self.roles or _R.STATE in self.roles

    @property
    def has_time(self) -> bool:
        """True when the type carries a time stamp."""
        return _R.TS in self.roles or _R.TSX in self.roles

    @property
    def has_milliseconds(self) -> bool:
        """True when the time stamp is a TimeStampExtended."""
        return _R.TSX in self.roles

    @property
    def has_cov(self) -> bool:
        """True when the type carries a COV counter."""
        return _R.COV in self.roles

    def encode(self, pv: PointValue) -> Data:
        """The MMS Data of ``pv`` in this type (values out of range are clamped)."""
        if self.bare:
            return _data_role(self.roles[0], pv)
        return Structure(tuple(_data_role(r, pv) for r in self.roles))

    def decode(self, data: Data) -> DecodedPoint:
        """Decode ``data`` as this type, liberally: TimeStamp as integer or extended, any
        integer width, float64 values, and both Data_StateQ shapes.

        Raises :class:`PointDecodeError` when the shape does not fit.
        """
        out = PartialPoint()
        roles = self.roles
        if self.type in _STATEQ_FORMS:
            roles = (_R.STATE,) if isinstance(data, BitString) else (_R.STATE_VALUE, _R.FLAGS)
            bare = isinstance(data, BitString)
        else:
            bare = self.bare
        if bare:
            decode_role(roles[0], data, out)
        else:
            if not isinstance(data, Structure) or len(data.items) != len(roles):
                raise PointDecodeError(
                    f"{self.tase2_name}: expected a structure of {len(roles)} components, "
                    f"got {data!r}"
                )
            for role, item in zip(roles, data.items, strict=True):
                decode_role(role, item, out)
        return DecodedPoint(out.value, out.quality, out.ts, out.cov)


_STATEQ_FORMS = (PointType.DATA_STATEQ, PointType.DATA_STATEQ_STRUCT)

_K_REAL = frozenset({PointKind.REAL})
_K_STATE = frozenset({PointKind.STATE})
_K_DISCRETE = frozenset({PointKind.DISCRETE})
_K_ANY = frozenset(PointKind)

_LAYOUTS: dict[PointType, tuple[str, frozenset[PointKind], bool, tuple[Role, ...]]] = {
    PointType.DATA_REAL: ("Data_Real", _K_REAL, True, (_R.REAL,)),
    PointType.DATA_STATE: ("Data_State", _K_STATE, True, (_R.STATE,)),
    PointType.DATA_DISCRETE: ("Data_Discrete", _K_DISCRETE, True, (_R.DISCRETE,)),
    PointType.DATA_FLAGS: ("Data_Flags", _K_ANY, True, (_R.FLAGS,)),
    PointType.DATA_REALQ: ("Data_RealQ", _K_REAL, False, (_R.REAL, _R.FLAGS)),
    PointType.DATA_STATEQ: ("Data_StateQ", _K_STATE, True, (_R.STATE,)),
    PointType.DATA_STATEQ_STRUCT: ("Data_StateQ", _K_STATE, False, (_R.STATE_VALUE, _R.FLAGS)),
    PointType.DATA_DISCRETEQ: ("Data_DiscreteQ", _K_DISCRETE, False, (_R.DISCRETE, _R.FLAGS)),
    PointType.DATA_REALQ_TIMETAG: (
        "Data_RealQTimeTag",
        _K_REAL,
        False,
        (_R.REAL, _R.TS, _R.FLAGS),
    ),
    PointType.DATA_STATEQ_TIMETAG: ("Data_StateQTimeTag", _K_STATE, False, (_R.TS, _R.STATE)),
    PointType.DATA_DISCRETEQ_TIMETAG: (
        "Data_DiscreteQTimeTag",
        _K_DISCRETE,
        False,
        (_R.DISCRETE, _R.TS, _R.FLAGS),
    ),
    PointType.DATA_REAL_EXTENDED: (
        "Data_RealExtended",
        _K_REAL,
        False,
        (_R.REAL, _R.TS, _R.FLAGS, _R.COV),
    ),
    PointType.DATA_STATE_EXTENDED: (
        "Data_StateExtended",
        _K_STATE,
        False,
        (_R.TS, _R.STATE, _R.COV),
    ),
    PointType.DATA_DISCRETE_EXTENDED: (
        "Data_DiscreteExtended",
        _K_DISCRETE,
        False,
        (_R.DISCRETE, _R.TS, _R.FLAGS, _R.COV),
    ),
    PointType.DATA_REALQ_TIMETAG_EXTENDED: (
        "Data_RealQTimeTagExtended",
        _K_REAL,
        False,
        (_R.REAL, _R.TSX, _R.FLAGS),
    ),
    PointType.DATA_STATEQ_TIMETAG_EXTENDED: (
        "Data_StateQTimeTagExtended",
        _K_STATE,
        False,
        (_R.TSX, _R.STATE),
    ),
    PointType.DATA_DISCRETEQ_TIMETAG_EXTENDED: (
        "Data_DiscreteQTimeTagExtended",
        _K_DISCRETE,
        False,
        (_R.DISCRETE, _R.TSX, _R.FLAGS),
    ),
}


def _build_info(ptype: PointType) -> PointTypeInfo:
    name, kinds, bare, roles = _LAYOUTS[ptype]
    spec: TypeSpecification
    if bare:
        spec = _ROLE_TYPE[roles[0]]
        size = _ROLE_MAX[roles[0]]
    else:
        spec = StructureType(tuple(StructureComponent(_ROLE_NAME[r], _ROLE_TYPE[r]) for r in roles))
        size = 2 + sum(_ROLE_MAX[r] for r in roles)  # content < 128 octets: short length
    return PointTypeInfo(ptype, name, spec, kinds, roles, bare, size, _bytes_encoder(roles, bare))


_INFO: dict[PointType, PointTypeInfo] = {t: _build_info(t) for t in PointType}


def point_type_info(ptype: PointType | str) -> PointTypeInfo:
    """The description of a point type, by member or config name (``"Data_RealQ"``)."""
    return _INFO[PointType(ptype)]


def identify_point_type(data: Data) -> PointType | None:
    """Guess the point type of ``data`` from its shape alone, or None if none fits.

    Ambiguities are resolved as follows (pass the type learnt from
    GetVariableAccessAttributes to :func:`decode_point` to avoid them): a bare 8-bit string
    is taken as Data_State (not Data_Flags); ``{integer, 8-bit string}`` is taken as
    Data_DiscreteQ (not Data_StateQTimeTag).
    """
    if isinstance(data, Float32 | Float64):
        return PointType.DATA_REAL
    if isinstance(data, Integer | Unsigned):
        return PointType.DATA_DISCRETE
    if isinstance(data, BitString):
        return PointType.DATA_STATE if data.nbits == 8 else None
    if not isinstance(data, Structure):
        return None
    shape = tuple(_shape(d) for d in data.items)
    return SHAPE_TYPES.get(shape)


def _shape(d: Data) -> str:
    if isinstance(d, Float32 | Float64):
        return "F"
    if isinstance(d, Integer):
        return "I"
    if isinstance(d, Unsigned):
        return "U"
    if isinstance(d, BitString) and d.nbits == 8:
        return "B"
    if (
        isinstance(d, Structure)
        and len(d.items) == 2
        and all(isinstance(x, Integer | Unsigned) for x in d.items)
    ):
        return "X"
    return "?"


SHAPE_TYPES: Final[dict[tuple[str, ...], PointType]] = {
    ("F", "B"): PointType.DATA_REALQ,
    ("I", "B"): PointType.DATA_DISCRETEQ,
    ("B", "B"): PointType.DATA_STATEQ_STRUCT,
    ("X", "B"): PointType.DATA_STATEQ_TIMETAG_EXTENDED,
    ("F", "I", "B"): PointType.DATA_REALQ_TIMETAG,
    ("I", "I", "B"): PointType.DATA_DISCRETEQ_TIMETAG,
    ("F", "X", "B"): PointType.DATA_REALQ_TIMETAG_EXTENDED,
    ("I", "X", "B"): PointType.DATA_DISCRETEQ_TIMETAG_EXTENDED,
    ("I", "B", "U"): PointType.DATA_STATE_EXTENDED,
    ("X", "B", "U"): PointType.DATA_STATE_EXTENDED,
    ("F", "I", "B", "U"): PointType.DATA_REAL_EXTENDED,
    ("F", "X", "B", "U"): PointType.DATA_REAL_EXTENDED,
    ("I", "I", "B", "U"): PointType.DATA_DISCRETE_EXTENDED,
    ("I", "X", "B", "U"): PointType.DATA_DISCRETE_EXTENDED,
}
"""Point type of each structure shape, one letter per component: F float, I integer,
U unsigned, B 8-bit string, X a TimeStampExtended {integer, integer}."""


def decode_point(data: Data, expected: PointType | None = None) -> DecodedPoint:
    """Decode a point value: as ``expected`` when given, else by shape.

    Liberal in what it accepts (see :meth:`PointTypeInfo.decode`). Raises
    :class:`PointDecodeError` when ``data`` is no TASE.2 point value.
    """
    ptype = expected if expected is not None else identify_point_type(data)
    if ptype is None:
        raise PointDecodeError(f"not a TASE.2 point value: {data!r}")
    return _INFO[ptype].decode(data)
