"""Loading configurations: every error names its file, line and field."""

import textwrap
from pathlib import Path

import pytest

from gateway.config import ConfigError, check_config, diff_configs, load_config, load_point_csv
from tests.support import REPO


def write(tmp_path: Path, text: str, name: str = "gw.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def issues_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_config(path)
    return [str(i) for i in err.value.issues]


def test_the_demo_config_loads():
    config = load_config(REPO / "mappings" / "demo.yaml")
    assert "GEN1_MW" in config.point_map()
    sim = config.adapter_map()["plant-sim"]
    assert sim.type == "sim" and "GEN1_MW" in sim.settings.owned_points()


@pytest.mark.parametrize(
    "example", sorted((REPO / "mappings").glob("*.yaml")), ids=lambda path: path.name
)
def test_every_example_configuration_is_valid(example):
    config, warnings = check_config(example)  # raises ConfigError on any error
    assert config.adapters
    if example.name != "isn-example.yaml":  # that one shows points left without an owner
        assert [str(w) for w in warnings] == []


def test_a_bad_point_names_file_line_and_field(tmp_path):
    path = write(
        tmp_path,
        """
        points:
          - id: GOOD_1
          - id: 1BAD
            units: MW
    """,
    )
    assert issues_of(path) == [
        f"{path}:3: points[1].id: point id '1BAD' must start with a letter and use only "
        "A-Z a-z 0-9 $ _"
    ]


def test_a_bad_adapter_setting_names_its_line(tmp_path):
    path = write(
        tmp_path,
        """
        points:
          - {id: MW}
        adapters:
          - name: sim1
            type: sim
            interval: -1
            points:
              - {point: MW, signal: sawtooth}
    """,
    )
    assert issues_of(path) == [
        f"{path}:6: adapters[0].interval: Input should be greater than 0",
        f"{path}:8: adapters[0].points[0].signal: Input should be 'random_walk', 'sine', "
        "'step', 'toggle' or 'constant'",
    ]


@pytest.mark.parametrize("name", ["1bc", "a b", "-x", "x" * 65])
def test_an_adapter_name_must_be_one_from_its_first_character(tmp_path, name):
    path = write(tmp_path, f"adapters:\n  - {{name: '{name}', type: sim}}\n")
    (issue,) = issues_of(path)
    assert f"{path}:2: adapters[0].name: String should match pattern" in issue


def test_unknown_type_unknown_point_double_owner_and_duplicates(tmp_path):
    path = write(
        tmp_path,
        """
        points:
          - {id: MW}
          - {id: MW}
        adapters:
          - {name: a, type: teleport}
          - name: b
            type: sim
            points: [{point: MW}, {point: KV}]
          - name: c
            type: sim
            points: [{point: MW}]
          - {name: c, type: sim}
    """,
    )
    found = issues_of(path)
    assert found[0] == f"{path}:3: points[1].id: point 'MW' is defined twice (first in {path})"
    assert found[1].startswith(
        f"{path}:5: adapters[0].type: unknown adapter type 'teleport' (known: "
    )
    assert found[2] == f"{path}:6: adapters[1]: unknown point 'KV'"
    assert found[3] == (
        f"{path}:9: adapters[2]: point 'MW' already has an owner (b); a point has exactly one owner"
    )
    assert found[4] == f"{path}:12: adapters[3].name: adapter name 'c' is used twice"


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, "points:\n  - {id: A\n  - {id: B}\n")
    [issue] = issues_of(path)
    assert issue.startswith(f"{path}:3: not valid YAML")


def test_unknown_top_level_key(tmp_path):
    path = write(tmp_path, "gateway: {name: x}\npointz: []\n")
    assert issues_of(path) == [f"{path}:2: pointz: Extra inputs are not permitted"]


def test_unreadable_file_is_flagged(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "missing.yaml")
    assert err.value.unreadable
    assert "cannot read: No such file or directory" in str(err.value)


def test_csv_point_list(tmp_path):
    write(
        tmp_path,
        "id,kind,units,usage_multiplier,target_freshness\nGEN_MW,real,MW,-1.0,6\nBRK,state,,,\n",
        "points.csv",
    )
    path = write(tmp_path, "point_files:\n  - path: points.csv\n")
    points = load_config(path).point_map()
    assert points["GEN_MW"].usage_multiplier == -1.0 and points["GEN_MW"].target_freshness == 6
    assert points["BRK"].kind == "state"


def test_csv_errors_name_line_and_column(tmp_path):
    csv_path = write(tmp_path, "id,kind,deadband\nA,real,0\n\nB,analog,0\nC,real,-3\n", "p.csv")
    with pytest.raises(ConfigError) as err:
        load_point_csv(csv_path)
    assert [str(i) for i in err.value.issues] == [
        f"{csv_path}:4: kind: Input should be 'real', 'state' or 'discrete'",
        f"{csv_path}:5: deadband: Input should be greater than or equal to 0",
    ]
    bad_header = write(tmp_path, "id,colour\n", "h.csv")
    with pytest.raises(ConfigError, match=r"h.csv:1: unknown column 'colour'"):
        load_point_csv(bad_header)


def test_csv_of_many_points_loads(tmp_path):
    rows = "\n".join(f"P{i},real,MW" for i in range(20_000))
    path = write(tmp_path, "id,kind,units\n" + rows + "\n", "big.csv")
    assert len(load_point_csv(path)) == 20_000


def checked(path: Path) -> tuple[list[str], list[str]]:
    """(errors, warnings) of `check_config` on ``path``."""
    with pytest.raises(ConfigError) as err:
        check_config(path)
    return [str(i) for i in err.value.issues], [str(w) for w in err.value.warnings]


def test_an_empty_file_or_one_without_adapters_is_not_a_gateway(tmp_path):
    empty = write(tmp_path, "# nothing yet\n")
    assert checked(empty)[0] == [f"{empty}: the file is empty"]
    no_adapters = write(tmp_path, "gateway: {name: x}\nadapters: []\n", "none.yaml")
    assert checked(no_adapters)[0] == [
        f"{no_adapters}:2: adapters: no adapters: a gateway runs at least one"
    ]


def test_every_error_of_every_stage_comes_in_one_run(tmp_path):
    path = write(
        tmp_path,
        """
        gateway: {watchdog_period: 0}
        points:
          - {id: 1BAD}
          - {id: ORPHAN}
          - {id: MW}
        adapters:
          - {name: a, type: teleport}
          - {name: b, type: sim, interval: -1, points: [{point: MW}]}
          - {name: c, type: sim, points: [{point: MW}, {point: KV}]}
    """,
    )
    errors, _ = checked(path)
    assert errors[0] == f"{path}:1: gateway.watchdog_period: Input should be greater than 0"
    assert errors[1].startswith(f"{path}:3: points[0].id: point id '1BAD' must start")
    assert errors[2].startswith(f"{path}:7: adapters[0].type: unknown adapter type 'teleport'")
    assert errors[3] == f"{path}:8: adapters[1].interval: Input should be greater than 0"
    assert errors[4] == f"{path}:9: adapters[2]: unknown point 'KV'"
    assert len(errors) == 5  # no owner check while an adapter is unknown: it may own ORPHAN

    path.write_text(path.read_text().replace("teleport", "sim").replace("interval: -1, ", ""))
    path.write_text(path.read_text().replace("{point: KV}", "{point: MW}"))
    errors, _ = checked(path)
    assert f"{path}:4: points[1].id: point 'ORPHAN' has no owner: no adapter publishes it" in (
        errors
    )


def test_a_table_rule_that_selects_no_point_is_a_warning(tmp_path):
    path = write(
        tmp_path,
        """
        points: [{id: GEN1_MW}]
        adapters:
          - {name: sim, type: sim, points: [{point: GEN1_MW}]}
          - name: iccp
            type: tase2-server
            port: 0
            tables:
              - id: BLT_1
                domain: ICC1
                peer: {ap_title: 1.1.1.999}
                points: [{match: "GEN1_*"}, {match: "GEN9_*"}]
    """,
    )
    _, warnings = check_config(path)
    assert [str(w) for w in warnings] == [
        f"{path}:4: adapters[1]: table 'BLT_1': match 'GEN9_*' selects no point"
    ]


def test_diff_names_removed_adapters_tables_and_points(tmp_path):
    table = "{{id: {0}, domain: ICC{1}, peer: {{ap_title: 1.1.1.{1}}}, points: [{{match: MW}}]}}"
    old = write(
        tmp_path,
        f"""
        points: [{{id: MW}}, {{id: KV}}]
        adapters:
          - {{name: s1, type: sim, points: [{{point: MW}}]}}
          - {{name: s2, type: sim, points: [{{point: KV}}]}}
          - {{name: iccp, type: tase2-server, port: 0, tables: [{table.format("T1", 1)},
              {table.format("T2", 2)}]}}
    """,
        "old.yaml",
    )
    new = write(
        tmp_path,
        f"""
        points: [{{id: MW}}, {{id: HZ}}]
        adapters:
          - {{name: s1, type: sim, interval: 2, points: [{{point: MW}}, {{point: HZ}}]}}
          - {{name: iccp, type: tase2-server, port: 0, tables: [{table.format("T2", 2)}]}}
          - {{name: s3, type: sim}}
    """,
        "new.yaml",
    )
    diff = diff_configs(check_config(old)[0], check_config(new)[0])
    assert diff.lines() == [
        "adapters added: s3",
        "adapters removed: s2",
        "adapters changed: s1, iccp",
        "points added: 1 (HZ)",
        "points removed: 1 (KV)",
        "bilateral tables removed: iccp/T1",
    ]
