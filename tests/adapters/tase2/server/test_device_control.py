"""Block 5 sans-IO: device rules, values, tags and the select/operate/tag state machine
(time passed in); Block 4 codec; the bus's message stream."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from adapters.tase2.errors import LocalError
from adapters.tase2.mms.access import VariableEntry, VariableList
from adapters.tase2.mms.data import (
    BitString,
    Boolean,
    DataAccessError,
    Float32,
    Integer,
    OctetString,
    Structure,
    VisibleString,
)
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.services import InformationReport
from adapters.tase2.mms.types import FloatType, IntegerType
from adapters.tase2.model.devices import (
    TAG_TYPE,
    DeviceKind,
    Refusal,
    TagState,
    TagValue,
    decode_tag,
    encode_tag,
    operate_value,
)
from adapters.tase2.model.messages import (
    INFO_MESS_HEADER,
    MessageDecodeError,
    decode_message_report,
    encode_message_report,
)
from adapters.tase2.server.bilateral import (
    BilateralConfigError,
    BilateralTableConfig,
    compile_table,
)
from adapters.tase2.server.device_control import (
    DeviceControl,
    DeviceRole,
    DeviceRule,
    OperateOrder,
    StoredTag,
    bus_value,
    compile_devices,
)
from gateway.bus import PointBus
from gateway.messages import Message
from gateway.points import PointKind, State

E = DataAccessError
BRK = DeviceRule(name="BRK", point="P_BRK", sbo=True, check_back_id=7, select_timeout=10,
                 taggable=True, operate=True, get_tag=True, set_tag=True)  # fmt: skip
SP = DeviceRule(name="SP", point="P_SP", kind=DeviceKind.SETPOINT_REAL, operate=True)
A, B = object(), object()
T0 = 1000.0


def tag(state: int, reason: str = "") -> Structure:
    return encode_tag(TagValue(TagState(state), reason))


def refused(x: object, error: DataAccessError) -> bool:
    return isinstance(x, Refusal) and x.error is error


# --------------------------------------------------------------------------- rules


def test_device_objects_and_types() -> None:
    objs = compile_devices([BRK, SP], "ICC1")
    assert {str(n): o.role for n, o in objs.items()} == {
        "ICC1/BRK": DeviceRole.DEVICE,
        "ICC1/BRK_SBO": DeviceRole.SBO,
        "ICC1/BRK_TAG": DeviceRole.TAG,
        "ICC1/SP": DeviceRole.DEVICE,
    }
    assert objs[ObjectName.dom("ICC1", "BRK")].type == IntegerType(16)
    assert objs[ObjectName.dom("ICC1", "BRK_SBO")].type == IntegerType(16)
    assert objs[ObjectName.dom("ICC1", "BRK_TAG")].type == TAG_TYPE
    assert objs[ObjectName.dom("ICC1", "SP")].type == FloatType(32, 8)
    vcc = DeviceRule(name="V", point="P", scope="vcc", operate=True)
    assert list(compile_devices([vcc], "ICC1")) == [ObjectName.vmd("V")]
    hidden = DeviceRule(name="H", point="P", taggable=True)  # no right at all
    assert compile_devices([hidden], "ICC1") == {}
    tags_only = BRK.model_copy(update={"operate": False})
    assert {n.item for n in compile_devices([tags_only], "ICC1")} == {"BRK", "BRK_TAG"}


def test_bad_device_configs_are_refused_with_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="device name"):
        DeviceRule(name="X" * 30, point="P")
    with pytest.raises(ValidationError, match="check_back_id"):
        DeviceRule(name="X", point="P", check_back_id=70000)
    base = {"id": "T", "domain": "ICC1", "peer": {"ap_title": "1.1.1.1"}}
    dev = {"name": "D", "point": "P", "operate": True}
    with pytest.raises(ValidationError, match="listed twice"):
        BilateralTableConfig.model_validate({**base, "devices": [dev, dev]})
    clash = {**dev, "name": "D_SBO"}
    with pytest.raises(ValidationError, match="defined twice"):
        BilateralTableConfig.model_validate({**base, "devices": [{**dev, "sbo": True}, clash]})
    table = BilateralTableConfig.model_validate(
        {**base, "points": [{"match": "GEN1"}], "devices": [{**dev, "name": "GEN1"}]}
    )
    with pytest.raises(BilateralConfigError, match="name of a served point"):
        compile_table(table, {"GEN1": PointKind.REAL})
    view = compile_table(table.model_copy(update={"points": ()}), {"GEN1": PointKind.REAL})
    assert "GEN1" in view.variable_names(ObjectName.dom("ICC1", "x").scope)


def test_operate_values() -> None:
    cmd = DeviceKind.COMMAND
    assert operate_value(cmd, Integer(1)) == 1
    assert refused(operate_value(cmd, Integer(2)), E.OBJECT_VALUE_INVALID)
    assert refused(operate_value(cmd, Float32(1.0)), E.TYPE_INCONSISTENT)
    assert operate_value(DeviceKind.SETPOINT_REAL, Float32(1.5)) == 1.5
    assert operate_value(DeviceKind.SETPOINT_REAL, Integer(3)) == 3.0
    assert refused(
        operate_value(DeviceKind.SETPOINT_REAL, Float32(float("nan"))), E.OBJECT_VALUE_INVALID
    )
    assert refused(operate_value(DeviceKind.SETPOINT_REAL, Boolean(True)), E.TYPE_INCONSISTENT)
    assert operate_value(DeviceKind.SETPOINT_DISCRETE, Integer(-40)) == -40
    assert refused(
        operate_value(DeviceKind.SETPOINT_DISCRETE, Integer(1 << 15)), E.OBJECT_VALUE_INVALID
    )
    assert bus_value(cmd, PointKind.STATE, 1) == State.ON
    assert bus_value(cmd, PointKind.STATE, 0) == State.OFF
    assert bus_value(cmd, PointKind.DISCRETE, 1) == 1


def test_tag_codec() -> None:
    value = encode_tag(TagValue(TagState.CLOSE_ONLY_INHIBIT, "hot work", armed=True))
    assert value == Structure((BitString(3, b"\xa0"), VisibleString("hot work")))
    assert decode_tag(value) == TagValue(TagState.CLOSE_ONLY_INHIBIT, "hot work", True)
    assert refused(decode_tag(Integer(1)), E.TYPE_INCONSISTENT)
    assert refused(
        decode_tag(Structure((BitString(1, b"\x80"), VisibleString("")))), E.TYPE_INCONSISTENT
    )
    long = Structure((BitString(3, b"\x40"), VisibleString("x" * 256)))
    assert refused(decode_tag(long), E.OBJECT_VALUE_INVALID)


# --------------------------------------------------------------------------- state machine


def test_select_before_operate() -> None:
    dc = DeviceControl()
    assert refused(dc.begin_operate(BRK, A, Integer(1), T0), E.TEMPORARILY_UNAVAILABLE)
    assert dc.select(BRK, A, T0) == 7
    assert refused(dc.select(BRK, B, T0 + 1), E.TEMPORARILY_UNAVAILABLE)  # A has it
    assert refused(dc.begin_operate(BRK, B, Integer(1), T0 + 1), E.TEMPORARILY_UNAVAILABLE)
    assert refused(dc.begin_operate(BRK, A, Integer(9), T0 + 1), E.OBJECT_VALUE_INVALID)
    assert dc.armed_by(BRK, T0 + 1) is A  # a bad value does not consume the selection
    order = dc.begin_operate(BRK, A, Integer(1), T0 + 2)
    assert order == OperateOrder("P_BRK", 1, True)
    assert dc.armed_by(BRK, T0 + 2) is None  # disarmed on operate
    assert dc.tag(BRK, T0 + 2).armed  # operating counts as armed
    assert refused(dc.select(BRK, B, T0 + 2), E.HARDWARE_FAULT)  # busy
    dc.end_operate(BRK)
    assert refused(dc.begin_operate(BRK, A, Integer(1), T0 + 3), E.TEMPORARILY_UNAVAILABLE)


def test_select_time_out_and_association_end() -> None:
    dc = DeviceControl()
    assert dc.select(BRK, A, T0) == 7
    assert dc.tag(BRK, T0 + 9.9).armed
    assert refused(dc.begin_operate(BRK, A, Integer(0), T0 + 10), E.TEMPORARILY_UNAVAILABLE)
    assert dc.select(BRK, B, T0 + 10) == 7  # timed out: free for another peer
    assert dc.association_ended(B) == ["P_BRK"]
    assert dc.armed_by(BRK, T0 + 11) is None
    assert dc.select(BRK, A, T0 + 11) == 7
    assert dc.select(BRK, A, T0 + 15) == 7  # re-select restarts the time-out
    assert isinstance(dc.begin_operate(BRK, A, Integer(0), T0 + 24), OperateOrder)


def test_direct_operate() -> None:
    dc = DeviceControl()
    assert refused(dc.select(SP, A, T0), E.OBJECT_NON_EXISTENT)
    order = dc.begin_operate(SP, A, Float32(12.5), T0)
    assert order == OperateOrder("P_SP", 12.5, False)
    assert refused(dc.begin_operate(SP, B, Float32(1.0), T0), E.TEMPORARILY_UNAVAILABLE)
    dc.end_operate(SP)
    assert isinstance(dc.begin_operate(SP, B, Float32(1.0), T0), OperateOrder)


def test_tags_and_their_interlocks() -> None:
    dc = DeviceControl()
    assert dc.set_tag(BRK, "peer1", tag(1, "crew"), T0) is None
    assert dc.tag(BRK, T0) == TagValue(TagState.OPEN_AND_CLOSE_INHIBIT, "crew")
    assert refused(dc.select(BRK, A, T0), E.TEMPORARILY_UNAVAILABLE)
    assert refused(dc.set_tag(BRK, "peer2", tag(0), T0), E.OBJECT_ACCESS_DENIED)
    assert dc.set_tag(BRK, "peer1", tag(2, "hot"), T0) is None  # the owner changes it
    assert dc.select(BRK, A, T0) == 7  # close-only lets a select through
    assert refused(dc.set_tag(BRK, "peer1", tag(0), T0), E.TEMPORARILY_UNAVAILABLE)  # armed
    assert refused(dc.begin_operate(BRK, A, Integer(1), T0), E.TEMPORARILY_UNAVAILABLE)
    assert dc.select(BRK, A, T0) == 7
    assert isinstance(dc.begin_operate(BRK, A, Integer(0), T0), OperateOrder)  # open is fine
    dc.end_operate(BRK)
    assert refused(dc.set_tag(BRK, "peer1", tag(3), T0), E.OBJECT_VALUE_INVALID)
    assert dc.set_tag(BRK, None, tag(0), T0) is None  # locally: any tag
    assert dc.tag_owner(BRK) is None
    assert dc.set_tag(BRK, "peer2", tag(1, "x"), T0) is None
    direct = DeviceRule(name="D", point="P_D", operate=True, taggable=True, set_tag=True)
    assert dc.set_tag(direct, "peer1", tag(1), T0) is None
    assert refused(dc.begin_operate(direct, A, Integer(0), T0), E.TEMPORARILY_UNAVAILABLE)


class Tags:
    """A tag store in a list; fails on request."""

    def __init__(self) -> None:
        self.saved: list[StoredTag] = []
        self.fail = False

    def save_tag(self, stored: StoredTag) -> None:
        if self.fail:
            raise LocalError("disk full")
        self.saved.append(stored)


def test_tag_changes_are_saved_before_they_count_and_restored() -> None:
    store = Tags()
    dc = DeviceControl(store)
    assert dc.set_tag(BRK, "peer1", tag(1, "crew"), T0) is None
    inhibit = TagValue(TagState.OPEN_AND_CLOSE_INHIBIT, "crew")
    assert store.saved == [StoredTag("P_BRK", inhibit, "peer1")]
    store.fail = True  # a tag that cannot be saved is refused and changes nothing
    refusal = dc.set_tag(BRK, "peer1", tag(0), T0)
    assert refused(refusal, E.HARDWARE_FAULT) and "disk full" in str(refusal)
    assert dc.tag(BRK, T0) == inhibit
    store.fail = False
    assert dc.set_tag(BRK, "peer1", tag(0), T0) is None
    assert store.saved[-1] == StoredTag("P_BRK", TagValue(), None)

    restarted = DeviceControl(store)
    assert restarted.restore_tags([StoredTag("P_BRK", inhibit, "peer1")]) == 1
    assert restarted.tag(BRK, T0) == inhibit and restarted.tag_owner(BRK) == "peer1"
    assert refused(restarted.begin_operate(BRK, A, Integer(0), T0), E.TEMPORARILY_UNAVAILABLE)
    assert refused(restarted.set_tag(BRK, "peer2", tag(0), T0), E.OBJECT_ACCESS_DENIED)


# --------------------------------------------------------------------------- Block 4


def test_information_message_report_round_trip() -> None:
    msg = Message(b"hello world", 5, 6, 7)
    report = encode_message_report(msg, "ICC1", 8)
    assert isinstance(report.spec, VariableList)
    assert [str(e.name) for e in report.spec.items] == ["ICC1/Info_Mess_Header", "ICC1/Info_Buff_8"]
    assert report.results == (
        Structure((Integer(5), Integer(6), Integer(7), Integer(8))),
        OctetString(b"hello wo"),
    )
    got = decode_message_report(report, origin="x")
    assert isinstance(got, Message)
    assert (got.text, got.reference, got.local_reference, got.message_id, got.origin) == (
        b"hello wo", 5, 6, 7, "x"
    )  # fmt: skip
    header = VariableEntry(ObjectName.vmd(INFO_MESS_HEADER))
    short = InformationReport(
        VariableList((header, VariableEntry(ObjectName.vmd("B")))),
        (Structure((Integer(0), Integer(0), Integer(0), Integer(9))), OctetString(b"abc")),
    )
    with pytest.raises(MessageDecodeError, match="does not fit"):
        decode_message_report(short)
    with pytest.raises(MessageDecodeError, match="missing"):
        decode_message_report(InformationReport(VariableList((header,)), (Integer(1),)))


async def test_message_stream_is_bounded_and_counts_overflow() -> None:
    bus = PointBus()
    sub = bus.subscribe_messages(maxlen=2, name="t")
    other = bus.subscribe_messages()
    for i in range(3):
        assert bus.publish_message(Message(b"m", message_id=i)) == 2
    assert sub.overflow == 1
    assert [m.message_id for m in sub.drain()] == [1, 2]
    assert [m.message_id for m in await other.wait(0.1)] == [0, 1, 2]
    assert await sub.wait(0.01) == []
    waiter = asyncio.create_task(sub.wait(1.0))
    await asyncio.sleep(0)
    bus.publish_message(Message(b"late"))
    assert [m.text for m in await waiter] == [b"late"]
    sub.close()
    other.close()
    assert bus.messages.subscriptions == []
    with pytest.raises(ValueError):
        bus.subscribe_messages(maxlen=0)
