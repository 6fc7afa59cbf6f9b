"""The OPC UA peer for the client tests and benchmark: an asyncua server in its own process.

Run as a script (`python opcua_server_peer.py PORT [--user NAME:PASSWORD] [--bench N]`) it
serves, in namespace 2, a folder `Plant` with P1 (Double), P2 (Int32), S1 (Boolean), W1
(Double), I16 (Int16), EN (an enumeration, ServerState), CT (a Counter, UInt32), TX
(String), I64 (Int64), BD (BaseDataType) and SR (Structure) - all writable - RO
(Double, read-only), the method SetW1 (one
Double: W1 takes it; a negative one is refused with BadOutOfRange) and the method SetI16
(one UInt16, BadTypeMismatch for any other Variant type: I16 takes it); `--bench N` adds
N Double variables B0..B<N-1> (NodeIds `ns=2;s=B<n>`) in folders of 100. `--user` accepts
that user only (anonymous sessions are refused). Security: `--cert FILE --key FILE` (the server's
certificate and key; `--app-uri` the application URI it carries), `--policy NAME` (repeated:
asyncua's SecurityPolicyType names, e.g. Basic256Sha256_SignAndEncrypt; default all with a
certificate), `--trust DIR` (client certificates are then checked by asyncua's
CertificateValidator against a TrustStore of DIR) and `--user-cert FILE` (only a user
presenting that certificate is let in); `--max-items N` sets the OperationLimit
MaxMonitoredItemsPerCall to N and refuses a CreateMonitoredItems of more
(BadTooManyOperations); `--max-read N` sets MaxNodesPerRead to N and refuses a Read of
more nodes (BadTooManyOperations, as a service fault); `--min-interval MS` revises
publishing intervals up to MS and its ModifySubscription takes the keep-alive count asked
for; `--zero-keepalive` revises keep-alive counts to 0 (in the answer); `--mute-close` never
answers CloseSession. It prints
`{"ready": PORT}` once serving and takes JSON commands on stdin, one per line, answering
one JSON line each:

    {"op": "set", "name": "P1", "value": 1.5, "status": 0, "source_time": 1.0e9}  -> {}
        (source_time/server_time: POSIX s, null for none; default now)
    {"op": "set_many", "values": [{"name", "value", ...as set}]}  -> {}
    {"op": "subscriptions"}  -> {"subscriptions": [{"interval": ms, "keepalive_count": n}]}
    {"op": "read_sizes"}  -> {"sizes": [n, ...]}  (nodes per Read, with --max-read)
    {"op": "write_masks"}  -> {"masks": [n, ...]}  (the last Write's DataValue encoding masks)
    {"op": "get", "name": "W1"}                                -> {"value": ...}
    {"op": "churn", "seconds": 2.0}  -> {"writes": n}  (every B<n> rewritten, round after round)
    {"op": "drop_sessions"}  -> {"dropped": n}  (sessions closed server-side, sockets left open)
    {"op": "drop_subscriptions"}  -> {"dropped": n}  (subscriptions deleted, sessions left)

It exits when stdin closes. It uses asyncua only and imports nothing from the gateway or the
tests. `OpcUaServerPeer` is the asyncio handle the tests use.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import select
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__)
NAMESPACE = "urn:iccp-gateway:tests:opcua-peer"
TYPES = {
    "P1": "Double",
    "P2": "Int32",
    "S1": "Boolean",
    "W1": "Double",
    "RO": "Double",
    "I16": "Int16",
    "EN": "Int32",
    "CT": "UInt32",
    "TX": "String",
    "I64": "Int64",
    "BD": "Double",
    "SR": "Double",
}
INITIAL = {
    "P1": 0.0,
    "P2": 0,
    "S1": False,
    "W1": 0.0,
    "RO": 7.0,
    "I16": 0,
    "EN": 0,
    "CT": 0,
    "TX": "",
    "I64": 0,
    "BD": 0.0,
    "SR": 0.0,
}
DATATYPES = {"EN": 852, "CT": 289, "BD": 24, "SR": 22}
"""Variables whose DataType is not their Variant's: EN a ServerState (an enumeration), CT a
Counter (a subtype of UInt32), BD of DataType BaseDataType, SR of Structure (Double values)."""


class OpcUaServerPeer:
    """A running peer process: start it, send it commands (blocking, bounded), kill it.

    The handle is synchronous so that one server can serve a whole test module (its start
    takes seconds); each command is answered within milliseconds.
    """

    def __init__(self, port: int, *args: str) -> None:
        self.port = port
        self.args = args
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> OpcUaServerPeer:
        self.proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), str(self.port), *self.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = self._reply(timeout)
        assert ready.get("ready") == self.port, ready
        return self

    def call(self, op: str, timeout: float = 10.0, **args: Any) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        return self._reply(timeout)

    def _reply(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError("the OPC UA peer exited or did not answer in time")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def set(self, name: str, value: Any, **args: Any) -> None:
        self.call("set", name=name, value=value, **args)

    def get(self, name: str) -> Any:
        return self.call("get", name=name)["value"]

    def stop(self) -> None:
        """Kill the process (a server that vanishes, as a crash would) and reap it."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


# -- the script -------------------------------------------------------------------------------


def _record_write_masks() -> list[int]:
    """The encoding masks of the DataValues of the last Write request, as they came (asyncua
    decodes an absent StatusCode as Good): 1 value, 2 StatusCode, 4 and 8 time stamps."""
    import asyncua.server.uaprocessor as uaprocessor
    from asyncua import ua
    from asyncua.ua.ua_binary import Primitives, nodeid_from_binary

    masks: list[int] = []
    decode = uaprocessor.struct_from_binary

    def struct_from_binary(objtype: Any, data: Any) -> Any:
        if objtype is ua.WriteParameters:
            buf = data.copy()
            masks.clear()
            for _ in range(Primitives.Int32.unpack(buf)):
                nodeid_from_binary(buf)
                Primitives.UInt32.unpack(buf)  # AttributeId
                Primitives.String.unpack(buf)  # IndexRange
                masks.append(buf.copy().read(1)[0])
                decode(ua.DataValue, buf)
        return decode(objtype, data)

    uaprocessor.struct_from_binary = struct_from_binary
    return masks


def _datavalue(cmd: dict[str, Any]) -> Any:
    """The DataValue a `set` command gives its variable."""
    from asyncua import ua

    vt = getattr(ua.VariantType, TYPES[cmd["name"]])
    ts = cmd.get("source_time", time.time())
    server_ts = cmd.get("server_time", time.time())
    return ua.DataValue(
        ua.Variant(cmd["value"], vt),
        StatusCode=ua.StatusCode(cmd.get("status", 0)),
        SourceTimestamp=None if ts is None else datetime.fromtimestamp(ts, UTC),
        ServerTimestamp=None if server_ts is None else datetime.fromtimestamp(server_ts, UTC),
    )


def _revise_subscriptions(server: Any, min_interval: float, zero_keepalive: bool) -> None:
    """A server that revises publishing intervals up to `min_interval` ms (and, with
    `zero_keepalive`, says its keep-alive count is 0); its ModifySubscription takes the
    keep-alive count asked for (asyncua's own keeps the first)."""
    service = server.iserver.subscription_service
    create = service.create_subscription

    async def create_subscription(params: Any, *args: Any, **kwargs: Any) -> Any:
        params.RequestedPublishingInterval = max(params.RequestedPublishingInterval, min_interval)
        result = await create(params, *args, **kwargs)
        if zero_keepalive:
            result.RevisedMaxKeepAliveCount = 0
        return result

    def modify_subscription(params: Any) -> Any:
        from asyncua import ua
        from asyncua.common.utils import ServiceError

        sub = service.subscriptions.get(params.SubscriptionId)
        if sub is None:
            raise ServiceError(ua.StatusCodes.BadSubscriptionIdInvalid)
        sub.data.RevisedPublishingInterval = max(params.RequestedPublishingInterval, min_interval)
        if not zero_keepalive:
            sub.data.RevisedMaxKeepAliveCount = max(1, params.RequestedMaxKeepAliveCount)
        result = ua.ModifySubscriptionResult()
        result.RevisedPublishingInterval = sub.data.RevisedPublishingInterval
        result.RevisedLifetimeCount = sub.data.RevisedLifetimeCount
        result.RevisedMaxKeepAliveCount = sub.data.RevisedMaxKeepAliveCount
        return result

    service.create_subscription = create_subscription
    service.modify_subscription = modify_subscription


async def _serve(port: int, user: str | None, bench: int, security: argparse.Namespace) -> None:
    from asyncua import Server, ua
    from asyncua.crypto import uacrypto
    from asyncua.crypto.permission_rules import User, UserRole
    from asyncua.crypto.truststore import TrustStore
    from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions

    user_der = None
    if security.user_cert:
        user_der = uacrypto.der_from_x509(await uacrypto.load_certificate(security.user_cert))

    class _Users:
        def get_user(
            self, iserver: Any, username: Any = None, password: Any = None, certificate: Any = None
        ) -> Any:
            if user_der is not None and username is None:
                return User(role=UserRole.User) if certificate == user_der else None
            if user is None or f"{username}:{password}" == user:
                return User(role=UserRole.User)
            return None

    server = Server(user_manager=_Users())  # type: ignore[arg-type]
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}")
    if security.app_uri:
        await server.set_application_uri(security.app_uri)
    if security.cert:
        await server.load_certificate(security.cert)
        await server.load_private_key(security.key)
    if security.policy:
        server.set_security_policy([getattr(ua.SecurityPolicyType, p) for p in security.policy])
    if security.trust:
        store = TrustStore([Path(security.trust)], [])
        await store.load()
        options = (
            CertificateValidatorOptions.BASIC_VALIDATION
            | CertificateValidatorOptions.TRUSTED
            | CertificateValidatorOptions.PEER_CLIENT
        )
        server.set_certificate_validator(CertificateValidator(options, store))
    tokens: list[type] = []
    if user_der is not None:
        tokens.append(ua.X509IdentityToken)
    if user is not None:
        tokens.append(ua.UserNameIdentityToken)
    if tokens:
        server.set_identity_tokens(tokens)
    if security.max_items:
        # The OperationLimit told, and kept: a CreateMonitoredItems of more items is refused.
        limit = server.get_node(
            ua.NodeId(
                ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall
            )
        )
        await limit.write_value(ua.Variant(security.max_items, ua.VariantType.UInt32))
        service = server.iserver.subscription_service
        create = service.create_monitored_items

        async def create_monitored_items(params: Any) -> Any:
            if len(params.ItemsToCreate) > security.max_items:
                from asyncua.common.utils import ServiceError

                raise ServiceError(ua.StatusCodes.BadTooManyOperations)
            return await create(params)

        service.create_monitored_items = create_monitored_items
    read_sizes: list[int] = []
    if security.max_read:
        # MaxNodesPerRead told only to a Read of one node: a Read of more nodes than that
        # (the OperationLimits read of three at once too) is refused, BadTooManyOperations.
        read_limit = server.get_node(
            ua.NodeId(ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead)
        )
        await read_limit.write_value(ua.Variant(security.max_read, ua.VariantType.UInt32))
        attributes = server.iserver.attribute_service
        read = attributes.read

        def limited_read(params: Any) -> Any:
            from asyncua.common.utils import ServiceError

            read_sizes.append(len(params.NodesToRead))
            if len(params.NodesToRead) > security.max_read:
                raise ServiceError(ua.StatusCodes.BadTooManyOperations)
            return read(params)

        attributes.read = limited_read
    if security.mute_close:
        # A server that never answers CloseSession (hung, or its answer lost).
        from asyncua.server.internal_session import InternalSession

        async def close_session(self: Any, *args: Any, **kwargs: Any) -> None:
            await asyncio.Event().wait()

        InternalSession.close_session = close_session  # type: ignore[method-assign]
    if security.min_interval or security.zero_keepalive:
        _revise_subscriptions(server, security.min_interval, security.zero_keepalive)
    write_masks = _record_write_masks()
    ns = await server.register_namespace(NAMESPACE)
    plant = await server.nodes.objects.add_folder(
        ua.NodeId("Plant", ns), ua.QualifiedName("Plant", ns)
    )
    nodes: dict[str, ua.NodeId] = {}
    for name, kind in TYPES.items():
        vt = getattr(ua.VariantType, kind)
        var = await plant.add_variable(
            ua.NodeId(name, ns),
            ua.QualifiedName(name, ns),
            ua.Variant(INITIAL[name], vt),
            datatype=DATATYPES.get(name),
        )
        if name != "RO":
            await var.set_writable()
        nodes[name] = var.nodeid

    async def _set_w1(parent: Any, value: Any) -> Any:
        if value.Value < 0:
            return ua.StatusCode(ua.StatusCodes.BadOutOfRange)
        await server.write_attribute_value(
            nodes["W1"], ua.DataValue(ua.Variant(value.Value, ua.VariantType.Double))
        )
        return []

    await plant.add_method(
        ua.NodeId("SetW1", ns), ua.QualifiedName("SetW1", ns), _set_w1, [ua.VariantType.Double], []
    )

    async def _set_i16(parent: Any, value: Any) -> Any:
        if value.VariantType != ua.VariantType.UInt16:
            return ua.StatusCode(ua.StatusCodes.BadTypeMismatch)
        await server.write_attribute_value(
            nodes["I16"], ua.DataValue(ua.Variant(value.Value, ua.VariantType.Int16))
        )
        return []

    await plant.add_method(
        ua.NodeId("SetI16", ns),
        ua.QualifiedName("SetI16", ns),
        _set_i16,
        [ua.VariantType.UInt16],
        [],
    )
    bench_ids: list[ua.NodeId] = []
    for start in range(0, bench, 100):
        folder = await server.nodes.objects.add_folder(ns, f"Bench{start // 100}")
        for n in range(start, min(start + 100, bench)):
            var = await folder.add_variable(
                ua.NodeId(f"B{n}", ns),
                ua.QualifiedName(f"B{n}", ns),
                ua.Variant(0.0, ua.VariantType.Double),
            )
            bench_ids.append(var.nodeid)
    async with server:
        print(json.dumps({"ready": port}), flush=True)
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            cmd = json.loads(line)
            op = cmd["op"]
            reply: dict[str, Any] = {}
            if op == "set":
                await server.write_attribute_value(nodes[cmd["name"]], _datavalue(cmd))
            elif op == "set_many":  # one after the other, without a publish between
                for one in cmd["values"]:
                    await server.write_attribute_value(nodes[one["name"]], _datavalue(one))
            elif op == "subscriptions":
                reply["subscriptions"] = [
                    {
                        "interval": sub.data.RevisedPublishingInterval,
                        "keepalive_count": sub.data.RevisedMaxKeepAliveCount,
                    }
                    for sub in server.iserver.subscription_service.subscriptions.values()
                ]
            elif op == "read_sizes":
                reply["sizes"] = list(read_sizes)
            elif op == "write_masks":
                reply["masks"] = list(write_masks)
            elif op == "get":
                reply["value"] = await server.get_node(nodes[cmd["name"]]).read_value()
            elif op == "churn":
                writes = 0
                value = 0.0
                deadline = time.monotonic() + float(cmd["seconds"])
                while time.monotonic() < deadline:
                    value += 1.0
                    stamp = datetime.now(UTC)
                    for n, nodeid in enumerate(bench_ids, 1):
                        dv = ua.DataValue(
                            ua.Variant(value, ua.VariantType.Double),
                            SourceTimestamp=stamp,
                            ServerTimestamp=stamp,
                        )
                        await server.write_attribute_value(nodeid, dv)
                        if n % 100 == 0:
                            await asyncio.sleep(0)  # let the publish responses out
                    writes += len(bench_ids)
                    await asyncio.sleep(0)
                reply["writes"] = writes
            elif op == "drop_subscriptions":
                # A subscription that dies on a live session (e.g. its lifetime ran out
                # while the client's publish requests were lost): the session stays.
                service = server.iserver.subscription_service
                ids = list(service.subscriptions)
                await service.delete_subscriptions(ids)
                reply["dropped"] = len(ids)
            elif op == "drop_sessions":
                # What a server does when a session times out under load: the session and
                # its subscriptions go, the TCP connection stays.
                sessions = list(server.iserver._external_sessions.values())
                for session in sessions:
                    await session.close_session()
                reply["dropped"] = len(sessions)
            print(json.dumps(reply), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--user")
    parser.add_argument("--bench", type=int, default=0)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--app-uri")
    parser.add_argument("--policy", action="append")
    parser.add_argument("--trust")
    parser.add_argument("--user-cert")
    parser.add_argument("--max-items", type=int, default=0)
    parser.add_argument("--max-read", type=int, default=0)
    parser.add_argument("--min-interval", type=float, default=0.0)
    parser.add_argument("--zero-keepalive", action="store_true")
    parser.add_argument("--mute-close", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("asyncuagds.validate").setLevel(logging.CRITICAL)  # a traceback a refusal
    asyncio.run(_serve(args.port, args.user, args.bench, args))


if __name__ == "__main__":
    main()
