"""Settings of the dnp3-master adapter: outstations, bindings, CSV point lists, bad input."""

import pytest
from pydantic import ValidationError

from adapters.dnp3.flags import PointType
from adapters.dnp3.master.settings import Dnp3MasterSettings, MasterPoint
from gateway.points import State


def settings(**extra) -> Dnp3MasterSettings:
    data = {"outstations": [{"name": "rtu1", "host": "127.0.0.1"}], **extra}
    return Dnp3MasterSettings.model_validate(data)


def test_defaults_of_an_outstation():
    (o,) = settings().outstations
    assert (o.port, o.master_address, o.outstation_address) == (20000, 1, 1024)
    assert o.unsolicited and o.time_sync and o.max_fragment == 65536
    assert o.integrity_interval == 600.0 and o.event_interval == 1.0


def test_points_from_yaml_and_csv(tmp_path):
    (tmp_path / "rtu.csv").write_text(
        "point,type,index,scale,writable,control,operation\n"
        "# a comment\n"
        "MW1,analog-input,0,0.1,,,\n"
        "CB1,Binary-Output,3,,true,direct,trip-close\n"
    )
    s = Dnp3MasterSettings.model_validate(
        {
            "outstations": [{"name": "rtu1", "host": "127.0.0.1"}],
            "points": [{"point": "DB1", "type": "double-bit", "index": 7}],
            "points_file": "rtu.csv",
        },
        context={"base": tmp_path},
    )
    assert [(b.point, b.type, b.index) for b in s.bindings] == [
        ("DB1", PointType.DOUBLE_BIT, 7),
        ("MW1", PointType.ANALOG_INPUT, 0),
        ("CB1", PointType.BINARY_OUTPUT, 3),
    ]
    assert s.owned_points() == {"DB1", "MW1", "CB1"}
    assert s.bindings[0].state_table.state_of(2) is State.ON
    assert s.bindings[0].state_table.state_of(0) is State.BETWEEN


def test_a_bad_csv_row_names_the_file_line_and_column(tmp_path):
    (tmp_path / "rtu.csv").write_text("point,type,index\nMW1,analog-input,0\nMW2,analog,70000\n")
    with pytest.raises(ValidationError) as error:
        settings(points_file=str(tmp_path / "rtu.csv"))
    text = str(error.value)
    assert "rtu.csv:3: type:" in text and "rtu.csv:3: index:" in text


@pytest.mark.parametrize(
    ("points", "problem"),
    [
        ([{"point": "A", "type": "analog-input", "index": 1, "writable": True}], "read-only"),
        (
            [
                {"point": "A", "type": "counter", "index": 1},
                {"point": "B", "type": "counter", "index": 1},
            ],
            "bound to both 'A' and 'B'",
        ),
        ([{"point": "A", "type": "counter", "index": 1, "outstation": "x"}], "unknown outstation"),
        ([{"point": "A", "type": "counter", "index": 1, "states": "0:on"}], "binary points"),
    ],
)
def test_bad_bindings_are_refused_with_the_point_named(points, problem):
    with pytest.raises(ValidationError, match=problem):
        settings(points=points)


def test_bad_outstations_are_refused():
    with pytest.raises(ValidationError, match="must differ"):
        Dnp3MasterSettings.model_validate(
            {
                "outstations": [
                    {"name": "a", "host": "h", "master_address": 5, "outstation_address": 5}
                ]
            }
        )
    with pytest.raises(ValidationError, match="unique"):
        Dnp3MasterSettings.model_validate(
            {"outstations": [{"name": "a", "host": "h"}, {"name": "a", "host": "i"}]}
        )


def test_state_tables_of_binaries():
    single = MasterPoint(point="A", type="binary-input", index=0)
    assert single.state_table.state_of(1) is State.ON
    inverted = MasterPoint(point="A", type="binary-input", index=0, states="0:on;1:off")
    assert inverted.state_table.state_of(1) is State.OFF


def test_a_bad_binding_in_a_configuration_file_names_its_line(tmp_path):
    from gateway.config import ConfigError, load_config

    path = tmp_path / "gw.yaml"
    path.write_text(
        "points:\n"
        "  - {id: MW, kind: real}\n"
        "adapters:\n"
        "  - name: rtus\n"
        "    type: dnp3-master\n"
        "    outstations: [{name: rtu1, host: 127.0.0.1}]\n"
        "    points:\n"
        "      - {point: MW, type: analog-input, index: -1}\n"
    )
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "gw.yaml:8" in str(error.value) and "index" in str(error.value)


def test_check_warns_of_a_type_that_does_not_fit_the_bus_kind():
    from gateway.points import PointDef

    s = settings(
        points=[
            {"point": "CB", "type": "binary-input", "index": 0},
            {"point": "MW", "type": "analog-input", "index": 0},
            {"point": "OK", "type": "double-bit", "index": 1},
        ]
    )
    warnings = s.check(
        {
            "CB": PointDef(id="CB", kind="real"),
            "MW": PointDef(id="MW", kind="state"),
            "OK": PointDef(id="OK", kind="state"),
        }
    )
    assert len(warnings) == 2
    assert "CB is a real point bound to a binary-input" in warnings[0]
    assert "MW is a state point" in warnings[1]
