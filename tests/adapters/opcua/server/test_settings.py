"""The `opcua-server` settings and folder plan (sans-IO)."""

import pytest
from pydantic import ValidationError

from adapters.opcua.server import FolderPlan, OpcuaServerSettings


def test_entries_take_ids_patterns_and_a_csv_file(tmp_path):
    (tmp_path / "served.csv").write_text(
        "point,nodeid,folder,writable,type\nBRK,i=7,Yard/North,true,boolean\nTAP,,,false,int64\n"
    )
    s = OpcuaServerSettings.model_validate(
        {"points": [{"point": "MW*"}], "points_file": "served.csv"},
        context={"base": str(tmp_path)},
    )
    assert [e.point for e in s.entries] == ["MW*", "BRK", "TAP"]
    brk = s.entry_of("BRK")
    assert brk is not None and brk.writable and brk.nodeid == "i=7" and brk.type == "boolean"
    assert s.folder_of("BRK", brk) == ("Yard", "North")
    assert s.entry_of("MW_G1") is s.entries[0]
    assert s.entry_of("KV") is None
    assert s.consumed_points() == {"BRK", "TAP"}


def test_grouping_by_prefix_or_not():
    s = OpcuaServerSettings.model_validate({"points": [{"point": "*"}]})
    (entry,) = s.entries
    assert s.folder_of("G1_MW", entry) == ("G1",)
    assert s.folder_of("MW", entry) == ()
    flat = OpcuaServerSettings.model_validate({"points": [{"point": "*"}], "group_by": "none"})
    assert flat.folder_of("G1_MW", entry) == ()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"point": "MW", "nodeid": "ns=3;s=MW"}, "point 'MW': nodeid 'ns=3;s=MW' is not"),
        ({"point": "MW*", "nodeid": "s=MW"}, r"'MW\*' is a pattern: it cannot take a nodeid"),
        ({"point": "MW", "folder": "a//b"}, "point 'MW': folder 'a//b' has an empty part"),
    ],
)
def test_a_bad_entry_is_named(entry, message):
    with pytest.raises(ValidationError, match=message):
        OpcuaServerSettings.model_validate({"points": [entry]})


def test_a_nodeid_given_twice_and_users_are_checked():
    with pytest.raises(ValidationError, match="nodeid s=B is given to A and B"):
        OpcuaServerSettings.model_validate(
            {"points": [{"point": "A", "nodeid": "s=B"}, {"point": "B"}]}
        )
    with pytest.raises(ValidationError, match="anonymous none needs at least one user"):
        OpcuaServerSettings.model_validate({"anonymous": "none"})
    with pytest.raises(ValidationError, match="security_policies"):
        OpcuaServerSettings.model_validate({"security_policies": ["Basic256Sha256"]})


def _counts(placement):
    children: dict[tuple[str, ...], set[str]] = {}
    for point, path in placement.items():
        children.setdefault(path, set()).add("v:" + point)
        for depth in range(len(path)):
            children.setdefault(path[:depth], set()).add("f:" + path[depth])
    return {path: len(keys) for path, keys in children.items()}


def test_no_folder_holds_more_than_the_limit():
    logical = {f"A.{i:04d}": ("A",) for i in range(1050)}
    logical |= {f"G{i}.x": (f"G{i}",) for i in range(150)}
    placement = FolderPlan(100).plan(logical)
    counts = _counts(placement)
    assert max(counts.values()) <= 100
    # 151 folders under the root: in two numbered folders; A's 1,050 points in 11
    a_chunk = placement["A.0000"][0]
    assert a_chunk in ("001", "002")
    assert {placement[p] for p in logical if p.startswith("A.")} == {
        (a_chunk, "A", f"{n:03d}") for n in range(1, 12)
    }
    assert placement["G0.x"][1:] == ("G0",) and placement["G0.x"][0] in ("001", "002")


def test_placement_is_stable_when_points_come_and_go():
    plan = FolderPlan(10)
    logical = {f"p{i:02d}": ("A",) for i in range(25)}
    before = plan.plan(logical)
    del logical["p03"]
    logical |= {"p00a": ("A",), "p99": ("A",)}
    after = plan.plan(logical)
    moved = {p for p in before if p in after and before[p] != after[p]}
    assert moved == set()
    assert max(_counts(after).values()) <= 10
    assert after["p00a"] == ("A", "001")  # the hole p03 left


def test_a_folder_too_big_even_when_split_is_an_error():
    with pytest.raises(ValueError, match=r"folder A would hold 101 nodes"):
        FolderPlan(10).plan({f"p{i}": ("A",) for i in range(101)})


def test_command_timeout_up_to_60_s_default_3():
    assert OpcuaServerSettings().command_timeout == 3.0
    assert OpcuaServerSettings(command_timeout=10).command_timeout == 10.0
    with pytest.raises(ValidationError, match="command_timeout"):
        OpcuaServerSettings(command_timeout=61)


def test_the_address_space_cache_is_kept_next_to_the_configuration_or_not_at_all(tmp_path):
    base = {"base": str(tmp_path)}
    kept = OpcuaServerSettings.model_validate({}, context=base)
    assert kept.address_space_cache == str(tmp_path / "state" / "opcua")
    elsewhere = OpcuaServerSettings.model_validate({"address_space_cache": "cache"}, context=base)
    assert elsewhere.address_space_cache == str(tmp_path / "cache")
    off = OpcuaServerSettings.model_validate({"address_space_cache": None}, context=base)
    assert off.address_space_cache is None
