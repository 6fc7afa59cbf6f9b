"""What the DNP3 tests share: a dnp3-master adapter owning its points on a fresh bus."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adapters.dnp3.master.adapter import Dnp3MasterAdapter
from adapters.dnp3.master.settings import Dnp3MasterSettings
from gateway.bus import PointBus
from gateway.points import PointDef


def master_on_bus(
    outstations: Sequence[Mapping[str, Any]], points: Sequence[Mapping[str, Any]]
) -> tuple[PointBus, Dnp3MasterAdapter]:
    """A bus whose points a dnp3-master adapter owns (and takes commands for). Each binding
    may say the bus point's `kind` (default real)."""
    kinds = {p["point"]: p.get("kind", "real") for p in points}
    bindings = [{k: v for k, v in p.items() if k != "kind"} for p in points]
    settings = Dnp3MasterSettings.model_validate(
        {"outstations": list(outstations), "points": bindings}
    )
    bus = PointBus()
    bus.add_owner("dnp3")
    for point, kind in kinds.items():
        bus.register(PointDef(id=point, kind=kind), "dnp3")
    adapter = Dnp3MasterAdapter("dnp3", settings, bus)
    bus.add_owner("dnp3", adapter.on_command)
    return bus, adapter
