"""Publish responses read straight into rows, for the data changes that make up nearly all of
them (sans-IO).

asyncua decodes each notification of a publish response into objects (a
MonitoredItemNotification, a DataValue, a Variant, two datetimes): most of the client's cost of
a data change. `decode_publish` reads the response's binary encoding (OPC UA Part 6: the
PublishResponse, its NotificationMessage and the DataChangeNotifications in it) into one
`DataRows` per DataChangeNotification: (client handle, raw value, StatusCode, source time in
POSIX seconds or None), what the session applies to the bus. The response header is decoded
by asyncua.

Only the common shape is read here: NotificationData that holds DataChangeNotifications only,
whose values are null or a scalar of a built-in number type (Boolean to Double), without
picoseconds or diagnostic infos. For anything else (a status change, a string or an array
value, ...) `decode_publish` returns None and the caller decodes the response with asyncua, so
whatever is not read here is read exactly as asyncua reads it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.ua_binary import nodeid_from_binary, struct_from_binary
from asyncua.ua.uatypes import MAX_OPC_FILETIME

Row = tuple[int, Any, int, float | None]
"""One data change: client handle, raw value (None: null), StatusCode, source time (POSIX s)."""

_UINT32 = struct.Struct("<I")
_INT32 = struct.Struct("<i")
_INT64 = struct.Struct("<q")
_HANDLE_MASK = struct.Struct("<IB")
_ENCODING_LENGTH = struct.Struct("<Bi")
_SCALARS = {
    ua.VariantType.Boolean.value: struct.Struct("<?"),
    ua.VariantType.SByte.value: struct.Struct("<b"),
    ua.VariantType.Byte.value: struct.Struct("<B"),
    ua.VariantType.Int16.value: struct.Struct("<h"),
    ua.VariantType.UInt16.value: struct.Struct("<H"),
    ua.VariantType.Int32.value: struct.Struct("<i"),
    ua.VariantType.UInt32.value: struct.Struct("<I"),
    ua.VariantType.Int64.value: struct.Struct("<q"),
    ua.VariantType.UInt64.value: struct.Struct("<Q"),
    ua.VariantType.Float.value: struct.Struct("<f"),
    ua.VariantType.Double.value: struct.Struct("<d"),
}
"""Variant encoding byte (a scalar: no array bits) -> its value's layout."""
_EPOCH_US = 11_644_473_600_000_000
"""Microseconds from 1601-01-01 (a DateTime's origin) to 1970-01-01."""
_DATA_CHANGE = ObjectIds.DataChangeNotification_Encoding_DefaultBinary
_PUBLISH_RESPONSE = ua.FourByteNodeId(ua.Int32(ObjectIds.PublishResponse_Encoding_DefaultBinary))
# DataValue encoding mask bits (Part 6, 5.2.2.17)
_VALUE, _STATUS, _SOURCE_TIME, _SERVER_TIME = 0x01, 0x02, 0x04, 0x08


@dataclass(slots=True)
class DataRows:
    """One DataChangeNotification of a publish response, as rows."""

    rows: list[Row] = field(default_factory=list)


def posix_of_ticks(ticks: int) -> float:
    """A DateTime (100 ns ticks since 1601) in POSIX seconds, as asyncua's datetime of it
    (whole microseconds; before 1601 and after 9999 clamped) would give."""
    if 0 <= ticks < MAX_OPC_FILETIME:
        return (ticks // 10 - _EPOCH_US) / 1e6
    return ua.win_epoch_to_datetime(ticks).timestamp()


NULL_TIME = -11_644_473_600.0
"""A DateTime of 0 ticks (1601-01-01, the null DateTime) in POSIX seconds."""


def posix_of_datetime(stamp: datetime | None) -> float | None:
    """A DataValue's time stamp as asyncua decodes it, in POSIX seconds; None when absent
    or null (1601-01-01 or before), as `decode_publish` reads it: the bus then stamps the
    value with the receive time and the time-invalid bit."""
    if stamp is None:
        return None
    ts = (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
    return None if ts <= NULL_TIME else ts


def decode_publish(payload: bytes) -> ua.PublishResponse | None:
    """A PublishResponse (its encoding, from the TypeId on) with its data changes as
    `DataRows`; None when it has something else, for asyncua to decode. Malformed data
    raises (struct.error, IndexError or asyncua's errors)."""
    buf = Buffer(payload)
    if nodeid_from_binary(buf) != _PUBLISH_RESPONSE:
        return None
    header = struct_from_binary(ua.ResponseHeader, buf)
    pos = buf.cur_pos
    (subscription,) = _UINT32.unpack_from(payload, pos)
    available, pos = _uint32s(payload, pos + 4)
    more = payload[pos] != 0
    (sequence,) = _UINT32.unpack_from(payload, pos + 1)
    (published,) = _INT64.unpack_from(payload, pos + 5)
    (count,) = _INT32.unpack_from(payload, pos + 13)
    pos += 17
    data: list[Any] = []
    for _ in range(count):
        # the ExtensionObject's TypeId: a two- or four-byte NodeId in namespace 0
        kind = payload[pos]
        if kind == 0x00:
            typeid, pos = payload[pos + 1], pos + 2
        elif kind == 0x01 and payload[pos + 1] == 0:
            typeid, pos = payload[pos + 2] | payload[pos + 3] << 8, pos + 4
        else:
            return None
        encoding, length = _ENCODING_LENGTH.unpack_from(payload, pos)
        pos += 5
        if typeid != _DATA_CHANGE or encoding != 0x01 or length < 0:
            return None
        rows = _data_change(payload, pos, pos + length)
        if rows is None:
            return None
        data.append(rows)
        pos += length
    codes, pos = _uint32s(payload, pos)
    (diagnostics,) = _INT32.unpack_from(payload, pos)
    if diagnostics > 0:
        return None
    message = ua.NotificationMessage(
        SequenceNumber=sequence,
        PublishTime=ua.win_epoch_to_datetime(published),
        NotificationData=data,
    )
    result = ua.PublishResult(
        SubscriptionId=subscription,
        AvailableSequenceNumbers=available,
        MoreNotifications=more,
        NotificationMessage=message,
        Results=[ua.StatusCode(ua.UInt32(code)) for code in codes],
    )
    return ua.PublishResponse(ResponseHeader=header, Parameters=result)


def _uint32s(payload: bytes, pos: int) -> tuple[list[int], int]:
    """An array of UInt32 (length -1: null, read as empty) and the position after it."""
    (count,) = _INT32.unpack_from(payload, pos)
    pos += 4
    if count <= 0:
        return [], pos
    end = pos + 4 * count
    if end > len(payload):
        raise struct.error(f"array of {count} UInt32 past the end of the data")
    return list(struct.unpack_from(f"<{count}I", payload, pos)), end


def _data_change(payload: bytes, pos: int, end: int) -> DataRows | None:
    """A DataChangeNotification's body (payload[pos:end]) as rows; None if it has a value
    that is not a scalar number, picoseconds or diagnostic infos."""
    (count,) = _INT32.unpack_from(payload, pos)
    pos += 4
    rows: list[Row] = []
    append = rows.append
    scalars = _SCALARS
    for _ in range(count):
        handle, mask = _HANDLE_MASK.unpack_from(payload, pos)
        pos += 5
        if mask & ~0x0F:  # picoseconds (or bits we do not know)
            return None
        raw: Any = None
        if mask & _VALUE:
            vtype = payload[pos]
            pos += 1
            if vtype:  # 0: a null Variant
                layout = scalars.get(vtype)
                if layout is None:  # an array, a string, ...
                    return None
                (raw,) = layout.unpack_from(payload, pos)
                pos += layout.size
        code = 0
        if mask & _STATUS:
            (code,) = _UINT32.unpack_from(payload, pos)
            pos += 4
        ts = None
        if mask & _SOURCE_TIME:
            (ticks,) = _INT64.unpack_from(payload, pos)
            pos += 8
            if 0 < ticks < MAX_OPC_FILETIME:
                ts = (ticks // 10 - _EPOCH_US) / 1e6
            elif ticks > 0:  # 0 (or less) is the null DateTime: as if absent
                ts = posix_of_ticks(ticks)
        if mask & _SERVER_TIME:
            pos += 8
        append((handle, raw, code, ts))
    (diagnostics,) = _INT32.unpack_from(payload, pos)
    if diagnostics > 0 or pos + 4 > end:
        return None
    return DataRows(rows)
