"""The tase2-server settings' hooks for the core: warnings on empty matches, table names."""

from adapters.tase2.server.settings import Tase2ServerSettings
from gateway.points import PointDef


def settings(*rules: str) -> Tase2ServerSettings:
    table = {
        "id": "BLT_1",
        "domain": "ICC1",
        "peer": {"ap_title": "1.1.1.999"},
        "points": [{"match": r} for r in rules],
    }
    return Tase2ServerSettings.model_validate(
        {"tables": [table], "vcc_points": [{"match": "SYS_*"}]}
    )


def test_a_pattern_that_selects_no_point_is_one_warning_naming_table_and_rule():
    points = {p: PointDef(id=p) for p in ("GEN1_MW", "GEN1_MVAR", "BUS1_KV")}
    assert settings("GEN1_*", "BUS?_KV", "GEN1_MW").check(points) == [
        "vcc_points: match 'SYS_*' selects no point"
    ]
    assert settings("GEN2_*", "LINE[AB]_MW").check(points) == [
        "vcc_points: match 'SYS_*' selects no point",
        "table 'BLT_1': match 'GEN2_*' selects no point",
        "table 'BLT_1': match 'LINE[AB]_MW' selects no point",
    ]


def test_the_tables_are_the_parts_a_reload_may_remove():
    assert settings("GEN1_*").parts() == {"bilateral table": {"BLT_1"}}
