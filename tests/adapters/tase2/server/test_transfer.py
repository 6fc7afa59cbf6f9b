"""The DS transfer set engine: allocation, writes, the five DS conditions, reports, ACKs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.tase2.mms.access import (
    VariableEntry,
    VariableList,
    component_access,
)
from adapters.tase2.mms.data import (
    Boolean,
    DataAccessError,
    Integer,
    Structure,
)
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.pdu import Unconfirmed, decode_pdu
from adapters.tase2.mms.service_error import AccessCode, ErrorClass
from adapters.tase2.mms.services import InformationReport
from adapters.tase2.model.objects import DSConditions, DSTransferSetError, encode_mms_object_name
from adapters.tase2.model.points import PointType, decode_point
from adapters.tase2.model.transfer_set import DSTransferSetValue
from adapters.tase2.server.bilateral import BilateralTableConfig, TableView, compile_table
from adapters.tase2.server.datasets import DataSet, DataSetError, DataSetRegistry
from adapters.tase2.server.encoded import EncodedValues
from adapters.tase2.server.reports import ReportRequest, encode_report, full_report_max_size
from adapters.tase2.server.transfer import TransferEngine, split_component_name
from gateway.points import PointKind, PointValue, Quality, Validity

H = bytes.fromhex
C = DSConditions
DS1 = ObjectName.dom("ICC1", "DS1")
SPECIALS3 = ["Transfer_Set_Name", "DSConditions_Detected", "Transfer_Set_Time_Stamp"]
T0 = 1_700_000_000.0


def pv(point: str, value: float, ts: float = T0, quality: Quality | None = None) -> PointValue:
    return PointValue(point, value, quality or Quality(), ts, 0)


@dataclass
class Rig:
    """One engine, one association "A" of peer table ICC1, one data set DS1."""

    engine: TransferEngine
    registry: DataSetRegistry
    view: TableView
    ts: ObjectName
    bus: dict[str, PointValue] = field(default_factory=dict)
    encoded: EncodedValues = field(default_factory=EncodedValues)

    def write(self, now: float = T0, **attrs: object) -> None:
        value = DSTransferSetValue(data_set=DS1, status=True, **attrs)  # type: ignore[arg-type]
        self.engine.write("A", self.ts, value.to_data(), now, self.registry_lookup)

    def registry_lookup(self, name: ObjectName) -> DataSet | None:
        return self.registry.get("A", name)

    def change(self, now: float, *values: PointValue) -> None:
        for v in values:
            self.bus[v.point] = v
        self.engine.on_changes(values, now)

    def encode(self, req: ReportRequest) -> bytes:
        return encode_report(req, lambda points: [self.bus.get(p) for p in points], self.encoded)


def rig(
    members: Sequence[str] = (*SPECIALS3, "P1", "P2", "P3"),
    kinds: dict[str, PointKind] | None = None,
    ptype: str = "Data_RealQ",
    max_pdu: int = 65000,
    count: int = 3,
) -> Rig:
    kinds = kinds or {p: PointKind.REAL for p in ("P1", "P2", "P3", "Other")}
    config = BilateralTableConfig.model_validate(
        {
            "id": "BLT1",
            "domain": "ICC1",
            "peer": {"ap_title": "1.1.1.999", "ae_qualifier": 12},
            "points": [{"match": "P*", "type": ptype, "write": True}, {"match": "Other"}],
        }
    )
    view = compile_table(config, kinds)
    engine = TransferEngine(count)
    engine.open_association("A", view, max_pdu)
    registry = DataSetRegistry()
    registry.define("A", DS1, [VariableEntry(ObjectName.dom("ICC1", m)) for m in members], view)
    r = Rig(engine, registry, view, engine.allocate("A"))
    for p in kinds:
        r.bus[p] = pv(p, 0.0)
    return r


def decoded(report: bytes) -> tuple[object, tuple[object, ...]]:
    pdu = decode_pdu(report)
    assert isinstance(pdu, Unconfirmed)
    assert isinstance(pdu.service, InformationReport)
    return pdu.service.spec, pdu.service.results


def reported_points(req: ReportRequest) -> list[str]:
    return req.point_ids


# --------------------------------------------------------------------------- exact bytes


def test_full_report_bytes_match_reference_6_9() -> None:
    r = rig(members=(*SPECIALS3, "P1"))
    r.bus["P1"] = pv("P1", 123.5, quality=Quality(Validity.SUSPECT))
    r.write(
        now=T0 - 10,
        start_time=int(T0),
        interval=10,
        conditions=C.INTERVAL_TIMEOUT,
    )
    assert r.engine.due(T0 - 1) == []
    assert r.engine.next_deadline() == T0
    (req,) = r.engine.due(T0)
    assert req.full and req.conditions == C.INTERVAL_TIMEOUT and req.time_stamp == int(T0)
    expected = (
        H("a3 46 a0 44 a1 0d a1 0b 1a 04")
        + b"ICC1"
        + H("1a 03")
        + b"DS1"
        + H("a0 33 a2 1a 86 01 01 8a 04")
        + b"ICC1"
        + H("8a 0f")
        + b"DSTransferSet01"
        + H("84 02 03 80 85 04 65 53 f1 00 a2 0b 87 05 08 42 f7 00 00 84 02 00 20")
    )
    assert r.encode(req) == expected
    assert full_report_max_size(req.data_set, r.ts) >= len(expected)


def test_rbe_report_names_each_changed_point_after_the_specials() -> None:
    r = rig()
    r.write(conditions=C.OBJECT_CHANGE, rbe=True)
    r.change(T0 + 1, pv("P2", 7.0, T0 + 1))
    (req,) = r.engine.due(T0 + 1)
    assert not req.full and req.conditions == C.OBJECT_CHANGE
    spec, results = decoded(r.encode(req))
    assert isinstance(spec, VariableList)
    assert [e.name.item for e in spec.items] == [*SPECIALS3, "P2"]
    assert results[0] == encode_mms_object_name(r.ts)
    assert decode_point(results[3], PointType.DATA_REALQ).value == 7.0  # type: ignore[arg-type]


# --------------------------------------------------------------------------- allocation


def test_next_ds_transfer_set_allocation_and_release() -> None:
    r = rig(count=2)
    second = r.engine.allocate("A")
    assert (r.ts.item, second.item) == ("DSTransferSet01", "DSTransferSet02")
    with pytest.raises(DSTransferSetError) as info:
        r.engine.allocate("A")
    assert info.value.error is DataAccessError.TEMPORARILY_UNAVAILABLE
    r.write(conditions=C.OBJECT_CHANGE, rbe=True)
    assert r.engine.close_association("A") == [r.ts, second]
    r.change(T0 + 1, pv("P1", 1.0))
    assert r.engine.due(T0 + 1) == [] and r.engine.next_deadline() is None
    r.engine.open_association("B", r.view, 65000)
    assert r.engine.allocate("B") == r.ts
    assert r.engine.transfer_set_names("ICC1") == ["DSTransferSet01", "DSTransferSet02"]


def test_another_associations_transfer_set_is_denied() -> None:
    r = rig()
    r.engine.open_association("B", r.view, 65000)
    value = DSTransferSetValue(data_set=DS1, status=True, conditions=C.OBJECT_CHANGE)
    with pytest.raises(DSTransferSetError) as info:
        r.engine.write("B", r.ts, value.to_data(), T0, r.registry_lookup)
    assert info.value.error is DataAccessError.OBJECT_ACCESS_DENIED
    assert r.engine.read("B", r.ts) == DSTransferSetValue().to_data()


# --------------------------------------------------------------------------- refused writes


@pytest.mark.parametrize(
    ("attrs", "error", "text"),
    [
        ({"data_set": None}, DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT, "DataSetName"),
        (
            {"data_set": ObjectName.dom("ICC1", "Nope")},
            DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT,
            "does not exist",
        ),
        (
            {"data_set": ObjectName.dom("ICC2", "DS1")},
            DataAccessError.OBJECT_ACCESS_DENIED,
            "another domain",
        ),
        ({"block_data": True}, DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT, "Block 3"),
        (
            {"conditions": C.INTERVAL_TIMEOUT, "interval": 0},
            DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT,
            "Interval 0",
        ),
        (
            {"conditions": C.INTEGRITY_TIMEOUT},
            DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT,
            "IntegrityCheck 0",
        ),
    ],
)
def test_refused_starts(attrs: dict[str, object], error: DataAccessError, text: str) -> None:
    r = rig()
    value = DSTransferSetValue(**{"data_set": DS1, "status": True, **attrs})  # type: ignore[arg-type]
    with pytest.raises(DSTransferSetError, match=text) as info:
        r.engine.write("A", r.ts, value.to_data(), T0, r.registry_lookup)
    assert info.value.error is error
    assert r.engine.read("A", r.ts) == DSTransferSetValue().to_data()  # nothing changed


def test_malformed_write_is_attribute_inconsistent() -> None:
    r = rig()
    with pytest.raises(DSTransferSetError) as info:
        r.engine.write("A", r.ts, Structure((Boolean(True),)), T0, r.registry_lookup)
    assert info.value.error is DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT


def test_data_set_that_cannot_fit_the_pdu_is_refused_with_sizes() -> None:
    r = rig(max_pdu=60)
    with pytest.raises(DSTransferSetError, match=r"needs up to \d+ octets.*PDU size of 60") as e:
        r.write(conditions=C.OBJECT_CHANGE)
    assert e.value.error is DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT


def test_running_transfer_set_only_accepts_status_changes() -> None:
    r = rig()
    r.write(conditions=C.OBJECT_CHANGE, rbe=True)
    with pytest.raises(DSTransferSetError, match="only Status") as info:
        r.write(conditions=C.OBJECT_CHANGE, rbe=False)
    assert info.value.error is DataAccessError.OBJECT_ATTRIBUTE_INCONSISTENT
    r.write(conditions=C.OBJECT_CHANGE, rbe=True)  # identical: fine
    # stop with a component write of Status, as libtase2 clients do
    assert split_component_name("DSTransferSet01$Status") == ("DSTransferSet01", "Status")
    assert component_access("Status")
    r.engine.write_component("A", r.ts, "Status", Boolean(False), T0, r.registry_lookup)
    r.change(T0 + 1, pv("P1", 3.0))
    assert r.engine.due(T0 + 1) == []


def test_data_set_definition_checks_the_table() -> None:
    r = rig()
    with pytest.raises(DataSetError) as info:
        r.registry.define(
            "A", ObjectName.dom("ICC1", "DS2"), [VariableEntry(ObjectName.dom("ICC1", "X"))], r.view
        )
    assert info.value.service_error.error_class is ErrorClass.ACCESS
    assert info.value.service_error.code == AccessCode.OBJECT_NON_EXISTENT
    with pytest.raises(DataSetError) as info:
        r.registry.define(
            "A", ObjectName.vmd("DS2"), [VariableEntry(ObjectName.dom("ICC1", "P1"))], r.view
        )
    assert info.value.service_error.code == AccessCode.OBJECT_ACCESS_DENIED
    ds = r.registry.get("A", DS1)
    assert ds is not None
    r.write(conditions=C.OBJECT_CHANGE)
    assert r.registry.delete("A", DS1, r.engine.data_set_in_use) == (1, 0)


# --------------------------------------------------------------------------- conditions


def test_change_of_a_point_outside_the_data_set_reports_nothing() -> None:
    r = rig()
    r.write(conditions=C.OBJECT_CHANGE, rbe=True)
    r.change(T0 + 1, pv("Other", 1.0))
    assert r.engine.due(T0 + 1) == []
    assert r.engine._index.keys() == {"P1", "P2", "P3"}


def test_non_rbe_change_sends_the_full_set() -> None:
    r = rig()
    r.write(conditions=C.OBJECT_CHANGE)
    r.change(T0 + 1, pv("P1", 1.0))
    (req,) = r.engine.due(T0 + 1)
    assert req.full and reported_points(req) == ["P1", "P2", "P3"]


def test_non_rbe_change_with_interval_waits_for_the_interval() -> None:
    r = rig()
    r.write(conditions=C.OBJECT_CHANGE | C.INTERVAL_TIMEOUT, interval=5)
    r.change(T0 + 1, pv("P1", 1.0))
    assert r.engine.due(T0 + 1) == []
    (req,) = r.engine.due(T0 + 5)
    assert req.full and req.conditions == C.INTERVAL_TIMEOUT | C.OBJECT_CHANGE


def test_interval_rbe_and_integrity() -> None:
    r = rig()
    r.write(
        conditions=C.INTERVAL_TIMEOUT | C.INTEGRITY_TIMEOUT, interval=2, integrity_check=6, rbe=True
    )
    assert r.engine.due(T0 + 2) == []  # RBE interval with nothing changed: no report
    r.change(T0 + 3, pv("P3", 1.0), pv("P1", 2.0))
    (req,) = r.engine.due(T0 + 4)
    assert not req.full and reported_points(req) == ["P1", "P3"]  # data-set order
    (req,) = r.engine.due(T0 + 6)
    assert req.full and req.conditions == C.INTERVAL_TIMEOUT | C.INTEGRITY_TIMEOUT
    assert reported_points(req) == ["P1", "P2", "P3"]
    assert r.engine.next_deadline() == T0 + 8


def test_missed_intervals_do_not_burst() -> None:
    r = rig()
    r.write(conditions=C.INTERVAL_TIMEOUT, interval=1)
    assert len(r.engine.due(T0 + 100.5)) == 1
    assert r.engine.next_deadline() == T0 + 101


def test_buffer_time_accumulates_changes() -> None:
    r = rig()
    r.write(conditions=C.OBJECT_CHANGE, rbe=True, buffer_time=3)
    r.change(T0 + 1, pv("P1", 1.0))
    r.change(T0 + 2, pv("P2", 2.0), pv("P1", 1.5))
    assert r.engine.due(T0 + 3.9) == []
    (req,) = r.engine.due(T0 + 4)
    assert reported_points(req) == ["P1", "P2"]
    assert [v.value for v in req.values if v is not None] == [1.5, 2.0]


def test_all_changes_reported_keeps_every_change_in_order() -> None:
    r = rig()
    r.write(conditions=C.OBJECT_CHANGE, rbe=True, buffer_time=3, all_changes_reported=True)
    r.change(T0 + 1, pv("P2", 1.0))
    r.change(T0 + 2, pv("P1", 2.0), pv("P2", 3.0))
    (req,) = r.engine.due(T0 + 4)
    assert reported_points(req) == ["P2", "P1", "P2"]
    assert [v.value for v in req.values if v is not None] == [1.0, 2.0, 3.0]
    _, results = decoded(r.encode(req))
    assert [decode_point(x).value for x in results[3:]] == [1.0, 2.0, 3.0]  # type: ignore[arg-type]


def test_rbe_reports_are_split_to_fit_the_pdu() -> None:
    kinds = {f"P{i}": PointKind.REAL for i in range(60)}
    r = rig(members=(*SPECIALS3, *kinds), kinds=kinds, max_pdu=1000)
    r.write(conditions=C.OBJECT_CHANGE, rbe=True)
    r.change(T0 + 1, *(pv(p, 1.0) for p in kinds))
    reqs = r.engine.due(T0 + 1)
    assert len(reqs) > 1
    assert sum(len(q.point_ids) for q in reqs) == 60
    assert all(len(r.encode(q)) <= 1000 for q in reqs)


def test_operator_request_and_external_events() -> None:
    r = rig()
    r.write(
        conditions=C.OPERATOR_REQUEST | C.OTHER_EXTERNAL_EVENT, event_code_requested=42, rbe=True
    )
    assert r.engine.operator_request(T0 + 1) == 1
    (req,) = r.engine.due(T0 + 1)
    assert req.full and req.conditions == C.OPERATOR_REQUEST
    assert r.engine.external_event(7, T0 + 2) == 0  # filtered by EventCodeRequested
    assert r.engine.external_event(42, T0 + 2) == 1
    (req,) = r.engine.due(T0 + 2)
    assert req.conditions == C.OTHER_EXTERNAL_EVENT and req.event_code == 42


def test_table_change_stops_transfer_sets_it_no_longer_allows() -> None:
    r = rig()
    r.write(conditions=C.OBJECT_CHANGE, rbe=True)
    narrower = BilateralTableConfig.model_validate(
        {
            "id": "BLT1",
            "domain": "ICC1",
            "peer": {"ap_title": "1.1.1.999"},
            "points": [{"match": "P1", "type": "Data_RealQ"}],
        }
    )
    view = compile_table(narrower, {p: PointKind.REAL for p in ("P1", "P2", "P3")})
    assert r.engine.update_view("A", view) == [r.ts]
    with pytest.raises(DSTransferSetError) as info:
        r.write(conditions=C.OBJECT_CHANGE, rbe=True)
    assert info.value.error is DataAccessError.OBJECT_ACCESS_DENIED


# --------------------------------------------------------------------------- critical


def test_critical_report_times_out_once() -> None:
    r = rig()
    r.write(conditions=C.OBJECT_CHANGE, rbe=True, critical=True)
    r.change(T0 + 1, pv("P1", 1.0))
    (req,) = r.engine.due(T0 + 1)
    assert req.critical
    assert r.engine.next_deadline() == T0 + 6
    r.engine.due(T0 + 5.9)
    assert r.engine.drain_events() == []
    r.engine.due(T0 + 6)
    (event,) = r.engine.drain_events()
    assert (event.kind, event.transfer_set, event.time_stamp) == (
        "critical-timeout",
        r.ts,
        int(T0 + 1),
    )
    r.engine.due(T0 + 60)
    assert r.engine.drain_events() == []


def test_ack_and_nack_from_a_client_report() -> None:
    r = rig()
    r.write(conditions=C.OBJECT_CHANGE, rbe=True, critical=True)
    r.change(T0 + 1, pv("P1", 1.0))
    (req,) = r.engine.due(T0 + 1)
    ack = [
        ObjectName.dom("ICC1", "Transfer_Report_ACK"),
        ObjectName.dom("ICC1", "Transfer_Set_Time_Stamp"),
    ]
    handled = r.engine.on_client_report(
        "A", ack, [encode_mms_object_name(r.ts), Integer(req.time_stamp)], T0 + 2
    )
    assert handled
    r.engine.due(T0 + 10)
    assert r.engine.drain_events() == []
    r.change(T0 + 11, pv("P1", 2.0))
    r.engine.due(T0 + 11)
    nack = [ObjectName.dom("ICC1", "Transfer_Report_NACK")]
    assert r.engine.on_client_report("A", nack, [encode_mms_object_name(r.ts)], T0 + 12)
    (event,) = r.engine.drain_events()
    assert event.kind == "nack" and event.time_stamp == int(T0 + 11)
    r.engine.due(T0 + 30)
    assert r.engine.drain_events() == []
    other = [ObjectName.dom("ICC1", "P1")]
    assert not r.engine.on_client_report("A", other, [Integer(1)], T0)


# --------------------------------------------------------------------------- properties

steps = st.lists(
    st.tuples(
        st.floats(0.0, 3.0),  # time advance
        st.lists(st.sampled_from(["P1", "P2", "P3", "Other"]), max_size=4),  # changed points
    ),
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(
    steps,
    st.integers(0, 5),  # start offset
    st.integers(0, 2),  # buffer time
    st.booleans(),  # all changes reported
    st.integers(1, 4),  # interval
    st.integers(1, 9),  # integrity
)
def test_scheduler_invariants(
    plan: list[tuple[float, list[str]]],
    start_offset: int,
    buffer_time: int,
    all_changes: bool,
    interval: int,
    integrity: int,
) -> None:
    r = rig()
    start = T0 + start_offset
    r.write(
        now=T0,
        start_time=int(start) if start_offset else 0,
        conditions=C.INTERVAL_TIMEOUT | C.INTEGRITY_TIMEOUT | C.OBJECT_CHANGE,
        interval=interval,
        integrity_check=integrity,
        buffer_time=buffer_time,
        rbe=True,
        all_changes_reported=all_changes,
    )
    now = T0
    pending: list[str] = []  # changes since the last report, in order
    for advance, changed in plan:
        now += advance
        deadline = r.engine.next_deadline()
        assert deadline is not None
        for req in r.engine.due(now):
            assert now >= start, "no report before StartTime"
            assert req.time_stamp <= int(now)
            if req.full:
                assert reported_points(req) == ["P1", "P2", "P3"]  # integrity names all
            else:
                got = reported_points(req)
                if all_changes:
                    assert got == pending
                else:
                    assert got == sorted(set(pending)) and len(got) == len(set(got))
                assert req.conditions & ~(C.INTERVAL_TIMEOUT | C.OBJECT_CHANGE) == 0
            pending = []
        values = [pv(p, now, now) for p in changed]
        r.change(now, *values)
        if now >= start:
            pending.extend(p for p in changed if p != "Other")
