"""The demo gateway (mappings/demo.yaml) with its Block 4/5 devices, run on free ports.

:func:`demo_config` copies ``mappings/demo.yaml`` (whose bilateral table BLT_DEMO_001 has
the devices and messages) and ``mappings/modbus-points.csv`` to a directory, with test-only
changes (free ports, a short select time-out, scaled set-point registers, an extra table for
a peer without operate rights), and returns the file to load. :func:`running_demo` runs
it in a :class:`~gateway.runtime.Runtime` until the Modbus link and the ICCP server are up;
:func:`plant` reads the plant simulator's registers and coil with pymodbus.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import yaml
from pymodbus.client import AsyncModbusTcpClient

from gateway.config import load_config
from gateway.points import Validity
from gateway.runtime import Runtime
from tests.support import REPO, eventually, free_port
from tests.support.gateway import running_gateway

VIEWER_AP = "1.1.1.998"

GEN2_SETPOINT_SCALE = 0.1
"""Test copy only: the GEN2_SETPOINT register counts 0.1 MW (raw = MW / 0.1)."""
TAP2_POS_OFFSET = -17
"""Test copy only: TAP2_POS = register - 17 (raw 17 is the neutral tap 0)."""


def on_ports(
    raw: dict[str, Any],
    iccp_port: int,
    plant_port: int,
    rtu_port: int | None = None,
    dcs_port: int | None = None,
) -> dict[str, Any]:
    """The parsed demo configuration ``raw`` moved to the given ICCP, Modbus plant, DNP3
    RTU and OPC UA DCS ports (the RTU and the DCS on free ports unless given)."""
    rtu_port = free_port() if rtu_port is None else rtu_port
    dcs_port = free_port() if dcs_port is None else dcs_port
    for adapter in raw["adapters"]:
        if adapter["type"] == "dnp3-outstation":
            adapter["port"] = rtu_port
        elif adapter["type"] == "dnp3-master":
            for outstation in adapter["outstations"]:
                outstation["port"] = rtu_port
        elif adapter["type"] == "modbus-plant-sim":
            adapter["port"] = plant_port
        elif adapter["type"] == "modbus-client":
            for device in adapter["devices"]:
                device["port"] = plant_port
        elif adapter["type"] == "opcua-server":
            adapter["port"] = dcs_port
        elif adapter["type"] == "opcua-client":
            adapter["endpoints"] = [f"opc.tcp://127.0.0.1:{dcs_port}"]
        elif adapter["type"] == "tase2-server":
            adapter["port"] = iccp_port
    return raw


def demo_config(
    directory: Path,
    *,
    iccp_port: int,
    plant_port: int,
    select_timeout: float | None = None,
    viewer_table: bool = True,
) -> Path:
    """The demo configuration on the given ports, with the test-only changes."""
    raw = yaml.safe_load((REPO / "mappings" / "demo.yaml").read_text())
    with (REPO / "mappings" / "modbus-points.csv").open(newline="") as f:
        lines = [line for line in f if line.startswith("#")]
        f.seek(0)
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    for row in rows:
        if row["point"] == "GEN2_SETPOINT":
            row["scale"] = str(GEN2_SETPOINT_SCALE)
        if row["point"] == "TAP2_POS":
            row["offset"] = str(TAP2_POS_OFFSET)
    with (directory / "modbus-points.csv").open("w", newline="") as f:
        f.writelines(lines)
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for adapter in on_ports(raw, iccp_port, plant_port)["adapters"]:
        if adapter["type"] == "modbus-client":
            for device in adapter["devices"]:
                device["poll_interval"] = 0.5
                device["poll_groups"] = {"fast": 0.2}
        elif adapter["type"] == "tase2-server":
            table = adapter["tables"][0]  # BLT_DEMO_001, with the demo's devices
            if select_timeout is not None:
                for device in table["devices"]:
                    if device.get("sbo"):
                        device["select_timeout"] = select_timeout
            if viewer_table:
                adapter["tables"].append(
                    {
                        "id": "BLT_VIEWER",
                        "domain": "ICC2",
                        "peer": {"ap_title": VIEWER_AP, "ae_qualifier": 12},
                        "points": [{"match": "BRK2_STATE"}],
                        "devices": [
                            {**d, "operate": False, "set_tag": False}
                            for d in table["devices"]
                            if d.get("taggable")
                        ],
                    }
                )
    path = directory / "demo.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@contextlib.asynccontextmanager
async def running_demo(path: Path) -> AsyncIterator[Runtime]:
    """The gateway of ``path`` running, with the Modbus link and the ICCP server up."""
    async with running_gateway(load_config(path)) as rt:

        def ready() -> bool:
            iccp = rt.adapters.get("iccp")
            up = iccp is not None and getattr(iccp, "server", None) is not None
            return up and rt.bus.get("BRK2_STATE").quality.validity is Validity.VALID

        await eventually(ready, 15.0, "the Modbus link and the ICCP server")
        yield rt


async def plant(port: int) -> dict[str, Any]:
    """The plant simulator's BRK2 coil, GEN2 set-point register and TAP2 register."""
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2)
    await client.connect()
    try:
        coil = await client.read_coils(0, count=1, device_id=1)
        sp = await client.read_holding_registers(100, count=2, device_id=1)
        tap = await client.read_holding_registers(102, count=1, device_id=1)
        setpoint = client.convert_from_registers(
            sp.registers, client.DATATYPE.FLOAT32, word_order="big"
        )
        return {"coil": bool(coil.bits[0]), "setpoint": setpoint, "tap": tap.registers[0]}
    finally:
        client.close()
