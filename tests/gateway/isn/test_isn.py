"""Tests of the NERC ISN data point definition file support (gateway.isn)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from gateway.isn import (
    Finding,
    IsnError,
    IsnFile,
    IsnHeader,
    IsnRecord,
    Severity,
    diff_isn,
    effective_records,
    export_points,
    format_isn,
    format_period,
    isn_file_name,
    load_points,
    parse_isn,
    parse_isn_date,
    parse_isn_file_name,
    parse_period,
    points_from_isn,
    read_isn,
    write_isn,
)
from gateway.points import PointDef, PointKind
from tests.support import REPO

FILES = Path(__file__).parent / "isn_files"
SPEC_SAMPLE = FILES / "spec_sample.csv"
DEMO = REPO / "mappings" / "isn" / "DEMO01may2025.csv"
E, W = Severity.ERROR, Severity.WARNING

# file in isn_files/invalid -> (severity, line, field, part of the message)
EXPECTED: dict[str, tuple[Severity, int, str, str]] = {
    "accumper_bad": (E, 4, "AccumPer", "integer followed by S, M, H or D"),
    "accumper_missing": (E, 4, "AccumPer", "required"),
    "adder_missing": (E, 6, "UsageAdder", "required for the analog DataType Flow"),
    "adder_not_number": (E, 6, "UsageAdder", "must be a number"),
    "basekv_missing": (E, 5, "BasekV", "required"),
    "basekv_not_number": (E, 4, "BasekV", "as a number"),
    "blank_line": (W, 5, "file", "blank line"),
    "bom": (W, 1, "file", "byte order mark"),
    "changecode_lowercase": (E, 4, "ChangeCode", "did you mean ADD?"),
    "changecode_unknown": (E, 4, "ChangeCode", "unknown ChangeCode 'MOD'"),
    "commdate_missing": (E, 4, "CommDate", "required"),
    "commdate_not_calendar": (E, 4, "CommDate", "not a calendar date"),
    "commdate_two_digit_year": (E, 4, "CommDate", "MM/DD/YYYY"),
    "datatype_missing": (E, 4, "DataType", "required"),
    "datatype_unknown": (E, 4, "DataType", "unknown DataType 'Volt'"),
    "date_without_leading_zero": (W, 4, "CommDate", "read as 08/01/1997"),
    "decomm_bad": (E, 4, "DecommDate", "MM/DD/YYYY"),
    "decomm_before_comm": (E, 4, "DecommDate", "must be after CommDate"),
    "del_without_decomm": (E, 5, "DecommDate", "DEL record needs a DecommDate"),
    "devname_missing": (E, 4, "DevName", "required"),
    "devtype_mi_misuse": (W, 4, "DevType", "meant for Res, Dmd, ACE, TimeErr and Int"),
    "devtype_unknown": (E, 4, "DevType", "unknown DevType 'XX'"),
    "empty": (E, 1, "file", "empty"),
    "empty_record": (W, 5, "file", "empty record"),
    "header1_extra_field": (E, 2, "Reqstr", "extra value 'extra'"),
    "header1_name": (E, 1, "UpDate", "must be UpDate, found 'Update'"),
    "header2_extra": (E, 3, "Comment", "extra column"),
    "header2_missing": (E, 3, "UsageAdder", "missing"),
    "header2_order": (E, 3, "CommDate", "out of order"),
    "id_bad_char": (E, 4, "ICCPObjectID", "character '-'"),
    "id_duplicate": (E, 6, "ICCPObjectID", "also used by the record on line 4"),
    "id_first_char": (E, 4, "ICCPObjectID", "start with a letter"),
    "id_prefix": (E, 4, "ICCPObjectID", "begin with the SiteID CP"),
    "id_too_long": (E, 4, "ICCPObjectID", "at most 32"),
    "location_missing": (E, 5, "Location", "required for DevType SW"),
    "missing_header1": (E, 1, "ISNVersNum", "starts with Header_2"),
    "missing_header1_data": (E, 2, "ISNVersNum", "data record"),
    "multiplier_missing": (E, 4, "UsageMultiplier", "required for the analog DataType V"),
    "multiplier_not_number": (E, 4, "UsageMultiplier", "must be a number"),
    "no_records": (W, 3, "file", "no data records"),
    "non_ascii": (W, 4, "DevName", "not plain ASCII"),
    "not_utf8": (E, 4, "file", "not ASCII text"),
    "padded_leading": (E, 4, "DevName", "leading or trailing blanks"),
    "padded_trailing": (E, 6, "Location", "leading or trailing blanks"),
    "ptreq_bad": (E, 4, "PtReq", "must be R"),
    "ptreq_r_with_id": (W, 4, "PtReq", "already has one"),
    "quoted_comma": (W, 4, "DevName", "comma"),
    "rep_cycle": (E, 4, "HostID", "circle"),
    "rep_date_gap": (W, 4, "DecommDate", "missing or doubled"),
    "rep_hostid_syntax": (E, 4, "HostID", "ADD(<ICCPObjectID>)"),
    "rep_self": (E, 4, "HostID", "its own ICCPObjectID"),
    "rep_target_missing": (E, 4, "HostID", "no record of the file has that ICCPObjectID"),
    "rep_target_not_add": (E, 4, "HostID", "must be an ADD record"),
    "rep_without_decomm": (E, 4, "DecommDate", "REP record needs a DecommDate"),
    "rep_without_id": (E, 4, "ICCPObjectID", "needs one"),
    "reqdate_missing": (E, 2, "ReqDate", "PtReq R"),
    "reqstr_bad": (E, 2, "Reqstr", "not a NERC Site ID"),
    "reqstr_missing": (E, 2, "Reqstr", "required"),
    "siteid_form": (E, 5, "SiteID", "not a NERC Site ID"),
    "siteid_missing": (E, 5, "SiteID", "required"),
    "siteid_mixed": (W, 6, "SiteID", "differs from CP"),
    "source_missing": (E, 4, "Source", "required"),
    "source_unknown": (E, 4, "Source", "unknown Source 'X'"),
    "targfresh_bad": (E, 4, "TargFresh", "integer followed by"),
    "targfresh_missing": (E, 4, "TargFresh", "required when an ICCPObjectID is given"),
    "targfresh_schedule": (W, 6, "TargFresh", "0S for Source S"),
    "too_many_fields": (E, 4, "UsageAdder", "19 fields"),
    "truncated": (E, 2, "file", "ends before Header_2"),
    "units_missing_analog": (E, 4, "Units", "required for DataType V"),
    "units_missing_state": (E, 5, "Units", "required for DataType State"),
    "units_not_for_datatype": (E, 4, "Units", "not valid for DataType V"),
    "units_unknown": (E, 4, "Units", "did you mean kV?"),
    "unterminated_quote": (E, 5, "DevName", "never closed"),
    "update_bad": (E, 2, "UpDate", "MM/DD/YYYY"),
    "update_missing": (E, 2, "UpDate", "required"),
    "version_old": (W, 2, "ISNVersNum", "older than 2.3"),
    "version_unknown": (E, 2, "ISNVersNum", "unknown ISNVersNum '3.0'"),
}


def spec_sample() -> IsnFile:
    result = read_isn(SPEC_SAMPLE)
    assert result.isn is not None
    return result.isn


def record_with_id(isn: IsnFile, object_id: str) -> IsnRecord:
    return next(r for r in isn.records if r.iccp_object_id == object_id)


def ids_in_force(isn: IsnFile, day: date) -> set[str]:
    return {e.record.iccp_object_id for e in effective_records(isn, day)} - {""}


# -- the spec's sample ------------------------------------------------------------------


def test_spec_sample_reads_with_one_warning_for_record_8_date() -> None:
    result = read_isn(SPEC_SAMPLE)
    assert result.isn is not None
    assert result.isn.header == IsnHeader("2.3", "05/01/2004")
    assert [r.line for r in result.isn.records] == list(range(4, 15))
    # Record 8 writes 10/1/1998: readable, so a warning, not an error.
    assert result.findings == [
        Finding(
            W,
            8,
            "DecommDate",
            "10/1/1998 is not in MM/DD/YYYY form (month and day take two digits); "
            "read as 10/01/1998",
        )
    ]
    assert result.ok


def test_spec_records_4_and_5_are_a_rep_add_pair() -> None:
    isn = spec_sample()
    rep, add = isn.records[0], isn.records[1]
    assert (rep.change_code, rep.iccp_object_id, rep.decomm_date) == (
        "REP",
        "CP_1067",
        "03/31/2002",
    )
    assert rep.replacement_id == "CP_1234"
    assert (add.change_code, add.iccp_object_id, add.comm_date) == ("ADD", "CP_1234", "03/31/2002")
    before = effective_records(isn, date(2002, 3, 30))
    old = next(e for e in before if e.record is rep)
    assert old.replaced_by == "CP_1234"
    assert "CP_1234" not in ids_in_force(isn, date(2002, 3, 30))
    after = effective_records(isn, date(2002, 3, 31))
    new = next(e for e in after if e.record is add)
    assert new.replaces == ("CP_1067",)
    assert "CP_1067" not in ids_in_force(isn, date(2002, 3, 31))


def test_spec_record_6_is_negated_application_flow_with_5_minute_freshness() -> None:
    points = {p.id: p for p in points_from_isn(spec_sample(), date(2004, 5, 1))}
    flow = points["CP_1068"]
    assert flow.usage_multiplier == -1.0
    assert flow.usage_adder == 0.0
    assert flow.target_freshness == 300
    assert (flow.kind, flow.units) == (PointKind.REAL, "MW")
    assert flow.isn["Source"] == "A"
    assert flow.isn["HostID"] == "APP3421"


def test_spec_record_7_has_no_iccp_object_id_so_is_no_point() -> None:
    isn = spec_sample()
    record = isn.records[3]
    assert (record.line, record.accum_per, record.iccp_object_id) == (7, "1H", "")
    assert record in [e.record for e in effective_records(isn, date(2004, 5, 1))]
    assert all(p.isn.get("DevType") != "SY" for p in points_from_isn(isn, date(2004, 5, 1)))


def test_spec_record_8_is_deleted_on_10_01_1998() -> None:
    isn = spec_sample()
    record = record_with_id(isn, "CP_ST10001")
    assert record.change_code == "DEL"
    assert "CP_ST10001" in ids_in_force(isn, date(1998, 9, 30))
    assert "CP_ST10001" not in ids_in_force(isn, date(1998, 10, 1))


def test_spec_record_9_state_change_without_location_is_valid() -> None:
    record = spec_sample().records[5]
    # A line spans stations, so Location and BasekV are not required; Units En/De is given;
    # the record stops after ChangeCode (trailing commas are optional).
    assert (record.data_type, record.units, record.dev_type, record.location) == (
        "State",
        "En/De",
        "LN",
        "",
    )
    assert (record.change_code, record.usage_multiplier) == ("CHG", "")


def test_spec_status_and_tap_records_map_to_point_kinds() -> None:
    isn = spec_sample()
    points = {p.id: p for p in points_from_isn(isn, date(2004, 5, 1))}
    unit = points["CP_236"]
    assert (unit.kind, unit.units, unit.target_freshness) == (PointKind.STATE, "On/Off", 2)
    assert unit.usage_multiplier == 1.0
    tap_angle, tap_ratio = isn.records[7], isn.records[8]
    assert (tap_angle.data_type, tap_angle.units) == ("Tap", "deg")
    assert (tap_ratio.data_type, tap_ratio.units) == ("Tap", "Ratio")


def test_spec_record_13_is_pending_and_loaded_unless_excluded() -> None:
    isn = spec_sample()
    record = record_with_id(isn, "CP_100")
    assert record.is_pending
    assert (record.change_code, record.host_id, record.source) == ("CHG", "AGC1", "C")
    pending = {p.id: p for p in points_from_isn(isn, date(2004, 5, 1))}["CP_100"]
    assert pending.isn["PtReq"] == "X"
    without = points_from_isn(isn, date(2004, 5, 1), include_pending=False)
    assert "CP_100" not in {p.id for p in without}


def test_spec_points_in_force_on_the_file_date() -> None:
    ids = {p.id for p in points_from_isn(spec_sample(), date(2004, 5, 1))}
    assert ids == {"CP_1234", "CP_1068", "CP_236", "CP_100"}


# -- the corpus -------------------------------------------------------------------------


def test_every_invalid_file_has_an_expectation() -> None:
    names = {p.stem for p in (FILES / "invalid").glob("*.csv")}
    assert names == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_file_yields_its_finding(name: str) -> None:
    severity, line, field, fragment = EXPECTED[name]
    findings = read_isn(FILES / "invalid" / f"{name}.csv").findings
    matching = [
        f
        for f in findings
        if (f.severity, f.line, f.field) == (severity, line, field) and fragment in f.message
    ]
    assert matching, "\n".join(f.format(name) for f in findings)
    if severity is W:
        assert not any(f.is_error for f in findings), findings


@pytest.mark.parametrize("path", sorted((FILES / "valid").glob("*.csv")), ids=lambda p: p.stem)
def test_valid_file_yields_no_finding(path: Path) -> None:
    result = read_isn(path)
    assert result.findings == []
    assert result.ok


def test_demo_mapping_is_valid() -> None:
    assert read_isn(DEMO).findings == []


def test_lf_and_crlf_read_the_same() -> None:
    lf = read_isn(FILES / "valid" / "base_lf.csv").isn
    crlf = read_isn(FILES / "valid" / "base_crlf.csv").isn
    assert lf is not None and crlf is not None
    assert lf.records == crlf.records
    assert [r.line for r in lf.records] == [r.line for r in crlf.records]


def test_trailing_commas_are_optional() -> None:
    base = read_isn(FILES / "valid" / "base_lf.csv").isn
    short = read_isn(FILES / "valid" / "no_trailing_commas.csv").isn
    assert base is not None and short is not None
    assert base.records == short.records


def test_blanks_are_reported_not_stripped() -> None:
    isn = read_isn(FILES / "invalid" / "padded_leading.csv").isn
    assert isn is not None
    assert isn.records[0].dev_name == " Section 3"


def test_quoted_field_keeps_its_value() -> None:
    result = read_isn(FILES / "invalid" / "quoted_comma.csv")
    assert result.isn is not None
    assert result.isn.records[0].dev_name == "Section 3, North"


def test_undecodable_file_gives_a_finding_not_an_exception() -> None:
    result = parse_isn(b"\xff\xfe\x00garbage")
    assert result.isn is None
    assert [(f.severity, f.field) for f in result.findings] == [(E, "file")]


def test_nul_byte_in_a_quoted_file_gives_a_finding() -> None:
    data = (SPEC_SAMPLE.read_bytes()).replace(b"Bus Tie", b'"Bus\x00Tie"')
    result = parse_isn(data)
    assert result.isn is None or has_error(result.findings)


def has_error(findings: list[Finding]) -> bool:
    return any(f.is_error for f in findings)


# -- writer and file names --------------------------------------------------------------


@pytest.mark.parametrize("path", [DEMO, FILES / "valid" / "spec_sample_fixed.csv"], ids=str)
def test_written_file_round_trips_byte_for_byte(path: Path) -> None:
    first = format_isn(read_isn(path).file_or_raise())
    again = format_isn(parse_isn(first.encode()).file_or_raise())
    assert again == first
    assert parse_isn(first).findings == []


def test_demo_file_is_writer_output() -> None:
    assert format_isn(read_isn(DEMO).file_or_raise()).encode() == DEMO.read_bytes()


def test_writer_emits_version_2_3_with_crlf_and_all_columns() -> None:
    isn = read_isn(FILES / "invalid" / "version_old.csv").file_or_raise()
    text = format_isn(isn)
    lines = text.split("\r\n")
    assert lines[1] == "2.3,05/01/2004,,"
    assert all(line.count(",") == 17 for line in lines[2:-1])
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")


def test_writer_quotes_only_what_needs_it_and_round_trips() -> None:
    isn = read_isn(FILES / "invalid" / "quoted_comma.csv").file_or_raise()
    text = format_isn(isn)
    assert '"Section 3, North"' in text
    assert format_isn(parse_isn(text).file_or_raise()) == text


def test_writer_refuses_an_invalid_file() -> None:
    isn = IsnFile(IsnHeader(update="05/01/2004"), [IsnRecord(4, site_id="CP", source="Q")])
    with pytest.raises(IsnError) as caught:
        format_isn(isn)
    assert any(f.field == "Source" for f in caught.value.errors)


def test_write_isn_to_directory_uses_the_naming_convention(tmp_path: Path) -> None:
    isn = read_isn(DEMO).file_or_raise()
    written = write_isn(isn, tmp_path)
    assert parse_isn_file_name(written.name) == ("DEMO", date.today())
    assert written.read_bytes() == DEMO.read_bytes()


def test_file_names_follow_site_day_month_year() -> None:
    assert isn_file_name("ABCD", date(2000, 1, 20)) == "ABCD20jan2000.csv"
    assert isn_file_name("CP", date(2004, 5, 1)) == "CP01may2004.csv"
    assert isn_file_name("ABCD", date(2000, 1, 31), sequence=1) == "ABCD01feb2000.csv"
    assert parse_isn_file_name("ABCD20jan2000.csv") == ("ABCD", date(2000, 1, 20))
    assert parse_isn_file_name("AB1220Jan2000.csv") == ("AB12", date(2000, 1, 20))
    assert parse_isn_file_name("points.csv") is None
    assert parse_isn_file_name("CP31feb2000.csv") is None


def test_dates_and_periods() -> None:
    assert parse_isn_date("03/31/2002") == date(2002, 3, 31)
    assert parse_isn_date("10/1/1998") == date(1998, 10, 1)
    with pytest.raises(ValueError):
        parse_isn_date("2002-03-31")
    assert [parse_period(p) for p in ("0S", "6S", "5M", "1H", "2D")] == [0, 6, 300, 3600, 172800]
    with pytest.raises(ValueError):
        parse_period("5")
    assert [format_period(s) for s in (6, 300, 3600, 90, 86400)] == ["6S", "5M", "1H", "90S", "1D"]


# -- diff -------------------------------------------------------------------------------


def changed_demo() -> IsnFile:
    isn = read_isn(DEMO).file_or_raise()
    records = list(isn.records)
    by_id = {r.iccp_object_id: i for i, r in enumerate(records)}
    flow = records[by_id["DEMO_ET230_MW"]]
    records[by_id["DEMO_ET230_MW"]] = IsnRecord(**{**vars_of(flow), "usage_multiplier": "1.0"})
    del records[by_id["DEMO_NOR_TEMP"]]
    freq = records[by_id["DEMO_FREQ"]]
    records[by_id["DEMO_FREQ"]] = IsnRecord(
        **{
            **vars_of(freq),
            "decomm_date": "01/01/2026",
            "change_code": "REP",
            "host_id": "ADD(DEMO_SYS_HZ)",
        }
    )
    records.append(
        IsnRecord(
            **{
                **vars_of(freq),
                "comm_date": "01/01/2026",
                "change_code": "ADD",
                "iccp_object_id": "DEMO_SYS_HZ",
            }
        )
    )
    unit_2 = (
        "DEMO,T,0S,Gen,MW,GN,Unit 2,North,22,01/01/2025,,ADD,,DEMO_NOR_G2_MW,NOR.G2.MW,2S,1.0,0.0"
    )
    records.append(IsnRecord(0, *unit_2.split(",")))
    return IsnFile(replace(isn.header, update="06/01/2025"), records)


def vars_of(record: IsnRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in record.__slots__}


def test_diff_reports_added_removed_changed_and_replaced() -> None:
    old = read_isn(DEMO).file_or_raise()
    new = parse_isn(format_isn(changed_demo())).file_or_raise()
    diff = diff_isn(old, new)
    assert [r.iccp_object_id for r in diff.added] == ["DEMO_NOR_G2_MW"]
    assert [r.iccp_object_id for r in diff.removed] == ["DEMO_NOR_TEMP"]
    assert [(c.key, [(f.field, f.old, f.new) for f in c.changes]) for c in diff.changed] == [
        ("DEMO_ET230_MW", [("UsageMultiplier", "-1.0", "1.0")])
    ]
    assert [(r.old_id, r.new_id, r.on) for r in diff.replaced] == [
        ("DEMO_FREQ", "DEMO_SYS_HZ", "01/01/2026")
    ]
    assert [(c.field, c.old, c.new) for c in diff.header] == [
        ("UpDate", "05/01/2025", "06/01/2025")
    ]
    document = json.loads(json.dumps(diff.to_dict()))
    assert document["replaced"][0]["new_id"] == "DEMO_SYS_HZ"
    assert document["changed"][0]["fields"][0]["field"] == "UsageMultiplier"
    text = diff.format_text()
    assert text.splitlines()[0] == "site DEMO: 1 added, 1 removed, 1 changed, 1 replaced"
    assert "replaced DEMO_FREQ -> DEMO_SYS_HZ on 01/01/2026" in text
    assert "UsageMultiplier '-1.0' -> '1.0'" in text


def test_diff_of_a_file_with_itself_is_empty() -> None:
    isn = read_isn(DEMO).file_or_raise()
    assert diff_isn(isn, isn).is_empty


def test_diff_refuses_files_of_two_sites() -> None:
    with pytest.raises(IsnError, match="different sites"):
        diff_isn(spec_sample(), read_isn(DEMO).file_or_raise())


def test_diff_matches_records_without_id_by_what_they_describe() -> None:
    sample = spec_sample()
    assert diff_isn(sample, sample).is_empty
    records = [r for r in sample.records if r.line != 7]
    diff = diff_isn(sample, IsnFile(sample.header, records))
    assert [r.line for r in diff.removed] == [7]


# -- loading and exporting --------------------------------------------------------------


def test_load_points_in_force_today_and_on_a_date() -> None:
    before = {p.id for p in load_points(DEMO, date(2025, 6, 1))}
    after = {p.id for p in load_points(DEMO, date(2025, 7, 1))}
    assert "DEMO_SOU_V2" in before and "DEMO_SOU_BUS2_KV" not in before
    assert "DEMO_SOU_BUS2_KV" in after and "DEMO_SOU_V2" not in after
    assert len(load_points(DEMO)) >= 19


def test_load_points_maps_fields() -> None:
    points = {p.id: p for p in load_points(DEMO, date(2025, 7, 1))}
    tap = points["DEMO_SOU_T1_TAP"]
    assert (tap.kind, tap.units, tap.target_freshness) == (PointKind.DISCRETE, "Pos", 10)
    assert points["DEMO_SI_MW"].target_freshness is None  # schedule: 0S
    replaced = points["DEMO_SOU_BUS2_KV"]
    assert replaced.isn["Replaces"] == "DEMO_SOU_V2"
    assert "ICCPObjectID" not in replaced.isn and "UsageMultiplier" not in replaced.isn
    assert replaced.description == "Voltage kV, Bus Section South 138 Bus 2, South 138 kV"


def test_load_points_raises_with_the_findings() -> None:
    with pytest.raises(IsnError) as caught:
        load_points(FILES / "invalid" / "units_unknown.csv")
    assert [(f.line, f.field) for f in caught.value.errors] == [(4, "Units")]


def test_load_points_accepts_warnings() -> None:
    assert load_points(FILES / "invalid" / "version_old.csv", date(2004, 5, 1))


def test_export_round_trips_loaded_points() -> None:
    points = load_points(DEMO, date(2025, 6, 1))
    text = export_points(points, "DEMO", update=date(2025, 6, 1))
    result = parse_isn(text)
    assert result.findings == []
    again = points_from_isn(result.file_or_raise(), date(2025, 6, 1))
    assert [p.id for p in again] == [p.id for p in points]
    assert "HostID" not in again[1].isn  # DEMO_SOU_V2's successor is not exported
    assert again[0].isn == points[0].isn
    for before, after in zip(points, again, strict=True):
        assert (after.kind, after.units, after.usage_multiplier, after.usage_adder) == (
            before.kind,
            before.units,
            before.usage_multiplier,
            before.usage_adder,
        )
        assert after.target_freshness == before.target_freshness


def test_export_plain_points_with_defaults() -> None:
    points = [
        PointDef(id="XY_MW", units="MW", target_freshness=4),
        PointDef(id="XY_CB", kind=PointKind.STATE, description="CB 1"),
    ]
    text = export_points(points, "XY", update=date(2024, 2, 3))
    lines = text.splitlines()
    assert lines[1] == "2.3,02/03/2024,,"
    assert lines[3] == "XY,T,0S,Flow,MW,MI,XY_MW,,,02/03/2024,,,,XY_MW,,4S,1.0,0.0"
    assert lines[4] == "XY,T,0S,State,Op/Cl,MI,CB 1,,,02/03/2024,,,,XY_CB,,0S,1.0,0.0"


def test_export_names_the_point_that_cannot_be_written() -> None:
    with pytest.raises(IsnError) as caught:
        export_points([PointDef(id="OTHER_1", units="MW")], "XY")
    assert any("point OTHER_1" in f.message for f in caught.value.errors)


def test_config_naming_an_isn_file_gets_its_points() -> None:
    config = pytest.importorskip("gateway.config")
    document = {"point_files": [{"path": str(DEMO), "format": "isn", "as_of": "2025-06-01"}]}
    loaded = config.build_config(document, "test.yaml")
    assert {p.id for p in loaded.points} == {p.id for p in load_points(DEMO, date(2025, 6, 1))}
