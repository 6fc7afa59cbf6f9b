"""`dnp3-outstation` settings: defaults, and bad configuration named by point or line."""

from __future__ import annotations

import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.dnp3.outstation.settings import Dnp3OutstationSettings, ServedPoint
from gateway.points import PointDef, PointKind
from gateway.registry import ENTRY_POINT_GROUP
from tests.support import REPO


def settings(**raw: Any) -> Dnp3OutstationSettings:
    return Dnp3OutstationSettings.model_validate(raw)


def test_defaults_serve_analogs_as_g30v5_in_class_1() -> None:
    s = settings(points=[{"point": "MW", "type": "analog-input", "index": 3}])
    assert (s.host, s.port, s.outstation_address, s.master_address) == (
        "127.0.0.1",
        20000,
        1024,
        1,
    )
    (p,) = s.served
    assert (p.static_variation, p.events, p.writable) == (5, 1, False)
    assert ServedPoint(point="X", type="analog-output", index=0).static_variation == 3
    assert ServedPoint(point="X", type="double-bit", index=0).events == 0
    assert s.consumed_points() == {"MW"}
    assert s.owned_points() == set()


@pytest.mark.parametrize(
    ("point", "problem"),
    [
        ({"type": "analog-input", "index": 0, "writable": True}, "only binary-output and"),
        ({"type": "analog-input", "index": 0, "variation": 6}, "variation 6 is not served"),
        ({"type": "double-bit", "index": 0, "event_class": 1}, "static reads only"),
        ({"type": "binary-input", "index": 0, "deadband": 1.0}, "analog points only"),
        ({"type": "analog-output", "index": 0, "pulse": "on"}, "binary-output points only"),
        ({"type": "analog-input", "index": 70000}, "index"),
        ({"type": "nonsense", "index": 0}, "type"),
    ],
)
def test_a_bad_point_is_refused_naming_it(point: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError) as info:
        settings(points=[{"point": "BAD_POINT", **point}])
    message = str(info.value)
    assert problem in message
    # A field's own check names its place (points.0.index); the others name the point.
    assert "BAD_POINT" in message or "points.0." in message


def test_two_points_at_one_index_are_refused_naming_both() -> None:
    with pytest.raises(ValidationError, match="analog-input index 4 is used by A and B"):
        settings(
            points=[
                {"point": "A", "type": "analog-input", "index": 4},
                {"point": "B", "type": "analog-input", "index": 4},
                {"point": "C", "type": "analog-output", "index": 4},  # another index space
            ]
        )


def test_the_two_link_addresses_must_differ() -> None:
    with pytest.raises(ValidationError, match="both 7"):
        settings(outstation_address=7, master_address=7)
    with pytest.raises(ValidationError, match="outstation_address"):
        settings(outstation_address=0xFFF0)


def test_a_points_file_is_read_and_its_bad_lines_named(tmp_path: Path) -> None:
    good = tmp_path / "points.csv"
    good.write_text(
        "point,type,index,event_class,writable,pulse\n"
        "MW,analog-input,0,2,,\n"
        "BRK,binary-output,0,,true,off\n"
    )
    s = Dnp3OutstationSettings.model_validate(
        {
            "points_file": "points.csv",
            "points": [{"point": "KV", "type": "analog-input", "index": 1}],
        },
        context={"base": tmp_path},
    )
    assert [(p.point, p.events, p.writable, p.pulse) for p in s.served] == [
        ("KV", 1, False, None),
        ("MW", 2, False, None),
        ("BRK", 0, True, "off"),
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text("point,type,index\nMW,analog-input,0\nKV,analog-input,minus one\n")
    with pytest.raises(ValidationError, match=r"bad.csv:3: index"):
        Dnp3OutstationSettings.model_validate({"points_file": str(bad)})
    with pytest.raises(ValidationError, match=r"unknown column 'addr'"):
        bad.write_text("point,addr\nMW,0\n")
        Dnp3OutstationSettings.model_validate({"points_file": str(bad)})


def test_the_type_is_declared_as_an_entry_point() -> None:
    from adapters.dnp3.outstation.adapter import Dnp3OutstationAdapter

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]
    target = declared[ENTRY_POINT_GROUP][Dnp3OutstationAdapter.type_name]
    assert EntryPoint("x", target, ENTRY_POINT_GROUP).load() is Dnp3OutstationAdapter
    assert Dnp3OutstationAdapter.Settings is Dnp3OutstationSettings


def test_check_warns_of_points_served_as_a_type_that_does_not_fit_their_kind() -> None:
    s = settings(
        points=[
            {"point": "MW", "type": "binary-input", "index": 0},
            {"point": "BRK", "type": "analog-input", "index": 0},
            {"point": "MWH", "type": "counter", "index": 0},
            {"point": "BRK", "type": "double-bit", "index": 0},
            {"point": "MW", "type": "analog-input", "index": 1},
            {"point": "UNDEFINED", "type": "analog-input", "index": 2},
        ]
    )
    defs = {
        "MW": PointDef(id="MW"),
        "MWH": PointDef(id="MWH"),
        "BRK": PointDef(id="BRK", kind=PointKind.STATE),
    }
    assert s.check(defs) == [
        "MW is a real point served as binary-input: non-zero reads as on",
        "BRK is a state point served as analog-input: the master reads the state code "
        "(0 between, 1 off, 2 on, 3 invalid)",
        "MWH is a real point served as counter: fractions drop",
        "MW is a real point served as analog-input in event class 1: its events carry the "
        "value rounded to a whole number, flagged ONLINE (12.7 goes out as 13; py1815 has no "
        "float analog events); event_class 0 serves it in static reads only, as a float",
    ]


def test_check_warns_of_real_analog_inputs_whose_events_lose_their_fractions() -> None:
    s = settings(
        points=[
            {"point": "MW", "type": "analog-input", "index": 0, "event_class": 2},
            {"point": "MW", "type": "analog-input", "index": 1, "event_class": 0},
            {"point": "TAP", "type": "analog-input", "index": 2},
            {"point": "MW", "type": "analog-output", "index": 0},
        ]
    )
    defs = {"MW": PointDef(id="MW"), "TAP": PointDef(id="TAP", kind=PointKind.DISCRETE)}
    (warning,) = s.check(defs)
    assert warning.startswith("MW is a real point served as analog-input in event class 2:")
    assert "event_class 0" in warning
