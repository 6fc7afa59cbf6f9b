"""`decode_publish`: publish responses encoded by asyncua read into the rows asyncua's own
decoding gives, and the shapes it leaves to asyncua."""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.ua.ua_binary import struct_from_binary, struct_to_binary

from adapters.opcua.client.publish import DataRows, decode_publish, posix_of_datetime

V = ua.VariantType
STAMP = datetime(2026, 12, 2, 8, 0, 0, 123456, tzinfo=UTC)


def _item(handle: int, dv: ua.DataValue) -> ua.MonitoredItemNotification:
    item = ua.MonitoredItemNotification()
    item.ClientHandle = handle
    item.Value = dv
    return item


def _response(*notifications: Any, results: tuple[int, ...] = ()) -> bytes:
    message = ua.NotificationMessage(SequenceNumber=7, PublishTime=STAMP)
    message.NotificationData = list(notifications)
    result = ua.PublishResult(
        SubscriptionId=3,
        AvailableSequenceNumbers=[5, 6, 7],
        MoreNotifications=False,
        NotificationMessage=message,
        Results=[ua.StatusCode(ua.UInt32(r)) for r in results],
    )
    return struct_to_binary(ua.PublishResponse(Parameters=result))


def _change(*dvs: ua.DataValue) -> ua.DataChangeNotification:
    notif = ua.DataChangeNotification()
    notif.MonitoredItems = [_item(n, dv) for n, dv in enumerate(dvs, 1)]
    return notif


def _asyncua_rows(payload: bytes) -> list[list[tuple[Any, ...]]]:
    """The rows asyncua's own decoding gives (what `Session.data_changes` makes of them)."""
    response = struct_from_binary(ua.PublishResponse, Buffer(payload))
    out = []
    for notif in response.Parameters.NotificationMessage.NotificationData:
        rows = []
        for item in notif.MonitoredItems:
            dv = item.Value
            stamp = dv.SourceTimestamp
            rows.append(
                (
                    item.ClientHandle,
                    None if dv.Value is None else dv.Value.Value,
                    0 if dv.StatusCode is None else dv.StatusCode.value,
                    posix_of_datetime(stamp),  # None if absent or null (1601)
                )
            )
        out.append(rows)
    return out


def _comparable(rows: list[list[tuple[Any, ...]]]) -> list[list[tuple[Any, ...]]]:
    """NaN made equal to itself, and a value's type kept (True is not 1)."""
    return [
        [
            tuple(
                ("nan",) if isinstance(v, float) and math.isnan(v) else (type(v).__name__, v)
                for v in row
            )
            for row in rows
        ]
        for rows in rows
    ]


def _dv(value: Any, vtype: ua.VariantType, code: int = 0, **stamps: Any) -> ua.DataValue:
    return ua.DataValue(
        ua.Variant(value, vtype), StatusCode=ua.StatusCode(ua.UInt32(code)), **stamps
    )


SCALARS = [
    _dv(1.5, V.Double, SourceTimestamp=STAMP, ServerTimestamp=STAMP),
    _dv(float("nan"), V.Double, SourceTimestamp=STAMP),
    _dv(float("inf"), V.Double),
    _dv(-3.25, V.Float, SourceTimestamp=STAMP + timedelta(microseconds=1)),
    _dv(True, V.Boolean, SourceTimestamp=STAMP),
    _dv(False, V.Boolean, 0x40000000),
    _dv(-7, V.SByte),
    _dv(200, V.Byte),
    _dv(-30000, V.Int16),
    _dv(60000, V.UInt16),
    _dv(-(2**31), V.Int32, 0x408F0000, SourceTimestamp=STAMP),
    _dv(2**32 - 1, V.UInt32),
    _dv(-(2**63), V.Int64),
    _dv(2**64 - 1, V.UInt64, ServerTimestamp=STAMP),
    ua.DataValue(ua.Variant(None, V.Null), StatusCode=ua.StatusCode(ua.UInt32(0x80310000))),
    ua.DataValue(StatusCode=None, SourceTimestamp=STAMP),  # no value, no status
    _dv(1.0, V.Double, SourceTimestamp=datetime(1601, 1, 1, tzinfo=UTC)),
    _dv(2.0, V.Double, SourceTimestamp=datetime(9999, 12, 31, tzinfo=UTC)),
    _dv(3.0, V.Double, SourceTimestamp=datetime(1970, 1, 1, tzinfo=UTC)),
]


def test_data_changes_are_the_rows_asyncua_decodes() -> None:
    payload = _response(_change(*SCALARS), _change(SCALARS[0]), results=(0, 0x80000000))
    response = decode_publish(payload)
    assert response is not None
    data = response.Parameters.NotificationMessage.NotificationData
    assert all(isinstance(d, DataRows) for d in data)
    got = [d.rows for d in data]
    assert _comparable(got) == _comparable(_asyncua_rows(payload))
    assert got[0][0] == (1, 1.5, 0, STAMP.timestamp())


def test_the_rest_of_the_response_is_what_asyncua_decodes() -> None:
    payload = _response(_change(SCALARS[0]), results=(0, 0x80000000))
    ours = decode_publish(payload)
    theirs = struct_from_binary(ua.PublishResponse, Buffer(payload))
    assert ours is not None
    assert ours.ResponseHeader == theirs.ResponseHeader
    mine, asyncua = ours.Parameters, theirs.Parameters
    assert mine.SubscriptionId == asyncua.SubscriptionId == 3
    assert mine.AvailableSequenceNumbers == asyncua.AvailableSequenceNumbers == [5, 6, 7]
    assert mine.MoreNotifications is asyncua.MoreNotifications is False
    assert mine.Results == asyncua.Results
    assert mine.NotificationMessage.SequenceNumber == 7
    assert mine.NotificationMessage.PublishTime == asyncua.NotificationMessage.PublishTime


def test_a_keep_alive_has_no_notification_data() -> None:
    response = decode_publish(_response())
    assert response is not None
    assert response.Parameters.NotificationMessage.NotificationData == []
    assert response.Parameters.SubscriptionId == 3


@pytest.mark.parametrize(
    "notification",
    [
        _change(SCALARS[0], _dv("text", V.String)),
        _change(_dv([1.0, 2.0], V.Double)),
        _change(ua.DataValue(ua.Variant(1.0, V.Double), SourcePicoseconds=5)),
        _change(_dv(STAMP, V.DateTime)),
        ua.StatusChangeNotification(Status=ua.StatusCode(ua.UInt32(0x80290000))),
    ],
    ids=["string", "array", "picoseconds", "datetime", "status-change"],
)
def test_other_shapes_are_left_to_asyncua(notification: Any) -> None:
    assert decode_publish(_response(_change(SCALARS[0]), notification)) is None


def test_diagnostic_infos_are_left_to_asyncua() -> None:
    notif = _change(SCALARS[0])
    notif.DiagnosticInfos = [ua.DiagnosticInfo(SymbolicId=1)]
    assert decode_publish(_response(notif)) is None


def test_another_response_is_left_to_asyncua() -> None:
    assert decode_publish(struct_to_binary(ua.ReadResponse())) is None


@pytest.mark.parametrize("cut", [1, 10, 40, 60, 90])
def test_truncated_data_is_never_a_response(cut: int) -> None:
    """It raises, or declines (asyncua's decoder then says what is wrong)."""
    payload = _response(_change(*SCALARS[:5]))
    try:
        response = decode_publish(payload[:-cut])
    except (struct.error, IndexError, ua.UaError):
        return
    assert response is None
