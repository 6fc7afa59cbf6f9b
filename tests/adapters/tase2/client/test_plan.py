"""The TASE.2 client's sans-IO parts: settings, data-set planning, DSTransferSet values,
the start-up check, the reconnect policy, report -> bus decoding with ACK/NACK, and writes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from adapters.tase2.client.failover import LinkPlanner, RateMeter
from adapters.tase2.client.failures import failure_of
from adapters.tase2.client.ingest import PointSlot, ReportIngest, SetLayout
from adapters.tase2.client.plan import (
    SPECIAL_MEMBERS,
    PointSpec,
    check_startup,
    plan_groups,
    transfer_set_value,
)
from adapters.tase2.client.settings import ClientDataSet, Tase2ClientSettings
from adapters.tase2.client.writes import write_value
from adapters.tase2.mms.access import VariableEntry, VariableList, VariableListName
from adapters.tase2.mms.data import (
    AccessResult,
    BinaryTime,
    BitString,
    DataAccessError,
    Float32,
    Integer,
    Structure,
    VisibleString,
)
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.pdu import Unconfirmed, encode_pdu
from adapters.tase2.mms.services import InformationReport
from adapters.tase2.model.objects import (
    SPECIAL_MAX_SIZE,
    DSConditions,
    ds_conditions_to_data,
    encode_mms_object_name,
    supported_features,
    tase2_version,
)
from adapters.tase2.model.points import PointType
from adapters.tase2.server.datasets import DataSetMember, make_data_set
from adapters.tase2.server.reports import full_report_max_size
from gateway.bus import CommandError, CommandFailure, PointBus
from gateway.points import PointDef, PointKind, PointValue, Quality, Validity

DOM = "ICC1"
ICC = ObjectName.dom


def base_settings(**extra: object) -> Tase2ClientSettings:
    raw: dict[str, object] = {
        "addresses": ["127.0.0.1:1102", {"host": "::1", "port": 1103}],
        "bilateral_table_id": "BLT_1",
        "domain": DOM,
        "data_sets": [{"name": "FAST", "interval": 2, "rbe": True, "critical": True}],
        "points": [{"remote": "P1", "point": "C1", "type": "Data_RealQ"}],
    }
    raw.update(extra)
    return Tase2ClientSettings.model_validate(raw)


# --------------------------------------------------------------------------- settings


def test_settings_parse_addresses_groups_and_blocks() -> None:
    s = base_settings()
    assert [str(a) for a in s.addresses] == ["127.0.0.1:1102", "[::1]:1103"]
    assert s.blocks_needed() == (1, 2)
    assert s.owned_points() == {"C1"}
    polled = base_settings(data_sets=[{"name": "SLOW", "poll_interval": 1.5}])
    assert polled.blocks_needed() == (1,)
    assert polled.group_of(polled.points[0]).polled


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"data_sets": [{"name": "X"}]}, "nothing would trigger"),
        ({"data_sets": [{"name": "1BAD", "interval": 1}]}, "identifier"),
        ({"points": [{"remote": "P1", "point": "C1", "data_set": "NOPE"}]}, "unknown data set"),
        (
            {"points": [{"remote": "P1", "point": "C1"}, {"remote": "P2", "point": "C1"}]},
            "mapped twice",
        ),
        ({"addresses": ["host:port"]}, "not a number"),
        ({"backoff_initial": 5, "backoff_max": 1}, "backoff_max"),
        ({"local_ap_title": "1.1.1.x"}, "dotted OID"),
        ({"remote_ap_title": "iso"}, "dotted OID"),
    ],
)
def test_settings_refuse_bad_input(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        base_settings(**change)


# --------------------------------------------------------------------------- planning


def _bound(name: ObjectName, points: list[PointSpec], ts: ObjectName) -> int:
    """The server's own bound for a full report of a data set planned by the client."""
    members = [
        DataSetMember(ICC(DOM, s), s, None, None, b"", SPECIAL_MAX_SIZE[s]) for s in SPECIAL_MEMBERS
    ]
    members += [
        DataSetMember(p.name, None, "x", p.type or PointType.DATA_REAL_EXTENDED, b"", p.max_size)
        for p in points
    ]
    return full_report_max_size(make_data_set(name, tuple(members)), ts)


@pytest.mark.parametrize("max_pdu", [1200, 4000, 65000])
def test_points_are_split_so_every_full_report_fits(max_pdu: int) -> None:
    types = [PointType.DATA_REALQ_TIMETAG, PointType.DATA_STATEQ, None, PointType.DATA_REAL]
    specs = [PointSpec(ICC(DOM, f"Point_{i:05d}"), types[i % 4]) for i in range(1500)]
    groups = [ClientDataSet(name="FAST", interval=1), ClientDataSet(name="POLL", poll_interval=1)]
    membership = [0 if i % 3 else 1 for i in range(len(specs))]
    plans = plan_groups(groups, specs, membership, DOM, max_pdu, 500)
    fast, poll = plans
    covered = sorted(i for s in fast.sets for i in s.indices)
    assert covered == [i for i, m in enumerate(membership) if m == 0]
    assert sorted(i for s in poll.sets for i in s.indices) == [
        i for i, m in enumerate(membership) if m == 1
    ]
    worst_ts = ICC("D" * 32, "T" * 32)
    for k, planned in enumerate(fast.sets, start=1):
        assert planned.name == ICC(DOM, f"FAST_{k:02d}")
        assert planned.members[:3] == tuple(ICC(DOM, s) for s in SPECIAL_MEMBERS)
        assert len(planned.indices) <= 500
        bound = _bound(planned.name, [specs[i] for i in planned.indices], worst_ts)
        assert bound <= max_pdu
    assert all(s.name is None and len(s.indices) <= 500 for s in poll.sets)
    if max_pdu == 65000:
        assert len(fast.sets) == 2  # 1000 points, 500 per set at most
    else:
        assert len(fast.sets) > 2


def test_a_pdu_too_small_for_one_point_is_an_error() -> None:
    specs = [PointSpec(ICC(DOM, "P" * 32), None)]
    with pytest.raises(ValueError, match="does not fit"):
        plan_groups([ClientDataSet(name="A", interval=1)], specs, [0], DOM, 200, 10)


def test_transfer_set_value_follows_the_group_and_the_servers_shape() -> None:
    group = ClientDataSet(name="FAST", interval=5, integrity=60, rbe=True, buffer_time=2)
    ds = ICC(DOM, "FAST_01")
    value = transfer_set_value(group, ds)
    assert value.conditions == (
        DSConditions.INTERVAL_TIMEOUT | DSConditions.INTEGRITY_TIMEOUT | DSConditions.OBJECT_CHANGE
    )
    assert value.status and value.rbe and value.buffer_time == 2 and value.data_set == ds


# --------------------------------------------------------------------------- start-up check


def test_startup_check_accepts_the_configured_peer_and_names_each_mismatch() -> None:
    good: list[AccessResult] = [
        tase2_version(2000, 8),
        supported_features([1, 2, 4, 5]),
        VisibleString("BLT_1"),
    ]
    result = check_startup(good, "BLT_1", ["2000.8"], [1, 2])
    assert result.ok and result.version == "2000.8" and result.blocks == (1, 2, 4, 5)
    bad = check_startup(
        [tase2_version(1996, 8), supported_features([1]), VisibleString("OTHER")],
        "BLT_1",
        ["2000.8"],
        [1, 2],
    )
    assert not bad.ok
    text = "; ".join(bad.problems)
    assert "1996.8" in text and "block(s) 2" in text and "'OTHER'" in text
    missing = check_startup([DataAccessError.OBJECT_NON_EXISTENT] * 3, "BLT_1", ["2000.8"], [1])
    assert len(missing.problems) == 3 and "object-non-existent" in missing.problems[0]


# --------------------------------------------------------------------------- link policy


def test_planner_starts_at_the_primary_alternates_and_backs_off_to_the_cap() -> None:
    planner = LinkPlanner(["primary", "backup"], initial=1.0, maximum=5.0, jitter=0.0)
    assert planner.next_attempt() == ("primary", 0.0)
    planner.up(100.0)
    planner.lost(101.0)  # a short-lived link: no fresh start, but still the initial delay
    attempts = []
    for _ in range(8):
        attempts.append(planner.next_attempt())
        planner.failed("refused")
    assert [a for a, _ in attempts] == ["backup", "primary"] * 4
    assert [d for _, d in attempts] == [1.0, 2.0, 2.0, 4.0, 4.0, 5.0, 5.0, 5.0]


def test_planner_resets_after_a_stable_link_and_throttles_logs() -> None:
    planner = LinkPlanner(["a", "b"], initial=0.5, maximum=4.0, jitter=0.0)
    planner.next_attempt()
    logged = []
    for _ in range(9):
        planner.next_attempt()
        logged.append(planner.failed("same error"))
    assert logged == [True, True, False, True, False, False, False, True, False]
    planner.up(0.0)
    planner.lost(10.0)
    assert planner.failures == 0
    assert planner.next_attempt()[1] == 0.5


def test_rate_meter_counts_over_its_window() -> None:
    meter = RateMeter(window=10)
    for t in range(20):
        meter.add(1000.0 + t, 5)
    assert meter.rate(1019.5) == pytest.approx(5.0)
    assert meter.rate(1040.0) == 0.0


# --------------------------------------------------------------------------- reports


def make_ingest(
    critical: bool = True,
) -> tuple[PointBus, ReportIngest, SetLayout, list[PointSlot]]:
    bus = PointBus()
    bus.add_owner("client")
    kinds = [PointKind.REAL, PointKind.STATE, PointKind.STATE, PointKind.DISCRETE, PointKind.REAL]
    for i, kind in enumerate(kinds):
        bus.register(PointDef(id=f"C{i}", kind=kind, usage_multiplier=2.0), "client")
    slots = [
        PointSlot("C0", ICC(DOM, "Real"), PointKind.REAL, PointType.DATA_REALQ_TIMETAG, 2.0, 1.0),
        PointSlot("C1", ICC(DOM, "StateSisco"), PointKind.STATE, None),
        PointSlot("C2", ICC(DOM, "StateLib"), PointKind.STATE, PointType.DATA_STATEQ),
        PointSlot("C3", ICC(DOM, "Tap"), PointKind.DISCRETE, PointType.DATA_DISCRETE_EXTENDED),
        PointSlot("C4", ObjectName.vmd("Freq"), PointKind.REAL, None),
    ]
    ingest = ReportIngest(bus, DOM, clock=lambda: 42.0)
    ingest.set_slots(slots)
    layout = SetLayout(ICC(DOM, "FAST_01"), (*SPECIAL_MEMBERS, *slots), critical=critical)
    ingest.add_layout(layout)
    ingest.bind(layout, ICC(DOM, "DSTransferSet01"))
    return bus, ingest, layout, slots


TS = ICC(DOM, "DSTransferSet01")
HEAD: list[AccessResult] = [
    encode_mms_object_name(TS),
    ds_conditions_to_data(DSConditions.INTERVAL_TIMEOUT),
    Integer(1_700_000_100),
]


def point_values() -> list[AccessResult]:
    suspect = 0x20
    return [
        Structure((Float32(10.0), Integer(1_700_000_001), BitString(8, bytes((suspect,))))),
        BitString(8, bytes((0x80 | 0x04,))),  # SISCO StateQ: ON, calculated
        Structure((BitString(8, b"\x40"), BitString(8, b"\x00"))),  # libtase2 form: OFF
        Structure(
            (
                Integer(7),
                Structure((Integer(1_700_000_002), Integer(250))),
                BitString(8, b"\x00"),
                Integer(3),
            )
        ),
        Float32(50.0),
    ]


def test_a_report_named_by_its_transfer_set_with_a_header_is_placed() -> None:
    """FreeTASE2-like: the variableListName is the transfer set's (VMD scope), and a header
    (its name as a string, a binary time, the conditions) comes before the members."""
    bus, ingest, _, _ = make_ingest(critical=False)
    header = (VisibleString("DSTransferSet01"), BinaryTime(0, 0), Integer(4))
    members_specials = (VisibleString(""), Integer(0), BinaryTime(0, 0))
    report = InformationReport(
        VariableListName(ObjectName.vmd("DSTransferSet01")),
        (*header, *members_specials, *point_values()),
    )
    outcome = ingest.handle(report)
    assert outcome.points == 5 and outcome.problem is None, outcome
    assert outcome.transfer_set == TS
    assert bus.get("C0").value == 21.0


def test_a_zero_time_stamp_is_taken_as_receive_time() -> None:
    bus, ingest, _, _ = make_ingest(critical=False)
    values = point_values()
    values[0] = Structure((Float32(10.0), Integer(0), BitString(8, b"\x00")))
    ingest.handle(InformationReport(VariableListName(ICC(DOM, "FAST_01")), (*HEAD, *values)))
    c0 = bus.get("C0")
    assert c0.quality.timestamp_invalid and c0.ts > 1_700_000_000


def test_full_report_delivers_values_qualities_and_timestamps_and_is_acked() -> None:
    bus, ingest, _, _ = make_ingest()
    report = InformationReport(VariableListName(ICC(DOM, "FAST_01")), (*HEAD, *point_values()))
    outcome = ingest.handle(report)
    assert outcome.points == 5 and outcome.problem is None
    c0 = bus.get("C0")
    assert c0.value == 21.0 and c0.quality.validity is Validity.SUSPECT
    assert c0.ts == 1_700_000_001.0
    c1, c2 = bus.get("C1"), bus.get("C2")
    assert (c1.value, c1.quality.source.name) == (2, "CALCULATED")
    assert (c2.value, c2.quality) == (1, Quality(timestamp_invalid=True))
    c3 = bus.get("C3")
    assert c3.value == 7 and c3.ts == pytest.approx(1_700_000_002.25)
    c4 = bus.get("C4")
    assert c4.value == 50.0 and c4.quality.timestamp_invalid  # no source time: receive time
    assert outcome.reply == InformationReport(
        VariableList(
            (
                VariableEntry(ICC(DOM, "Transfer_Report_ACK")),
                VariableEntry(ICC(DOM, "Transfer_Set_Time_Stamp")),
            )
        ),
        (encode_mms_object_name(TS), Integer(1_700_000_100)),
    )
    assert ingest.stats.acks == 1 and ingest.stats.last_report == 42.0


def test_rbe_report_is_matched_by_name_in_any_order() -> None:
    bus, ingest, _, _ = make_ingest(critical=False)
    values = point_values()
    names = [ICC(DOM, "Transfer_Set_Name"), ObjectName.vmd("Freq"), ICC(DOM, "Real")]
    report = InformationReport(
        VariableList(tuple(VariableEntry(n) for n in names)), (HEAD[0], values[4], values[0])
    )
    outcome = ingest.handle(report)
    assert outcome.points == 2 and outcome.reply is None and outcome.transfer_set == TS
    assert bus.get("C4").value == 50.0 and bus.get("C0").value == 21.0


def test_unknown_and_malformed_reports_are_counted_and_nacked_when_critical() -> None:
    bus, ingest, _, _ = make_ingest()
    before = bus.get("C0")
    unknown = ingest.handle(
        InformationReport(VariableListName(ICC(DOM, "OTHER")), (*HEAD, Float32(1.0)))
    )
    assert unknown.reply is not None and unknown.problem is not None
    assert unknown.reply.spec == VariableList((VariableEntry(ICC(DOM, "Transfer_Report_NACK")),))
    short = ingest.handle(InformationReport(VariableListName(ICC(DOM, "FAST_01")), tuple(HEAD)))
    assert short.reply is not None and "members" in (short.problem or "")
    bad_point = [*point_values()]
    bad_point[0] = VisibleString("garbage")
    partly = ingest.handle(
        InformationReport(VariableListName(ICC(DOM, "FAST_01")), (*HEAD, *bad_point))
    )
    assert partly.reply is not None and partly.reply.spec.items[0].name.item.endswith("NACK")
    assert bus.get("C0").quality.validity is Validity.NOT_VALID
    assert bus.get("C0").value == before.value
    assert bus.get("C4").value == 50.0  # the good points were applied
    info = ingest.handle(
        InformationReport(VariableList((VariableEntry(ObjectName.aa("Info_Mess")),)), (Integer(1),))
    )
    assert info.reply is None and info.problem is not None
    assert ingest.stats.unknown == 2 and ingest.stats.malformed == 2 and ingest.stats.nacks == 3
    raw = ingest.handle_pdu(b"\xa3\x05\xa0\x03\xff\xff\xff")
    assert raw.problem is not None and raw.reply is None


def test_access_errors_in_a_report_make_the_point_not_valid() -> None:
    bus, ingest, _, _ = make_ingest(critical=False)
    values = point_values()
    values[4] = DataAccessError.TEMPORARILY_UNAVAILABLE
    ingest.handle(InformationReport(VariableListName(ICC(DOM, "FAST_01")), (*HEAD, *values)))
    assert bus.get("C4").quality.validity is Validity.NOT_VALID


def test_fast_path_and_general_path_agree() -> None:
    bus_a, bus_b = PointBus(), PointBus()
    slots = []
    for bus in (bus_a, bus_b):
        bus.add_owner("c")
        for i in range(50):
            bus.register(PointDef(id=f"C{i}"), "c")
    for i in range(50):
        slots.append(
            PointSlot(f"C{i}", ICC(DOM, f"R{i}"), PointKind.REAL, PointType.DATA_REALQ_TIMETAG, 0.5)
        )
    results: list[AccessResult] = [*HEAD]
    for i in range(50):
        flags = (0x00, 0x10, 0x20)[i % 3]
        results.append(
            Structure(
                (Float32(i * 1.5), Integer(1_700_000_000 + i % 4), BitString(8, bytes((flags,))))
            )
        )
    report = InformationReport(VariableListName(ICC(DOM, "DS_01")), tuple(results))
    raw = encode_pdu(Unconfirmed(report))
    outs = []
    for bus, use_bytes in ((bus_a, True), (bus_b, False)):
        ingest = ReportIngest(bus, DOM)
        ingest.set_slots(slots)
        layout = SetLayout(ICC(DOM, "DS_01"), (*SPECIAL_MEMBERS, *slots), critical=True)
        assert layout.fast_prefix == 3
        ingest.add_layout(layout)
        ingest.bind(layout, TS)
        outs.append(ingest.handle_pdu(raw) if use_bytes else ingest.handle(report))
    assert outs[0] == outs[1] and outs[0].points == 50
    assert bus_a.snapshot() == bus_b.snapshot()
    assert bus_a.get("C3") == PointValue("C3", 2.25, Quality(Validity.VALID), 1_700_000_003.0, 1)


def test_polled_values_go_to_the_bus() -> None:
    bus, ingest, _, slots = make_ingest()
    results = point_values()
    results[1] = DataAccessError.OBJECT_ACCESS_DENIED
    assert ingest.apply_read(slots, results) == 5
    assert bus.get("C1").quality.validity is Validity.NOT_VALID
    assert bus.get("C0").value == 21.0
    assert ingest.apply_read(slots, results[:2]) == 0


# --------------------------------------------------------------------------- writes


def test_commands_become_write_values_and_errors_become_failures() -> None:
    real = PointSlot("C0", ICC(DOM, "SP"), PointKind.REAL, PointType.DATA_REAL, 2.0, 1.0)
    assert write_value(real, 21.0) == Float32(10.0)
    state = PointSlot("C1", ICC(DOM, "BRK"), PointKind.STATE, None)
    assert write_value(state, 2) == BitString(8, b"\x80")
    tap = PointSlot("C2", ICC(DOM, "TAP"), PointKind.DISCRETE, PointType.DATA_DISCRETEQ)
    assert write_value(tap, 7.4) == Structure((Integer(7), BitString(8, b"\x00")))
    for bad in (float("nan"), True):
        with pytest.raises(CommandError) as info:
            write_value(real, bad)
        assert info.value.failure is CommandFailure.INVALID_VALUE
    with pytest.raises(CommandError):
        write_value(state, 5)
    assert failure_of(DataAccessError.OBJECT_ACCESS_DENIED) is CommandFailure.NOT_PERMITTED
    assert failure_of(DataAccessError.TEMPORARILY_UNAVAILABLE) is CommandFailure.BUSY
    assert failure_of(DataAccessError.OBJECT_NON_EXISTENT) is CommandFailure.UNKNOWN_POINT
    assert failure_of(DataAccessError.TYPE_INCONSISTENT) is CommandFailure.INVALID_VALUE
