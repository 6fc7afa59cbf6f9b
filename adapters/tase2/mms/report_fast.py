"""Fast path for InformationReports of Data_RealQTimeTag points, column-oriented.

A Data_RealQTimeTag point is ``{Value float32, TimeStamp Integer32 (GMTBasedS), Flags
BIT STRING(8)}``; on the wire ``A2 L 87 05 08 <f32> 85 n <ts> 84 02 00 <flags>``. When every
time stamp needs exactly four octets (1970-04-08 .. 2038-01-19, the normal case) each point
is 19 octets at a fixed stride, and the whole run is packed or unpacked with a handful of
C-level ``struct`` and extended-slice operations instead of one Python object per field.
Anything else (other time stamp widths, long-form lengths, non-minimal integers, access
errors, other shapes) takes a per-point path built on the general codec, so the output is
always byte-identical to :func:`~adapters.tase2.mms.pdu.encode_pdu` of the equivalent
:class:`~adapters.tase2.mms.services.InformationReport`.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.tase2.asn1.ber import decode_tlv, encode_integer, tlv
from adapters.tase2.mms.access import VariableAccessSpecification, encode_variable_access_spec
from adapters.tase2.mms.access import decode_variable_access_spec as _decode_spec
from adapters.tase2.mms.data import (
    AccessResult,
    BitString,
    Float32,
    Integer,
    Structure,
    decode_access_result,
    encode_access_results,
)
from adapters.tase2.mms.errors import MmsDecodeError, MmsEncodeError
from adapters.tase2.mms.fields import Buffer

__all__ = [
    "RealQTimeTagColumns",
    "RealQTimeTagReport",
    "columns_to_results",
    "decode_realq_timetag_report",
    "decode_realq_timetag_results",
    "encode_realq_timetag_report",
    "encode_realq_timetag_results",
]

_STRIDE = 19
_TEMPLATE = b"\xa2\x11\x87\x05\x08\0\0\0\0\x85\x04\0\0\0\0\x84\x02\x00\0"
_FIXED = tuple((i, _TEMPLATE[i]) for i in (0, 1, 2, 3, 4, 9, 10, 15, 16, 17))
_ITEM = struct.Struct(">5xf2xi3xB")
_F32 = struct.Struct(">f")
_LOW4 = 1 << 23
_HIGH4 = 1 << 31


@dataclass(slots=True, frozen=True)
class RealQTimeTagColumns:
    """Data_RealQTimeTag points as columns: float values, GMTBasedS seconds, flag octets."""

    values: Sequence[float]
    timestamps: Sequence[int]
    flags: Sequence[int]


@dataclass(slots=True, frozen=True)
class RealQTimeTagReport:
    """A decoded report: its variable specification, leading general results, the points."""

    spec: VariableAccessSpecification
    prefix: tuple[AccessResult, ...]
    points: RealQTimeTagColumns


def _four_octets(timestamps: Sequence[int]) -> bool:
    """True when every time stamp's minimal two's complement encoding is four octets."""
    if not timestamps:
        return True
    lo, hi = min(timestamps), max(timestamps)
    if lo >= _LOW4:
        return hi < _HIGH4
    if hi < -_LOW4:
        return lo >= -_HIGH4
    return False


def _encode_points_slow(
    values: Sequence[float], timestamps: Sequence[int], flags: Sequence[int]
) -> bytes:
    out = []
    pack = _F32.pack
    for value, ts, flag in zip(values, timestamps, flags, strict=True):
        tsb = encode_integer(ts)
        if not 0 <= flag < 256:
            raise MmsEncodeError(f"flags {flag} is not an octet")
        try:
            fv = pack(value)
        except (OverflowError, struct.error):
            raise MmsEncodeError(f"{value!r} does not fit a 32-bit float") from None
        body = b"\x87\x05\x08" + fv + tlv(0x85, tsb) + bytes((0x84, 2, 0, flag))
        out.append(tlv(0xA2, body))
    return b"".join(out)


def encode_realq_timetag_results(
    values: Sequence[float], timestamps: Sequence[int], flags: Sequence[int]
) -> bytes:
    """Concatenated AccessResults of Data_RealQTimeTag points given as three columns."""
    n = len(values)
    if len(timestamps) != n or len(flags) != n:
        raise MmsEncodeError("values, timestamps and flags differ in length")
    if not _four_octets(timestamps):
        return _encode_points_slow(values, timestamps, flags)
    try:
        fl = bytes(flags)
        fv = struct.pack(f">{n}f", *values)
        tv = struct.pack(f">{n}i", *timestamps)
    except (ValueError, OverflowError, struct.error, TypeError):
        return _encode_points_slow(values, timestamps, flags)
    buf = bytearray(_TEMPLATE * n)
    buf[5::_STRIDE] = fv[0::4]
    buf[6::_STRIDE] = fv[1::4]
    buf[7::_STRIDE] = fv[2::4]
    buf[8::_STRIDE] = fv[3::4]
    buf[11::_STRIDE] = tv[0::4]
    buf[12::_STRIDE] = tv[1::4]
    buf[13::_STRIDE] = tv[2::4]
    buf[14::_STRIDE] = tv[3::4]
    buf[18::_STRIDE] = fl
    return bytes(buf)


def encode_realq_timetag_report(
    spec: VariableAccessSpecification,
    values: Sequence[float],
    timestamps: Sequence[int],
    flags: Sequence[int],
    prefix: Sequence[AccessResult] = (),
) -> bytes:
    """A complete unconfirmed InformationReport PDU: ``prefix`` results, then the points.

    ``prefix`` carries leading data-set members of other types (Transfer_Set_Name,
    DSConditions_Detected, ...), encoded by the general codec.
    """
    results = encode_access_results(prefix) + encode_realq_timetag_results(
        values, timestamps, flags
    )
    return tlv(0xA3, tlv(0xA0, encode_variable_access_spec(spec) + tlv(0xA0, results)))


def columns_to_results(points: RealQTimeTagColumns) -> tuple[Structure, ...]:
    """The general-model equivalent of ``points`` (one Structure per point)."""
    return tuple(
        Structure((Float32(v), Integer(t), BitString(8, bytes((f,)))))
        for v, t, f in zip(points.values, points.timestamps, points.flags, strict=True)
    )


def _decode_points_slow(data: Buffer, start: int, end: int) -> RealQTimeTagColumns | None:
    values: list[float] = []
    timestamps: list[int] = []
    flags: list[int] = []
    pos = start
    while pos < end:
        result, pos = decode_access_result(data, pos, end)
        if not isinstance(result, Structure) or len(result.items) != 3:
            return None
        value, ts, flag = result.items
        if not (
            isinstance(value, Float32)
            and isinstance(ts, Integer)
            and isinstance(flag, BitString)
            and flag.nbits == 8
        ):
            return None
        values.append(value.value)
        timestamps.append(ts.value)
        flags.append(flag.data[0])
    return RealQTimeTagColumns(values, timestamps, flags)


def decode_realq_timetag_results(data: Buffer, start: int, end: int) -> RealQTimeTagColumns | None:
    """Decode AccessResults filling ``[start, end)`` that are all Data_RealQTimeTag points.

    Returns None when the results are valid MMS but not all of that shape (use the general
    decoder then); malformed input raises :class:`MmsDecodeError`.
    """
    size = end - start
    if size % _STRIDE == 0 and end <= len(data):
        n = size // _STRIDE
        block = bytes(data[start:end])
        if all(block[i::_STRIDE] == bytes((b,)) * n for i, b in _FIXED):
            values, timestamps, flags = (
                zip(*_ITEM.iter_unpack(block), strict=True) if n else ((), (), ())
            )
            return RealQTimeTagColumns(values, timestamps, flags)
    return _decode_points_slow(data, start, end)


def decode_realq_timetag_report(
    data: Buffer, prefix_count: int = 0, start: int = 0, end: int | None = None
) -> RealQTimeTagReport | None:
    """Decode an InformationReport PDU whose results after ``prefix_count`` are all points.

    The first ``prefix_count`` results are decoded by the general codec. Returns None when
    the PDU is a valid report of another shape; raises :class:`MmsDecodeError` when it is
    not a valid InformationReport.
    """
    f = "InformationReport"
    stop = len(data) if end is None else end
    tag, cs, ce, nxt = decode_tlv(data, start, stop)
    if tag != 0xA3 or nxt != stop:
        raise MmsDecodeError("not an unconfirmed PDU", start, f)
    tag, rcs, rce, _ = decode_tlv(data, cs, ce)
    if tag != 0xA0:
        return None
    spec, p = _decode_spec(data, rcs, rce)
    tag, lcs, lce, _ = decode_tlv(data, p, rce)
    if tag != 0xA0:
        raise MmsDecodeError("missing listOfAccessResult [0]", p, f)
    prefix: list[AccessResult] = []
    q = lcs
    for _ in range(prefix_count):
        if q >= lce:
            return None
        result, q = decode_access_result(data, q, lce)
        prefix.append(result)
    points = decode_realq_timetag_results(data, q, lce)
    if points is None:
        return None
    return RealQTimeTagReport(spec, tuple(prefix), points)
