"""The `tase2-client` adapter against our own `tase2-server` over loopback: transfer-set and
polling modes deliver the server's values, qualities and time stamps; critical reports are
acknowledged; writes; start-up check mismatches; unknown and malformed reports."""

from __future__ import annotations

import logging

import pytest

from adapters.tase2.mms.access import VariableListName
from adapters.tase2.mms.data import BitString, Float32, Integer, Structure, VisibleString
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.services import InformationReport
from adapters.tase2.model.objects import encode_mms_object_name
from adapters.tase2.model.points import PointType
from gateway.bus import CommandFailure
from gateway.points import GOOD, PointKind, Quality, Validity
from tests.support import eventually
from tests.support.tase2.client import (
    TYPES,
    client_point,
    client_settings,
    make_client_bus,
    matches,
    running_client,
    type_points,
)
from tests.support.tase2.server import DOMAIN, make_bus, running_server, type_point

pytestmark = pytest.mark.timeout(60)

EXTRA = [
    ("C_GEN1", PointKind.REAL),
    ("C_BRK1", PointKind.STATE),
    ("C_TAP1", PointKind.DISCRETE),
    ("C_SP1", PointKind.REAL),
    ("C_SP_FAIL", PointKind.REAL),
    ("C_RO1", PointKind.REAL),
    ("C_FREQ", PointKind.REAL),
]


def extra_points(data_set: str) -> list[dict[str, object]]:
    return [
        {"remote": "GEN1", "point": "C_GEN1", "scale": 2.0, "offset": 1.0, "data_set": data_set},
        {"remote": "BRK1", "point": "C_BRK1", "data_set": data_set},
        {"remote": "TAP1", "point": "C_TAP1", "data_set": data_set},
        {"remote": "FREQ", "scope": "vcc", "point": "C_FREQ", "data_set": data_set},
    ]


WRITABLE = [
    {"remote": "SP1", "point": "C_SP1", "type": "Data_Real", "writable": True, "data_set": "POLL"},
    {"remote": "SP_FAIL", "point": "C_SP_FAIL", "writable": True, "data_set": "POLL"},
    {"remote": "RO1", "point": "C_RO1", "writable": True, "data_set": "POLL"},
]


def all_match(client_bus, server_bus) -> bool:  # type: ignore[no-untyped-def]
    for t in [*TYPES, PointType.DATA_FLAGS]:
        if not matches(client_bus.get(client_point(t)), server_bus.get(type_point(t)), t):
            return False
    return True


async def test_transfer_sets_deliver_values_qualities_timestamps_and_are_acked() -> None:
    server_bus, _ = make_bus()
    async with running_server(bus=server_bus) as server:
        assert server.server is not None
        bus = make_client_bus(EXTRA)
        settings = client_settings(
            [server.server.port],
            data_sets=[
                {"name": "ALL", "interval": 1, "critical": True},
                {"name": "RBE", "integrity": 1, "rbe": True, "critical": True},
                {"name": "POLL", "poll_interval": 0.2},
            ],
            points=[*type_points("ALL"), *extra_points("RBE"), *WRITABLE],
            max_points_per_data_set=8,  # the 17 type points span three data sets
        )
        async with running_client(settings, bus) as client:
            await eventually(lambda: client.link.state == "running", what="running")
            status = client.status()
            assert status["address"] == f"127.0.0.1:{server.server.port}"
            assert sorted(status["transfer_sets"]) == [
                f"{DOMAIN}/ALL_01_{client.suffix}",
                f"{DOMAIN}/ALL_02_{client.suffix}",
                f"{DOMAIN}/ALL_03_{client.suffix}",
                f"{DOMAIN}/RBE_01_{client.suffix}",
            ]
            await eventually(lambda: all_match(bus, server_bus), 5.0, "every type point")
            gen1 = server_bus.get("GEN1")
            await eventually(lambda: bus.get("C_GEN1").value == gen1.value * 2 + 1)
            assert bus.get("C_FREQ").value == server_bus.get("FREQ").value
            # an RBE change travels at once, with its own quality and time stamp
            server_bus.update("GEN1", 100.0, Quality(Validity.HELD), 1_700_000_500.0)
            await eventually(lambda: bus.get("C_GEN1").value == 201.0, 3.0, "the RBE change")
            assert bus.get("C_GEN1").quality == Quality(Validity.HELD)
            assert bus.get("C_GEN1").ts == 1_700_000_500.0
            server_bus.update("BRK1", 1, GOOD, 1_700_000_600.0)
            await eventually(lambda: bus.get("C_BRK1").value == 1, 3.0, "the state change")
            await eventually(lambda: client.status()["acks"] >= 4, 3.0, "ACKs")
            assert server.server.events == type(server.server.events)()  # no NACK, no timeout
            status = client.status()
            assert status["reports"] >= 4 and status["reports_per_s"] > 0
            assert status["last_report"] is not None and status["nacks"] == 0


async def test_polling_mode_with_learnt_types_and_writes() -> None:
    server_bus, owner = make_bus()
    async with running_server(bus=server_bus) as server:
        assert server.server is not None
        bus = make_client_bus(EXTRA)
        settings = client_settings(
            [server.server.port],
            data_sets=[{"name": "POLL", "poll_interval": 0.2}],
            points=[
                *type_points("POLL", auto=True),
                *WRITABLE,
            ],
        )
        async with running_client(settings, bus) as client:
            await eventually(lambda: client.link.state == "running", what="running")
            for t in TYPES:
                await eventually(
                    lambda t=t: matches(bus.get(client_point(t)), server_bus.get(type_point(t)), t),
                    3.0,
                    f"polled {t}",
                )
            server_bus.update(type_point(PointType.DATA_REALQ), 9.5, GOOD, 1_700_000_700.0)
            await eventually(lambda: bus.get(client_point(PointType.DATA_REALQ)).value == 9.5)
            ok = await bus.command("C_SP1", 12.5)
            assert ok.ok, ok
            assert owner.commands[-1] == ("SP1", 12.5)
            refused = await bus.command("C_SP_FAIL", 1.0)
            assert refused.failure is CommandFailure.INVALID_VALUE
            denied = await bus.command("C_RO1", 1.0)
            assert denied.failure is CommandFailure.NOT_PERMITTED
            not_writable = await bus.command("C_GEN1", 1.0)
            assert not_writable.failure in (
                CommandFailure.UNKNOWN_POINT,
                CommandFailure.NOT_PERMITTED,
            )


async def test_a_mismatching_server_is_concluded_and_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running_server() as server:
        assert server.server is not None
        bus = make_client_bus()
        settings = client_settings(
            [server.server.port],
            bilateral_table_id="BLT_OTHER",
            points=type_points("GW_DS"),
        )
        with caplog.at_level(logging.WARNING):
            async with running_client(settings, bus) as client:
                await eventually(lambda: client.link.errors.get("check", 0) >= 2, 5.0, "retries")
                status = client.status()
                assert status["state"] in ("check-failed", "backoff", "connecting", "checking")
                assert (
                    "BLT_OTHER"
                    in status["addresses"][f"127.0.0.1:{server.server.port}"]["last_error"]
                )
        assert any("is not the configured peer" in r.getMessage() for r in caplog.records)
        point = bus.get(client_point(PointType.DATA_REAL))
        assert point.quality.validity is Validity.NOT_VALID


async def test_unknown_and_malformed_reports_are_nacked_and_the_client_keeps_running() -> None:
    server_bus, _ = make_bus()
    async with running_server(bus=server_bus) as server:
        assert server.server is not None
        bus = make_client_bus(EXTRA)
        settings = client_settings(
            [server.server.port],
            data_sets=[{"name": "RBE", "integrity": 1, "rbe": True, "critical": True}],
            points=extra_points("RBE"),
        )
        async with running_client(settings, bus) as client:
            await eventually(lambda: client.link.state == "running", what="running")
            (ctx,) = server.server.mms.associations
            ts_name = ObjectName.dom(
                DOMAIN,
                client.status()["transfer_sets"][f"{DOMAIN}/RBE_01_{client.suffix}"].split("/")[1],
            )
            head = (encode_mms_object_name(ts_name), BitString(5, b"\x80"), Integer(1))
            # a report for a data set the client never defined
            await ctx.send_information_report(
                InformationReport(VariableListName(ObjectName.dom(DOMAIN, "NOPE")), head)
            )
            # our data set, but values of the wrong shape
            bad = (*head, VisibleString("x"), Float32(1.0), Structure(()), Integer(5))
            await ctx.send_information_report(
                InformationReport(
                    VariableListName(ObjectName.dom(DOMAIN, f"RBE_01_{client.suffix}")), bad
                )
            )
            # raw garbage inside a well-formed unconfirmed PDU
            await ctx.send_encoded_report(b"\xa3\x06\xa0\x04\xa1\x02\x80\x00")
            await eventually(
                lambda: sum(1 for e in server.server.events if e.kind == "nack") >= 2,
                3.0,
                "two NACKs at the server",
            )
            assert client.status()["errors"]["unknown_reports"] >= 1
            assert client.status()["errors"]["malformed_reports"] >= 1
            # still delivering
            server_bus.update("GEN1", 55.0, GOOD, 1_700_000_800.0)
            await eventually(lambda: bus.get("C_GEN1").value == 111.0, 3.0, "data after garbage")
            assert client.link.state == "running"
