"""The opcua-client settings: NodeIds and browse paths checked at configuration time."""

from __future__ import annotations

import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from pydantic import ValidationError

from adapters.opcua.client.settings import OpcUaClientSettings
from gateway.points import PointDef, PointKind
from gateway.registry import ENTRY_POINT_GROUP
from tests.support import REPO

URL = "opc.tcp://127.0.0.1:4840"


def test_defaults_are_deliberate() -> None:
    s = OpcUaClientSettings.model_validate({"endpoints": [URL]})
    assert s.watchdog_interval >= 10
    assert s.queue_size == 1
    assert s.security_policy is None and s.client_uri is None


@pytest.mark.parametrize("node", ["ns=2;s=Plant.P1", "i=2258", "ns=3;i=7", "nsu=urn:x;s=a"])
def test_node_ids_accepted(node: str) -> None:
    s = OpcUaClientSettings.model_validate(
        {"endpoints": [URL], "points": [{"point": "P", "node": node}]}
    )
    assert s.owned_points() == {"P"}


def test_bad_node_id_names_the_entry() -> None:
    with pytest.raises(ValidationError) as info:
        OpcUaClientSettings.model_validate(
            {
                "endpoints": [URL],
                "points": [{"point": "A", "node": "i=1"}, {"point": "B", "node": "ns=2;x=1"}],
            }
        )
    text = str(info.value)
    assert "points.1" in text and "'ns=2;x=1' is not a NodeId" in text


def test_bad_browse_path_and_both_given() -> None:
    with pytest.raises(ValidationError, match="each step is"):
        OpcUaClientSettings.model_validate(
            {"endpoints": [URL], "points": [{"point": "A", "path": "Plant/2:P1"}]}
        )
    with pytest.raises(ValidationError, match="exactly one of node"):
        OpcUaClientSettings.model_validate(
            {"endpoints": [URL], "points": [{"point": "A", "node": "i=1", "path": "2:P"}]}
        )


def test_csv_points_file_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "points.csv").write_text(
        "point,node,path,writable\nA,ns=2;s=P1,,true\nB,,2:Plant/2:P2,\n"
    )
    s = OpcUaClientSettings.model_validate(
        {"endpoints": [URL], "points_file": "points.csv"}, context={"base": tmp_path}
    )
    assert [(b.point, b.writable) for b in s.bindings] == [("A", True), ("B", False)]
    (tmp_path / "bad.csv").write_text("point,node\nA,ns=2;s=P1\nB,s=\n")
    with pytest.raises(ValidationError, match=r"bad\.csv:3"):
        OpcUaClientSettings.model_validate(
            {"endpoints": [URL], "points_file": "bad.csv"}, context={"base": tmp_path}
        )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"watchdog_interval": 1}, "greater than or equal to 10"),
        ({"endpoints": ["tcp://h:1"]}, "opc.tcp://"),
        ({"username": "u"}, "both username and password"),
        ({"security_policy": "Basic256Sha256"}, "needs certificate"),
        ({"security_policy": "Nope", "certificate": "c", "private_key": "k"}, "one of"),
        ({"points": [{"point": "A", "node": "i=1"}, {"point": "A", "node": "i=2"}]}, "twice"),
        ({"points": [{"point": "A", "node": "i=1", "method": "i=2"}]}, "method_object"),
        ({"points": [{"point": "A", "node": "i=1", "method": "x", "method_object": "i=3"}]}, "'x'"),
    ],
)
def test_refused(extra: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        OpcUaClientSettings.model_validate({"endpoints": [URL], **extra})


def test_the_type_is_declared_as_an_entry_point() -> None:
    from adapters.opcua.client import OpcUaClientAdapter

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]
    target = declared[ENTRY_POINT_GROUP][OpcUaClientAdapter.type_name]
    assert EntryPoint("x", target, ENTRY_POINT_GROUP).load() is OpcUaClientAdapter
    assert OpcUaClientAdapter.Settings is OpcUaClientSettings


def test_check_warns_of_a_deadband_on_a_state_point() -> None:
    s = OpcUaClientSettings.model_validate(
        {
            "endpoints": [URL],
            "points": [
                {"point": "BRK", "node": "i=1", "deadband": 1},
                {"point": "MW", "node": "i=2", "deadband": 1},
            ],
        }
    )
    points = {"BRK": PointDef(id="BRK", kind=PointKind.STATE), "MW": PointDef(id="MW")}
    assert s.check(points) == ["BRK: a deadband on a state point is ignored"]
