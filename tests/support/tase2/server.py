"""Shared set-up of the TASE.2 server tests: a bus with one point per TASE.2 point type,
bilateral tables, the ``tase2-server`` adapter running on a free port, our own client, and
``iccp-gateway probe`` run against it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from adapters.tase2.mms.access import VariableEntry, VariableList
from adapters.tase2.mms.aio.client import MmsClient
from adapters.tase2.mms.association import AssociationConfig
from adapters.tase2.mms.data import Data, Integer
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.pdu import Unconfirmed
from adapters.tase2.mms.services import InformationReport
from adapters.tase2.model.objects import (
    TRANSFER_REPORT_ACK,
    TRANSFER_SET_TIME_STAMP,
    encode_mms_object_name,
)
from adapters.tase2.model.points import PointType
from adapters.tase2.server.adapter import Tase2ServerAdapter
from adapters.tase2.server.settings import Tase2ServerSettings
from gateway.bus import CommandError, CommandFailure, PointBus, Value
from gateway.points import GOOD, PointDef, PointKind, Quality, Source, Validity
from tests.support import eventually, running
from tests.support.gateway import run_cli

SERVER_AP = "1.1.1.999.1"
PEER_AP = "1.1.1.999"
OTHER_AP = "1.1.1.777"
DOMAIN = "ICC1"
OTHER_DOMAIN = "ICC2"


def kind_for(ptype: PointType) -> PointKind:
    """A point kind the type can carry (real first)."""
    kinds = ptype.info.kinds
    for k in (PointKind.REAL, PointKind.STATE, PointKind.DISCRETE):
        if k in kinds:
            return k
    raise AssertionError(ptype)


def type_point(ptype: PointType) -> str:
    """The test point served with ``ptype``."""
    return f"T_{ptype.name}"[:32]


class Owner:
    """The owner of the test points: takes commands, fails on request."""

    def __init__(self, bus: PointBus) -> None:
        self.bus = bus
        self.commands: list[tuple[str, Value]] = []

    async def on_command(self, point: PointDef, value: Value) -> None:
        self.commands.append((point.id, value))
        if point.id == "SP_FAIL":
            raise CommandError(CommandFailure.INVALID_VALUE, "out of range")
        self.bus.update(point.id, value, GOOD, 1_700_000_000.25)


def make_bus() -> tuple[PointBus, Owner]:
    """Points: one per point type, GEN1/GEN2 (real), BRK1 (state), TAP1 (discrete),
    SP1/SP_FAIL (writable reals), RO1 (read-only), SECRET (in no table), FREQ (VCC)."""
    bus = PointBus()
    owner = Owner(bus)
    bus.add_owner("plant", owner.on_command)
    defs = [PointDef(id=type_point(t), kind=kind_for(t)) for t in PointType]
    defs += [
        PointDef(id="GEN1", kind=PointKind.REAL),
        PointDef(id="GEN2", kind=PointKind.REAL),
        PointDef(id="BRK1", kind=PointKind.STATE),
        PointDef(id="TAP1", kind=PointKind.DISCRETE),
        PointDef(id="SP1", kind=PointKind.REAL),
        PointDef(id="SP_FAIL", kind=PointKind.REAL),
        PointDef(id="RO1", kind=PointKind.REAL),
        PointDef(id="SECRET", kind=PointKind.REAL),
        PointDef(id="FREQ", kind=PointKind.REAL),
    ]
    for d in defs:
        bus.register(d, "plant")
    suspect = Quality(Validity.SUSPECT, Source.CALCULATED)
    for i, d in enumerate(defs):
        value: float | int = 2 if d.kind is PointKind.STATE else i + 0.5
        if d.kind is PointKind.DISCRETE:
            value = 40 + i
        bus.update(d.id, value, suspect if i % 3 == 0 else GOOD, 1_700_000_000.5 + i)
    return bus, owner


def table(
    table_id: str = "BLT_ICC1", domain: str = DOMAIN, ap: str = PEER_AP, points: Any = None
) -> dict[str, Any]:
    """A bilateral table as YAML would give it."""
    if points is None:
        points = [
            *({"match": type_point(t), "type": t.value} for t in PointType),
            {"match": "GEN*"},
            {"match": "BRK1"},
            {"match": "TAP1"},
            {"match": "SP1", "write": True},
            {"match": "SP_FAIL", "write": True},
            {"match": "RO1"},
        ]
    return {
        "id": table_id,
        "domain": domain,
        "peer": {"ap_title": ap, "ae_qualifier": 12},
        "points": points,
    }


def settings(**extra: Any) -> Tase2ServerSettings:
    """Server settings: port 0, two tables (ICC1 for PEER_AP, ICC2 for OTHER_AP)."""
    raw: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "ap_title": SERVER_AP,
        "ae_qualifier": 12,
        "vcc_points": [{"match": "FREQ"}],
        "tables": [table(), table("BLT_ICC2", OTHER_DOMAIN, OTHER_AP, [{"match": "GEN1"}])],
    }
    raw.update(extra)
    return Tase2ServerSettings.model_validate(raw)


async def server_up(adapter: Tase2ServerAdapter) -> None:
    """Wait (bounded) until the adapter's MMS server listens."""
    await eventually(
        lambda: adapter.server is not None and adapter.server.mms._server is not None,
        2.0,
        "the TASE.2 server to listen",
    )


@contextlib.asynccontextmanager
async def running_server(
    s: Tase2ServerSettings | None = None, bus: PointBus | None = None
) -> AsyncIterator[Tase2ServerAdapter]:
    """The adapter running on a free port until the block ends."""
    if bus is None:
        bus, _ = make_bus()
    adapter = Tase2ServerAdapter("tase2", s or settings(), bus)
    async with running(adapter):
        await server_up(adapter)
        yield adapter


async def connect(adapter: Tase2ServerAdapter, ap: str = PEER_AP, **kw: Any) -> MmsClient:
    """Our MmsClient associated as ``ap`` (AE-qualifier 12)."""
    assert adapter.server is not None
    cfg = AssociationConfig(
        local_ap_title=ap,
        local_ae_qualifier=12,
        remote_ap_title=SERVER_AP,
        remote_ae_qualifier=12,
        **kw,
    )
    return await MmsClient.connect(
        "127.0.0.1", adapter.server.port, config=cfg, connect_timeout=5.0, request_timeout=5.0
    )


async def send_ack(client: MmsClient, transfer_set: ObjectName, stamp: int | None) -> None:
    """Transfer_Report_ACK as the client's unconfirmed InformationReport."""
    assert transfer_set.domain is not None
    names = [ObjectName.dom(transfer_set.domain, TRANSFER_REPORT_ACK)]
    values: list[Data] = [encode_mms_object_name(transfer_set)]
    if stamp is not None:
        names.append(ObjectName.dom(transfer_set.domain, TRANSFER_SET_TIME_STAMP))
        values.append(Integer(stamp))
    spec = VariableList(tuple(VariableEntry(n) for n in names))
    client.association.send_pdu(Unconfirmed(InformationReport(spec, tuple(values))))
    await client._link.flush()


async def probe(*args: str, timeout: float = 30.0) -> tuple[int, str, str]:
    """``iccp-gateway probe ARGS`` in a subprocess: (exit code, stdout, stderr)."""
    return await run_cli("probe", *args, timeout=timeout)
