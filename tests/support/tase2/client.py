"""Shared set-up of the TASE.2 client tests: a client-side bus, client settings pointing at
the ``tase2-server`` test fixture, the client adapter running, and what the client's bus
should hold for a server value."""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Sequence
from typing import Any

from adapters.tase2.client.adapter import Tase2ClientAdapter
from adapters.tase2.client.settings import Tase2ClientSettings
from adapters.tase2.model.points import PointType
from gateway.bus import PointBus
from gateway.points import GOOD, PointDef, PointKind, PointValue, Quality
from tests.support import running
from tests.support.tase2.server import DOMAIN, PEER_AP, SERVER_AP, kind_for, type_point

BLT = "BLT_ICC1"
TYPES = [t for t in PointType if t is not PointType.DATA_FLAGS]
"""Point types whose value travels (Data_Flags carries the quality only)."""


def client_point(ptype: PointType) -> str:
    """The client-side bus point fed by the server's point of ``ptype``."""
    return f"C_{ptype.name}"[:32]


def make_client_bus(extra: Sequence[tuple[str, PointKind]] = ()) -> PointBus:
    """A client-side bus owning one point per point type plus ``extra``."""
    bus = PointBus()
    bus.add_owner("iso")
    for t in PointType:
        bus.register(PointDef(id=client_point(t), kind=kind_for(t)), "iso")
    for pid, kind in extra:
        bus.register(PointDef(id=pid, kind=kind), "iso")
    return bus


def type_points(data_set: str, auto: bool = False) -> list[dict[str, Any]]:
    """Client point entries for every type point of the server (type configured or auto)."""
    return [
        {
            "remote": type_point(t),
            "point": client_point(t),
            "type": "auto" if auto and t is not PointType.DATA_FLAGS else t.value,
            "data_set": data_set,
        }
        for t in PointType
    ]


def client_settings(ports: Sequence[int], **extra: Any) -> Tase2ClientSettings:
    """Client settings for the server fixture's ICC1 table (AP-title PEER_AP, AE 12)."""
    raw: dict[str, Any] = {
        "addresses": [f"127.0.0.1:{p}" for p in ports],
        "local_ap_title": PEER_AP,
        "local_ae_qualifier": 12,
        "remote_ap_title": SERVER_AP,
        "remote_ae_qualifier": 12,
        "bilateral_table_id": BLT,
        "domain": DOMAIN,
        "backoff_initial": 0.2,
        "backoff_max": 1.0,
        "connect_timeout": 2.0,
        "request_timeout": 2.0,
    }
    raw.update(extra)
    return Tase2ClientSettings.model_validate(raw)


@contextlib.asynccontextmanager
async def running_client(
    settings: Tase2ClientSettings, bus: PointBus, name: str = "iso"
) -> AsyncIterator[Tase2ClientAdapter]:
    """The client adapter running until the block ends (its task must never finish)."""
    bus.add_owner(name)
    adapter = Tase2ClientAdapter(name, settings, bus)
    bus.add_owner(name, adapter.on_command)
    async with running(adapter) as task:
        yield adapter
        assert not task.done(), task


def expected(
    server: PointValue, ptype: PointType
) -> tuple[float | int | None, Quality, float | None]:
    """What the client's bus should hold for a server value sent as ``ptype``: the value
    (None for Data_Flags), the quality, and the time stamp (None: receive time)."""
    info = ptype.info
    value = None if ptype is PointType.DATA_FLAGS else server.value
    quality = server.quality if info.has_quality else GOOD
    if not info.has_time:
        return value, quality.replace(timestamp_invalid=True), None
    ts = server.ts if info.has_milliseconds else float(math.floor(server.ts))
    return value, quality, ts


def matches(client: PointValue, server: PointValue, ptype: PointType) -> bool:
    """True when the client's value is what ``ptype`` carries of the server's value."""
    value, quality, ts = expected(server, ptype)
    if value is not None and client.value != value:
        return False
    if client.quality != quality:
        return False
    return ts is None or abs(client.ts - ts) < 1e-6
