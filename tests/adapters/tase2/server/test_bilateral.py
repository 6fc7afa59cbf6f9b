"""Bilateral tables: peer matching, compiled access views, GetNameList, glob speed."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from adapters.tase2.iso.acse import UserDiagnostic
from adapters.tase2.mms.data import DataAccessError
from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.model.points import PointType
from adapters.tase2.server.bilateral import (
    BilateralConfigError,
    BilateralTableConfig,
    PeerRejected,
    check_tables,
    compile_table,
    is_pattern,
    match_peer,
    page_names,
    resolve_rules,
)
from gateway.points import PointKind

KINDS = {
    "Line1_MW": PointKind.REAL,
    "Line1_MVAR": PointKind.REAL,
    "Line2_MW": PointKind.REAL,
    "Breaker1": PointKind.STATE,
    "Tap1": PointKind.DISCRETE,
    "Secret": PointKind.REAL,
    "Freq": PointKind.REAL,
}


def table(**extra: object) -> BilateralTableConfig:
    data: dict[str, object] = {
        "id": "BLT_DEMO_1",
        "domain": "ICC1",
        "peer": {"ap_title": "1.1.1.999", "ae_qualifier": 12},
        "points": [
            {"match": "Line*_MW"},
            {"match": "Line1_MVAR", "type": "Data_RealQ"},
            {"match": "Breaker1", "write": True},
            {"match": "Tap1", "read": False, "write": True},
            {"match": "Freq", "scope": "vcc", "type": "Data_Real"},
        ],
    }
    data.update(extra)
    return BilateralTableConfig.model_validate(data)


def test_peer_matching() -> None:
    a = table()
    b = table(id="BLT_2", domain="ICC2", peer={"ap_title": "1.2.3", "addresses": ["10.0.0.0/8"]})
    assert match_peer([a, b], "1.1.1.999", 12) is a
    assert match_peer([a, b], "1.2.3", None, "10.1.2.3") is b
    refused = match_peer([a, b], "1.2.3", None, "192.168.1.1")
    assert isinstance(refused, PeerRejected)
    assert refused.diagnostic == UserDiagnostic.CALLING_AP_TITLE_NOT_RECOGNIZED
    assert int(refused.diagnostic) == 3
    assert isinstance(match_peer([a], "1.1.1.999", 13), PeerRejected)
    assert isinstance(match_peer([a], None, 12), PeerRejected)
    assert isinstance(match_peer([], "1.1.1.999", 12), PeerRejected)


def test_config_validation() -> None:
    with pytest.raises(ValidationError, match="dotted OID"):
        table(peer={"ap_title": "not-an-oid"})
    with pytest.raises(ValidationError, match="identifier"):
        table(domain="ICC 1")
    with pytest.raises(ValidationError, match="twice"):
        table(points=[{"match": "A"}, {"match": "A"}])
    with pytest.raises(ValidationError):
        table(points=[{"match": "A", "type": "Data_Nope"}])
    with pytest.raises(BilateralConfigError, match="used twice"):
        check_tables([table(), table(domain="ICC9")])


def test_compiled_view_rights_and_errors() -> None:
    view = compile_table(table(), KINDS)
    icc = ObjectName.dom
    line = view.check_read(icc("ICC1", "Line1_MW"))
    assert not isinstance(line, DataAccessError)
    assert line.type is PointType.DATA_REALQ_TIMETAG  # default for real points
    mvar = view.check_read(icc("ICC1", "Line1_MVAR"))
    assert not isinstance(mvar, DataAccessError) and mvar.type is PointType.DATA_REALQ
    # write right only where given
    assert view.check_write(icc("ICC1", "Line1_MW")) is DataAccessError.OBJECT_ACCESS_DENIED
    assert not isinstance(view.check_write(icc("ICC1", "Breaker1")), DataAccessError)
    # write-only point: reading is denied
    assert view.check_read(icc("ICC1", "Tap1")) is DataAccessError.OBJECT_ACCESS_DENIED
    # a point the server has, but not for this peer: denied; unknown name: non-existent
    assert view.check_read(icc("ICC1", "Secret")) is DataAccessError.OBJECT_ACCESS_DENIED
    assert view.check_read(icc("ICC1", "Nothing")) is DataAccessError.OBJECT_NON_EXISTENT
    # another domain: denied, whatever the name
    assert view.check_read(icc("ICC2", "Line1_MW")) is DataAccessError.OBJECT_ACCESS_DENIED
    assert view.check_read(icc("ICC2", "Nothing")) is DataAccessError.OBJECT_ACCESS_DENIED
    # VCC scope
    freq = view.check_read(ObjectName.vmd("Freq"))
    assert not isinstance(freq, DataAccessError) and freq.type is PointType.DATA_REAL
    assert view.check_read(ObjectName.vmd("Line1_MW")) is DataAccessError.OBJECT_ACCESS_DENIED
    assert view.check_read(icc("ICC1", "Freq")) is DataAccessError.OBJECT_ACCESS_DENIED


def test_name_lists_show_only_what_the_table_allows() -> None:
    view = compile_table(table(), KINDS)
    assert view.variable_names(Scope.DOMAIN) == [
        "Breaker1",
        "Line1_MVAR",
        "Line1_MW",
        "Line2_MW",
        "Tap1",
    ]
    assert view.variable_names(Scope.VMD) == ["Freq"]
    merged = view.merge_names(Scope.DOMAIN, ["Bilateral_Table_ID", "DSTransferSet01", "Tap1"])
    assert merged == sorted(set(merged)) and "Bilateral_Table_ID" in merged
    page, more = page_names(merged, None, 3)
    assert page == merged[:3] and more
    page2, more2 = page_names(merged, page[-1], 100)
    assert page + page2 == merged and not more2


def test_type_that_cannot_carry_the_kind_is_a_clear_error() -> None:
    bad = table(points=[{"match": "*", "type": "Data_RealQ"}])
    with pytest.raises(BilateralConfigError, match="Breaker1"):
        compile_table(bad, KINDS)


def test_exact_ids_win_over_patterns_and_first_pattern_wins() -> None:
    rules = table(
        points=[
            {"match": "Line*", "read": False},
            {"match": "Line1_*", "write": True},
            {"match": "Line1_MW", "type": "Data_RealQ"},
        ]
    ).points
    got = resolve_rules(rules, sorted(KINDS))
    assert got == {"Line1_MW": 2, "Line1_MVAR": 0, "Line2_MW": 0}


@given(
    st.lists(st.from_regex(r"[A-C][a-c0-2_]{0,4}", fullmatch=True), unique=True, max_size=40),
    st.lists(st.from_regex(r"[A-C*?][a-c0-2_*?]{0,3}", fullmatch=True), min_size=1, max_size=4),
)
def test_glob_resolution_agrees_with_fnmatch(ids: list[str], patterns: list[str]) -> None:
    config = table(points=[{"match": p} for p in dict.fromkeys(patterns)])
    got = resolve_rules(config.points, sorted(ids))
    rules = list(enumerate(config.points))
    for point in ids:
        exact = (i for i, r in rules if r.match == point)  # exact ids win ...
        first = (i for i, r in rules if is_pattern(r.match) and fnmatch.fnmatchcase(point, r.match))
        assert got.get(point) == next(exact, next(first, None))  # ... then the first pattern


def test_glob_resolution_over_100k_points() -> None:
    kinds = {f"S{s:02d}_P{n:05d}": PointKind.REAL for s in range(10) for n in range(10_000)}
    config = table(
        points=[
            {"match": "S03_*"},
            {"match": "S0[57]_P0000?", "write": True},
            {"match": "*_P01234"},
            {"match": "S09_P00001"},
        ]
    )
    view = compile_table(config, kinds, sorted(kinds))
    assert len(view.icc) == 10_000 + 20 + 9 + 1
