"""Bilateral tables changed while running: compiled first, then applied to associations."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.tase2.server.bilateral import BilateralConfigError, BilateralTableConfig
from adapters.tase2.server.controls import PeerInfo
from adapters.tase2.server.peers import PeerSession
from adapters.tase2.server.tables import ServedTables, TableChange, rebind
from adapters.tase2.server.transfer import TransferEngine
from gateway.points import PointKind

KINDS = {"P1": PointKind.REAL, "P2": PointKind.REAL}


def table(tid: str = "BLT_1", domain: str = "ICC1", **extra: Any) -> BilateralTableConfig:
    raw = {"id": tid, "domain": domain, "peer": {"ap_title": "1.1.1.999"}}
    raw["points"] = [{"match": "P1"}]
    return BilateralTableConfig.model_validate(raw | extra)


def test_a_table_that_does_not_compile_changes_nothing() -> None:
    served = ServedTables([table()], [], KINDS)
    before = dict(served.views)
    with pytest.raises(BilateralConfigError):
        served.apply([table(), table("BLT_2")], None, KINDS)  # two tables, one domain
    assert served.views == before and list(served.tables) == ["BLT_1"]


def test_only_changed_tables_are_reported() -> None:
    served = ServedTables([table(), table("BLT_2", "ICC2")], [], KINDS)
    changes = served.apply([table(), table("BLT_2", "ICC2", points=[{"match": "P*"}])], None, KINDS)
    assert list(changes) == ["BLT_2"] and changes["BLT_2"].keeps_associations
    assert served.served_points() == {"P1", "P2"}
    gone = served.apply([table()], None, KINDS)
    assert not gone["BLT_2"].keeps_associations


def test_new_vcc_points_touch_every_table() -> None:
    served = ServedTables([table(), table("BLT_2", "ICC2")], [], KINDS)
    assert sorted(served.apply([table(), table("BLT_2", "ICC2")], [], KINDS)) == []
    vcc = [table().points[0].model_copy(update={"match": "P2"})]
    assert sorted(served.apply([table(), table("BLT_2", "ICC2")], vcc, KINDS)) == [
        "BLT_1",
        "BLT_2",
    ]


def test_rebind_updates_views_and_names_the_associations_to_abort() -> None:
    served = ServedTables([table()], [], KINDS)
    engine = TransferEngine(1)
    old_view = served.views["BLT_1"]
    sessions = []
    for association in ("A", "B"):
        info = PeerInfo(association, "BLT_1", "1.1.1.999", None, "127.0.0.1")
        sessions.append((association, PeerSession(1, "BLT_1", old_view, info)))
        engine.open_association(association, old_view, 65000)
    changes = served.apply([table(points=[{"match": "P*"}])], None, KINDS)
    new_view = served.views["BLT_1"]
    assert rebind("BLT_1", changes["BLT_1"], new_view, sessions, engine) == []
    assert all(peer.view is new_view for _, peer in sessions)
    moved = TableChange(table(), table(domain="ICC9"))
    assert rebind("BLT_1", moved, new_view, sessions, engine) == ["A", "B"]


def test_a_new_point_set_recompiles_every_view_once() -> None:
    served = ServedTables([table(points=[{"match": "P*"}])], [], KINDS)
    assert served.refresh(KINDS) == {}
    changes = served.refresh(KINDS | {"P3": PointKind.REAL})
    assert list(changes) == ["BLT_1"] and "P3" in served.served_points()


def test_a_point_whose_kind_changed_recompiles_every_view() -> None:
    served = ServedTables([table()], [], KINDS)
    (before,) = served.views["BLT_1"].icc.values()
    assert list(served.refresh(KINDS | {"P1": PointKind.STATE})) == ["BLT_1"]
    (after,) = served.views["BLT_1"].icc.values()
    assert PointKind.STATE in after.type.info.kinds - before.type.info.kinds
