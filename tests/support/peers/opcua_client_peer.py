"""An asyncua client in its own process, the `opcua-server` tests' independent peer.

Run as `python opcua_client_peer.py CONFIG_JSON` (url, optional user/password, lifetime;
for security `security` - asyncua's `Policy,Mode,certificate,key[,server_certificate]` - and
`application_uri`; for a user certificate `user_certificate` and `user_private_key`): it
connects, prints `{"ready": true}` (or `{"error": ...}`), then answers JSON commands on
stdin, one JSON line each on stdout:

    {"op": "browse", "root": "ns=2;s=folder:Gateway"}
        -> {"folders": {"path": n_children}, "variables": {"path/name": "nodeid"}}
    {"op": "read", "nodes": ["ns=2;s=a"]}
        -> {"values": [{"value", "type", "status", "source_ts"}]}
    {"op": "subscribe", "nodes": [...], "interval": 50}   -> {"handle": true}
    {"op": "take"}                 -> {"changes": [{"node", "value", "status", "source_ts"}]}
    {"op": "count"}                -> {"changes": n}   (received so far, not taken)
    {"op": "write", "node": "ns=2;s=a", "value": 1.5, "type": "Double"} -> {"status": code}
    {"op": "write_many", "writes": [{"node", "value", "type", optional "attribute",
        "index_range", "status", "source_ts"}]} -> {"statuses": [code, ...]}  (one request)
    {"op": "endpoints"}   -> {"endpoints": [["Basic256Sha256", "SignAndEncrypt"], ...]}

It uses asyncua only, never the gateway's code, and imports nothing from the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any

from asyncua import Client, ua
from asyncua.common.node import Node


class _Handler:
    def __init__(self) -> None:
        self.changes: list[dict[str, Any]] = []

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        dv = data.monitored_item.Value
        self.changes.append(_dv(dv) | {"node": node.nodeid.to_string()})


def _dv(dv: ua.DataValue) -> dict[str, Any]:
    variant = dv.Value
    return {
        "value": None if variant is None else variant.Value,
        "type": None if variant is None else variant.VariantType.name,
        "status": 0 if dv.StatusCode is None else int(dv.StatusCode.value),
        "source_ts": None if dv.SourceTimestamp is None else dv.SourceTimestamp.timestamp(),
    }


async def _browse(node: Node, path: str, out: dict[str, Any]) -> None:
    children = await node.get_children()
    out["folders"][path] = len(children)
    for child in children:
        name = (await child.read_browse_name()).Name
        cls = await child.read_node_class()
        if cls == ua.NodeClass.Object:
            await _browse(child, f"{path}/{name}", out)
        else:
            out["variables"][f"{path}/{name}"] = child.nodeid.to_string()


async def _serve(client: Client, handler: _Handler) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    sub = None
    while line := await reader.readline():
        cmd = json.loads(line)
        op = cmd["op"]
        reply: dict[str, Any]
        try:
            if op == "browse":
                out: dict[str, Any] = {"folders": {}, "variables": {}}
                await _browse(client.get_node(cmd["root"]), "", out)
                reply = out
            elif op == "read":
                nodes = [client.get_node(n) for n in cmd["nodes"]]
                dvs = await client.read_attributes(nodes)
                reply = {"values": [_dv(dv) for dv in dvs]}
            elif op == "subscribe":
                sub = await client.create_subscription(cmd.get("interval", 50), handler)
                nodes = [client.get_node(n) for n in cmd["nodes"]]
                await sub.subscribe_data_change(nodes, queuesize=0)
                reply = {"handle": True}
            elif op == "take":
                reply = {"changes": handler.changes}
                handler.changes = []
            elif op == "count":
                reply = {"changes": len(handler.changes)}
            elif op == "write":
                vtype = getattr(ua.VariantType, cmd["type"])
                dv = ua.DataValue(ua.Variant(cmd["value"], vtype))
                params = ua.WriteParameters()
                params.NodesToWrite = [
                    ua.WriteValue(
                        NodeId=ua.NodeId.from_string(cmd["node"]),
                        AttributeId=ua.AttributeIds.Value,
                        Value=dv,
                    )
                ]
                (result,) = await client.uaclient.write(params)
                reply = {"status": int(result.value)}
            elif op == "write_many":
                params = ua.WriteParameters()
                params.NodesToWrite = [
                    ua.WriteValue(
                        NodeId=ua.NodeId.from_string(w["node"]),
                        AttributeId=w.get("attribute", ua.AttributeIds.Value),
                        IndexRange=w.get("index_range"),
                        Value=ua.DataValue(
                            ua.Variant(w["value"], getattr(ua.VariantType, w["type"])),
                            StatusCode=ua.StatusCode(w.get("status", 0)),
                            SourceTimestamp=(
                                datetime.fromtimestamp(w["source_ts"], UTC)
                                if "source_ts" in w
                                else None
                            ),
                        ),
                    )
                    for w in cmd["writes"]
                ]
                results = await client.uaclient.write(params)
                reply = {"statuses": [int(r.value) for r in results]}
            elif op == "endpoints":
                reply = {
                    "endpoints": [
                        [e.SecurityPolicyUri.rpartition("#")[2], e.SecurityMode.name.rstrip("_")]
                        for e in await client.get_endpoints()
                    ]
                }
            else:
                reply = {"error": f"unknown op {op}"}
        except Exception as exc:  # answered, so that the test sees it
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


async def main(config: dict[str, Any]) -> None:
    client = Client(config["url"], timeout=10, watchdog_intervall=30)
    if config.get("user"):
        client.set_user(config["user"])
        client.set_password(config["password"])
    handler = _Handler()
    try:
        if config.get("application_uri"):
            client.application_uri = config["application_uri"]
        if config.get("security"):
            await client.set_security_string(config["security"])
        if config.get("user_certificate"):
            await client.load_client_certificate(config["user_certificate"])
            await client.load_private_key(config["user_private_key"])
        await client.connect()
    except Exception as exc:
        sys.stdout.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        sys.stdout.flush()
        return
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    try:
        await asyncio.wait_for(_serve(client, handler), config.get("lifetime", 120))
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(), 5)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
    sys.stdout.flush()
    os._exit(0)
