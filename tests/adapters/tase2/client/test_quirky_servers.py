"""The `tase2-client` against servers that are not fully standard (FreeTASE2-like): values
reach the bus from each, the link says what is wrong, and nothing is left on the server."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest

from adapters.tase2.client.adapter import Tase2ClientAdapter
from adapters.tase2.client.settings import Tase2ClientSettings
from adapters.tase2.mms.names import ObjectName
from gateway.bus import PointBus
from gateway.points import PointDef, PointKind, Validity
from tests.support import eventually
from tests.support.tase2.client import running_client
from tests.support.tase2.quirky import FREETASE2, Quirks, QuirkyServer, running_quirky

pytestmark = pytest.mark.timeout(60)

DOMAIN = "ICC1"
POINTS = [f"pt{n:03d}" for n in range(1, 6)]
FREETASE2_ORDER = ("Value", "Flags", "TimeStamp")


def settings(port: int, point_type: str = "Data_RealQTimeTag", **extra: Any) -> Tase2ClientSettings:
    raw: dict[str, Any] = {
        "addresses": [f"127.0.0.1:{port}"],
        "bilateral_table_id": "BLT_Q",
        "domain": DOMAIN,
        "data_sets": [{"name": "FAST", "interval": 1}],
        "points": [{"remote": p, "point": f"B_{p}", "type": point_type} for p in POINTS],
        "backoff_initial": 0.2,
        "backoff_max": 1.0,
        "request_timeout": 2.0,
        "data_set_retry": 0.3,
    }
    raw.update(extra)
    return Tase2ClientSettings.model_validate(raw)


def make_bus(owner: str = "quirky") -> PointBus:
    bus = PointBus()
    bus.add_owner(owner)
    for p in POINTS:
        bus.register(PointDef(id=f"B_{p}", kind=PointKind.REAL), owner)
    return bus


def values_flow(bus: PointBus, server: QuirkyServer, points: list[str] = POINTS) -> None:
    """Give every server point a fresh value (suspect flags) for the test to wait for."""
    for n, p in enumerate(points):
        server.set_value(p, 100.0 + n, flags=0x20)


def arrived(bus: PointBus, points: list[str] = POINTS) -> bool:
    for n, p in enumerate(points):
        pv = bus.get(f"B_{p}")
        if pv.value != 100.0 + n or pv.quality.validity is not Validity.SUSPECT:
            return False
    return True


def our_data_sets(server: QuirkyServer) -> list[ObjectName]:
    return [n for n in server.data_sets if n.item.startswith("FAST_")]


async def run_until_values(quirks: Quirks, point_type: str = "Data_RealQTimeTag", **extra: Any):  # type: ignore[no-untyped-def]
    """Run a client against a server with ``quirks`` until every value arrived; returns the
    client's status then."""
    async with running_quirky(quirks, points=len(POINTS)) as (server, port):
        bus = make_bus()
        async with running_client(settings(port, point_type, **extra), bus, "quirky") as client:
            values_flow(bus, server)
            await eventually(lambda: arrived(bus), what="values on the bus", timeout=15)
            await eventually(lambda: client.link.state == "running", what="set-up done")
            return client.status(), server


@pytest.mark.parametrize("point_type", ["Data_RealQTimeTag", "auto"])
async def test_point_components_in_another_order_are_decoded(point_type: str) -> None:
    status, _ = await run_until_values(Quirks(point_order=FREETASE2_ORDER), point_type)
    (ds,) = status["data_sets"].values()
    assert ds["mode"] == "reporting"


async def test_a_next_transfer_set_structure_and_a_string_data_set_name() -> None:
    """Next_DSTransfer_Set is {Available, Max, Name}; DataSetName is a VisibleString."""
    quirks = Quirks(
        point_order=FREETASE2_ORDER, next_ds_transfer_set="struct", data_set_name="string"
    )
    status, _ = await run_until_values(quirks)
    (ds,) = status["data_sets"].values()
    assert ds["mode"] == "reporting" and ds["transfer_set"] == f"{DOMAIN}/DSTS_1"
    assert status["state"] == "running"


async def test_a_bare_string_next_transfer_set() -> None:
    status, _ = await run_until_values(Quirks(next_ds_transfer_set="string"))
    assert [d["mode"] for d in status["data_sets"].values()] == ["reporting"]


async def test_a_server_taking_only_component_writes() -> None:
    status, server = await run_until_values(Quirks(transfer_set_writes="components"))
    assert [d["mode"] for d in status["data_sets"].values()] == ["reporting"]
    written = [str(n) for n, _ in server.writes]
    assert written[-1] == f"{DOMAIN}/DSTS_1$Status"  # Status goes last


async def test_a_refused_transfer_set_falls_back_to_polling_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    async with running_quirky(Quirks(transfer_set_writes="refuse"), points=len(POINTS)) as (
        server,
        port,
    ):
        bus = make_bus()
        async with running_client(settings(port), bus, "quirky") as client:
            values_flow(bus, server)
            await eventually(lambda: arrived(bus), what="polled values on the bus", timeout=15)
            # it keeps retrying (back-off from 0.3 s), and stays polled
            await eventually(
                lambda: next(iter(client.status()["data_sets"].values()))["retries"] >= 2,
                what="two retries",
            )
            status = client.status()
            (ds,) = status["data_sets"].values()
            assert ds["mode"] == "polled" and "object-access-denied" in ds["reason"]
            assert status["state"] == "running" and status["groups"] == {"FAST": "polled"}
            # the refused data set is deleted after each attempt: nothing of ours stays
            await eventually(lambda: our_data_sets(server) == [], what="no data set left")
    fallbacks = [r for r in caplog.records if "polling it every" in r.getMessage()]
    assert len(fallbacks) == 1, [r.getMessage() for r in fallbacks]


async def test_a_missing_point_is_named_the_rest_served_and_the_link_degraded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    quirks = Quirks(missing=frozenset({"pt003"}))
    present = [p for p in POINTS if p != "pt003"]
    async with running_quirky(quirks, points=len(POINTS)) as (server, port):
        bus = make_bus()
        async with running_client(settings(port), bus, "quirky") as client:
            for n, p in enumerate(POINTS):
                if p in present:
                    server.set_value(p, 100.0 + n, flags=0x20)

            def present_arrived() -> bool:
                return all(bus.get(f"B_{p}").value == 100.0 + POINTS.index(p) for p in present)

            await eventually(present_arrived, what="the present points", timeout=15)
            await eventually(lambda: client.status()["state"] == "degraded", what="degraded")
            status = client.status()
            assert status["state"] == "degraded" and status["points_not_served"] == 1
            (ds,) = status["data_sets"].values()
            assert ds["mode"] == "reporting"
            assert list(ds["not_served"]) == [f"{DOMAIN}/pt003"]
            assert "access/object-non-existent" in ds["not_served"][f"{DOMAIN}/pt003"]
            assert bus.get("B_pt003").quality.validity is Validity.NOT_VALID
            # the point appears on the server: the retry brings it in, the link is whole
            server.quirks = replace(server.quirks, missing=frozenset())
            server.set_value("pt003", 102.0, flags=0x20)
            await eventually(
                lambda: client.status()["state"] == "running", what="running", timeout=15
            )
            await eventually(lambda: arrived(bus), what="all points", timeout=15)
    warned = [r.getMessage() for r in caplog.records if "lacks" in r.getMessage()]
    assert warned and "ICC1/pt003" in warned[0]


async def test_two_clients_on_one_server_and_a_restart_leave_no_debris() -> None:
    """Data sets outlive associations on this server: names are unique per client and
    run, and a client that stops deletes what it defined (also one stopped while still
    starting its transfer set: the test stops both as soon as values arrive)."""
    async with running_quirky(Quirks(keep_data_sets=True), points=len(POINTS)) as (server, port):
        bus_a, bus_b = make_bus("one"), make_bus("two")
        async with (
            running_client(settings(port), bus_a, "one") as a,
            running_client(settings(port), bus_b, "two") as b,
        ):
            values_flow(bus_a, server)
            await eventually(lambda: arrived(bus_a) and arrived(bus_b), what="both", timeout=15)
            assert a.suffix != b.suffix
            assert len(our_data_sets(server)) == 2
        await eventually(lambda: our_data_sets(server) == [], what="data sets deleted")


async def test_a_left_over_data_set_of_ours_is_replaced() -> None:
    """With a fixed suffix a restart finds its old set (the server kept it): replaced."""
    async with running_quirky(Quirks(keep_data_sets=True), points=len(POINTS)) as (server, port):
        old = ObjectName.dom(DOMAIN, "FAST_01_X1")
        server.data_sets[old] = [ObjectName.dom(DOMAIN, "pt001")]
        bus = make_bus()
        async with running_client(settings(port, data_set_suffix="X1"), bus, "quirky") as client:
            values_flow(bus, server)
            await eventually(lambda: arrived(bus), what="values", timeout=15)
            assert list(client.status()["data_sets"]) == [str(old)]
            assert len(server.data_sets[old]) == 3 + len(POINTS)


def test_data_set_names_are_unique_per_run_and_fit_an_identifier() -> None:
    bus = make_bus()
    cfg = settings(1, data_sets=[{"name": "G" * 28, "interval": 1}])
    one = Tase2ClientAdapter("quirky", cfg, bus)
    two = Tase2ClientAdapter("quirky", cfg, bus)
    assert one.suffix != two.suffix and one.suffix[:2] == two.suffix[:2]
    fixed = Tase2ClientAdapter("quirky", settings(1, data_set_suffix="A1"), bus)
    assert fixed.suffix == "A1"


async def test_a_freetase2_like_server_every_quirk_at_once() -> None:
    """Whole writes answered and ignored, StartTime a binary time, Status an integer, the
    conditions an integer mask, Next_DSTransfer_Set always the first transfer set, reports
    named by the transfer set with a header, zero time stamps, data sets that stay: values
    reach the bus from two data sets (two transfer sets), and nothing is left behind."""
    async with running_quirky(FREETASE2, points=len(POINTS)) as (server, port):
        bus = make_bus()
        cfg = settings(
            port,
            data_sets=[{"name": "FAST", "interval": 1}, {"name": "SLOW", "interval": 1}],
            points=[
                {"remote": p, "point": f"B_{p}", "data_set": "FAST" if n < 3 else "SLOW"}
                for n, p in enumerate(POINTS)
            ],
        )
        async with running_client(cfg, bus, "quirky") as client:
            for n, p in enumerate(POINTS):
                server.set_value(p, 100.0 + n, flags=0x20, ts=0)
            await eventually(lambda: arrived(bus), what="values of both data sets", timeout=15)
            await eventually(lambda: client.link.state == "running", what="running")
            status = client.status()
            modes = {d["mode"] for d in status["data_sets"].values()}
            assert modes == {"reporting"}, status["data_sets"]
            assert sorted(status["transfer_sets"].values()) == [
                f"{DOMAIN}/DSTS_1",
                f"{DOMAIN}/DSTS_2",
            ]
            assert bus.get("B_pt001").quality.timestamp_invalid  # time stamp 0: receive time
        await eventually(
            lambda: not [n for n in server.data_sets if "_01_" in n.item], what="clean"
        )
