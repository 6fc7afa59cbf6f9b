"""The `opcua-server` adapter: serves bus points as OPC UA variables (asyncua, imported).

Points matched by the settings are variables in a folder tree (`tree.FolderPlan`, at most
`max_per_folder` nodes a folder). Bus changes are pushed in batches straight into asyncua's
address space (`AddressSpace.write_attribute_value`: asyncua has no batch write, and that
call, under `Server.write_attribute_value`, skips the checks of a client's Write); a value its
variable's type cannot carry is served as BadOutOfRange. The Writes of one client request
become `bus.command`s at once, each answered with its owner's outcome (`status.code_of`)
within `command_timeout` (< 4 s); a variable that is not writable answers BadNotWritable, a
user without write access (anonymous clients by default) BadUserAccessDenied, an IndexRange,
StatusCode or time stamps BadWriteNotSupported, a NodeId the server does not have
BadNodeIdUnknown. Patterns are matched against the bus again every `refresh_period` when
its points changed, and a reconfiguration adds, moves and deletes only the nodes that changed,
in batches.

Security: the endpoints are the settings' `security_policies`; a secure one uses the
configured certificate, or a self-signed one generated once into `certificate_dir`
(`adapters.opcua.security.ensure_self_signed`). A client's certificate is checked at
CreateSession against the trusted certificates (validity, application URI, trust); a refusal
is one log line naming its subject (again only at the 2nd, 4th, 8th... refusal). Users log in
with a name and password or a user certificate (X509 identity token).

The standard address space is loaded from the cache in `address_space_cache`, made once
(`address_space_cache.standard_address_space`), rather than built in memory at each start.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any, get_args

from asyncua import ua
from asyncua.common.node import Node
from asyncua.common.utils import ServiceError
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.internal_server import InternalServer
from asyncua.server.server import Server
from asyncua.server.user_managers import UserManager
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaError
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from adapters.base import Adapter
from adapters.opcua import status
from adapters.opcua.security import (
    TrustList,
    application_uris,
    describe,
    ensure_self_signed,
)
from adapters.opcua.server.address_space_cache import (
    AddressSpaceCacheError,
    discard,
    standard_address_space,
)
from adapters.opcua.server.settings import (
    FOLDER_SCHEME,
    OpcuaServerSettings,
    SecurityPolicy,
    ServedEntry,
    is_pattern,
)
from adapters.opcua.server.tree import FolderPlan, Path, TreeError
from adapters.opcua.server.values import (
    OUT_OF_RANGE,
    VariantType,
    WriteRefused,
    datavalue_of,
    raw_of,
    source_time,
    value_of_write,
    variant_type,
)
from gateway.bus import PointBus, Subscription
from gateway.logs import ProblemLog, Throttle
from gateway.points import PointKind, PointValue
from gateway.registry import AdapterSettings

log = logging.getLogger(__name__)

_ADMIN = User(role=UserRole.Admin)  # what asyncua assumes for a write of its own
_YIELD_EVERY = 500  # values pushed between two chances for the clients' requests
_BATCH = 200  # nodes added or deleted between two chances for the clients' requests
_HAS_COMPONENT = ua.NodeId(ua.Int32(ObjectIds.HasComponent))
_ORGANIZES = ua.NodeId(ua.Int32(ObjectIds.Organizes))


def _odd_write(wv: ua.WriteValue) -> str | None:
    """What a write asks for beyond a whole value (a bus command carries no more): an
    IndexRange, a StatusCode or time stamps; None for a plain value."""
    if wv.IndexRange:
        return f"IndexRange {wv.IndexRange}"
    dv = wv.Value
    if dv.StatusCode is not None and dv.StatusCode.value != 0:
        return f"a StatusCode ({dv.StatusCode.name})"
    if dv.SourceTimestamp is not None or dv.ServerTimestamp is not None:
        return "time stamps"
    if dv.SourcePicoseconds or dv.ServerPicoseconds:
        return "time stamps"
    return None


@dataclass(frozen=True)
class Served:
    """One served variable: its bus point, node, type and access."""

    point: str
    nodeid: ua.NodeId
    kind: PointKind
    vtype: VariantType
    writable: bool
    folder: Path


SECURITY_POLICIES: dict[str, ua.SecurityPolicyType] = {
    "none": ua.SecurityPolicyType.NoSecurity,
    **{name: ua.SecurityPolicyType[name] for name in get_args(SecurityPolicy) if name != "none"},
}


class _Users(UserManager):
    """Name/password and certificate users and anonymous access, as the settings say.

    asyncua hands `get_user` the client's application certificate when a client logs in
    anonymously or by name over a secure channel, and the user certificate when it presents
    an X509 identity token: `hook` marks the latter, so that only a verified user token is
    looked up among the certificate users."""

    def __init__(self, settings: OpcuaServerSettings) -> None:
        self._passwords = {u.name: u.password for u in settings.users if u.password is not None}
        self._certificates = {u.certificate_der: u.name for u in settings.users if u.certificate}
        self._anonymous = settings.anonymous
        self._token: bytes | None = None
        self.writers: set[str | None] = {u.name for u in settings.users if u.write}
        if settings.anonymous == "write":
            self.writers.add(None)

    @property
    def by_certificate(self) -> bool:
        """Whether some user logs in with a certificate."""
        return bool(self._certificates)

    def hook(self, iserver: InternalServer) -> None:
        """Note each verified X509 identity token (asyncua calls `get_user` right after)."""
        verify = iserver.verify_x509_token

        def verify_x509_token(isession: Any, token: ua.X509IdentityToken, signature: Any) -> bytes:
            data = verify(isession, token, signature)
            self._token = data
            return data

        iserver.verify_x509_token = verify_x509_token  # type: ignore[method-assign]

    def get_user(
        self,
        iserver: InternalServer,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        token, self._token = self._token, None
        if token is not None:
            name = self._certificate_user(token)
            return None if name is None else User(role=UserRole.User, name=name)
        if username is None:
            return None if self._anonymous == "none" else User(role=UserRole.User)
        if self._passwords.get(username) != password:
            return None
        return User(role=UserRole.User, name=username)

    def _certificate_user(self, data: bytes) -> str | None:
        """The user of a token's certificate (the token may carry its chain after it)."""
        for der, name in self._certificates.items():
            if data == der or data.startswith(der):
                return name
        return None


class _ClientCertificates:
    """asyncua's certificate validator hook: a client's certificate must be valid, carry the
    application URI the client announces and be trusted; else a ServiceError with the status
    OPC UA defines, and one log line naming the certificate."""

    def __init__(self, name: str, trust: TrustList, users: set[bytes]) -> None:
        self.name = name
        self.trust = trust
        self.users = users
        """User certificates: asyncua's client sends its user certificate as the client's
        over a channel without security; the X509 token it signs is checked afterwards."""
        self.refused = 0
        self._throttle = Throttle(max_kinds=256)

    async def __call__(self, cert: x509.Certificate, client: ua.ApplicationDescription) -> None:
        if cert.public_bytes(serialization.Encoding.DER) in self.users:
            return
        uri = client.ApplicationUri
        why = self.trust.why_not(cert)
        code = StatusCodes.BadCertificateUntrusted
        if why is not None and why.startswith("outside"):
            code = StatusCodes.BadCertificateTimeInvalid
        elif why is None and uri not in application_uris(cert):
            code = StatusCodes.BadCertificateUriInvalid
            why = f"it is not for the application URI the client gives ({uri})"
        if why is None:
            return
        self.refused += 1
        if n := self._throttle.count(f"{describe(cert)} {why}"):
            log.warning(
                "opcua server %s: client certificate %s of %s refused: %s (%d times)",
                self.name,
                describe(cert),
                uri,
                why,
                n,
            )
        raise ServiceError(code)


class OpcuaServerAdapter(Adapter):
    """Serves bus points over OPC UA; client writes become bus commands."""

    type_name = "opcua-server"
    Settings = OpcuaServerSettings
    listens = True
    settings: OpcuaServerSettings

    def __init__(self, name: str, settings: AdapterSettings, bus: PointBus) -> None:
        super().__init__(name, settings, bus)
        self._server: Server | None = None
        self._idx = 0
        self._users = _Users(self.settings)
        self._clients = _ClientCertificates(
            name,
            TrustList(self.settings.trusted),
            {u.certificate_der for u in self.settings.users if u.certificate},
        )
        self._plan = FolderPlan(self.settings.max_per_folder)
        self._served: dict[str, Served] = {}
        self._by_nodeid: dict[ua.NodeId, Served] = {}
        self._folders: dict[Path, Node] = {}
        self._sub: Subscription | None = None
        self._changed = asyncio.Event()
        self._point_set: frozenset[tuple[str, PointKind]] = frozenset()
        """The bus's points and their kinds when last matched against the settings (a point
        redefined with another kind by a reload is served anew, with its new type)."""
        self._throttle = Throttle()
        self._problems = ProblemLog(log)
        self._no_cache: str | None = None
        """The `address_space_cache` that could be neither read nor made (`_new_server`)."""
        self.pushed = 0
        self.writes = 0
        self.refused = 0
        self.tree_error: str | None = None
        self.node_errors: dict[str, str] = {}
        """Points whose node could not be added, and why (as of the last change)."""

    # -- settings -------------------------------------------------------------------

    def reconfigure(self, settings: AdapterSettings) -> bool:
        """Points, folders and types change in place; the endpoint, namespace, root,
        security and users need a restart."""
        assert isinstance(settings, OpcuaServerSettings)
        if settings.endpoint != self.settings.endpoint:
            return False
        if settings.max_per_folder != self.settings.max_per_folder:
            self._plan = FolderPlan(settings.max_per_folder)
        if settings.trusted_certificates != self.settings.trusted_certificates or (
            settings.trusted != self.settings.trusted
        ):
            self._clients.trust = TrustList(settings.trusted)
        self.settings = settings
        self._changed.set()
        return True

    def _wanted(self) -> dict[str, tuple[ServedEntry, Path]]:
        s = self.settings
        out: dict[str, tuple[ServedEntry, Path]] = {}
        if any(is_pattern(e.point) for e in s.entries):
            candidates: list[str] = sorted(self.bus.snapshot())
        else:
            candidates = [e.point for e in s.entries if e.point in self.bus]
        for point in candidates:
            entry = s.entry_of(point)
            if entry is not None:
                out[point] = (entry, s.folder_of(point, entry))
        return out

    # -- the address space ------------------------------------------------------------

    def _folder_nodeid(self, path: Path) -> ua.NodeId:
        """A folder's NodeId: `folder:<root>[/<path>]` (see `settings.FOLDER_SCHEME`)."""
        ident = FOLDER_SCHEME + "/".join((self.settings.root, *path))
        return ua.NodeId(ua.String(ident), ua.Int16(self._idx))

    async def _folder(self, path: Path) -> Node:
        node = self._folders.get(path)
        if node is None:
            assert self._server is not None
            parent = await self._folder(path[:-1])
            nodeid = self._folder_nodeid(path)
            node = await parent.add_folder(nodeid, ua.QualifiedName(path[-1], self._idx))
            self._folders[path] = node
        return node

    async def _sync(self) -> None:
        """Make the address space serve what the settings and the bus say now.

        Nodes are deleted and added in batches of `_BATCH`, yielding between two (the
        clients' requests and the pushes go on). The subscription to the new point set is
        taken before the new nodes read their values, and what the old one still holds is
        pushed before it is closed: no change is lost while it is replaced."""
        server = self._server
        assert server is not None
        s = self.settings
        self._point_set = self._bus_points()
        wanted = self._wanted()
        try:
            placement = self._plan.plan({p: path for p, (_, path) in wanted.items()})
        except TreeError as exc:
            self.tree_error = str(exc)
            if n := self._throttle.count("tree"):
                log.warning("opcua server %s: %s (%d times)", self.name, exc, n)
            return
        self.tree_error = None
        target: dict[str, Served] = {}
        for point, (entry, _) in wanted.items():
            kind = self.bus.definition(point).kind
            ident = entry.nodeid or f"s={point}"
            target[point] = Served(
                point,
                ua.NodeId.from_string(f"ns={self._idx};{ident}"),
                kind,
                variant_type(kind, entry.type, s.discrete_type, s.state_as),
                entry.writable,
                placement[point],
            )
        gone = [sv for p, sv in self._served.items() if target.get(p) != sv]
        added = [sv for p, sv in target.items() if self._served.get(p) != sv]
        if not gone and not added and self._sub is not None:
            return
        old_sub = self._sub
        new_sub = self.bus.subscribe(list(target), name=self.name)
        try:
            if gone:
                for sv in gone:
                    del self._served[sv.point]
                    self._by_nodeid.pop(sv.nodeid, None)
                await self._delete(
                    [(sv.nodeid, self._folders[sv.folder].nodeid, _HAS_COMPONENT) for sv in gone]
                )
            now = ua.DateTime.now(UTC)
            values = self.bus.snapshot([sv.point for sv in added])
            failed: dict[str, str] = {}
            for n, sv in enumerate(added, 1):
                if n % _BATCH == 0:
                    await asyncio.sleep(0)
                dv = datavalue_of(values[sv.point], sv.vtype, now)
                if dv.StatusCode is OUT_OF_RANGE:
                    self._out_of_range(sv, values[sv.point].value)
                try:
                    folder = await self._folder(sv.folder)
                    node = await folder.add_variable(
                        sv.nodeid,
                        ua.QualifiedName(sv.point, self._idx),
                        dv.Value if dv.StatusCode is not OUT_OF_RANGE else raw_of(0, sv.vtype),
                        sv.vtype,
                    )
                    if sv.writable:
                        await node.set_writable()
                    await server.write_attribute_value(sv.nodeid, dv)
                except (UaError, ServiceError) as exc:  # that node only: the others go on
                    failed[sv.point] = f"node {sv.nodeid.to_string()}: {exc}"
                    continue
                self._served[sv.point] = sv
                self._by_nodeid[sv.nodeid] = sv
            self.node_errors = failed
            for point, why in failed.items():
                if n := self._throttle.count(f"node {point}"):
                    log.warning(
                        "opcua server %s: point %s is not served: %s (%d times)",
                        self.name,
                        point,
                        why,
                        n,
                    )
            await self._prune_folders()
        except BaseException:  # no swap: the new subscription would leak on the bus
            new_sub.close()
            raise
        self._sub = new_sub
        if old_sub is not None:
            pending = old_sub.drain()
            old_sub.close()
            if pending:
                await self._push(pending)
        log.info(
            "opcua server %s: %d variables (%d added, %d removed)",
            self.name,
            len(self._served),
            len(added),
            len(gone),
        )

    def _bus_points(self) -> frozenset[tuple[str, PointKind]]:
        """The bus's points with their kinds (what the glob entries are matched against)."""
        bus = self.bus
        return frozenset((point, bus.definition(point).kind) for point in bus.snapshot())

    async def _delete(self, nodes: Sequence[tuple[ua.NodeId, ua.NodeId, ua.NodeId]]) -> None:
        """Delete (node, parent, reference type) nodes in batches: the parent's reference
        is removed, not searched for in the whole address space as asyncua's
        `delete_target_references` does (a scan of every node for each one deleted)."""
        assert self._server is not None
        isession = self._server.iserver.isession
        for start in range(0, len(nodes), _BATCH):
            chunk = nodes[start : start + _BATCH]
            await isession.delete_references(
                [
                    ua.DeleteReferencesItem(
                        SourceNodeId=parent,
                        ReferenceTypeId=reftype,
                        IsForward=True,
                        TargetNodeId=node,
                        DeleteBidirectional=True,
                    )
                    for node, parent, reftype in chunk
                ]
            )
            items = [
                ua.DeleteNodesItem(NodeId=node, DeleteTargetReferences=False)
                for node, _, _ in chunk
            ]
            await isession.delete_nodes(ua.DeleteNodesParameters(NodesToDelete=items))
            await asyncio.sleep(0)

    async def _prune_folders(self) -> None:
        used: set[Path] = set()
        for sv in self._served.values():
            for depth in range(len(sv.folder) + 1):
                used.add(sv.folder[:depth])
        empty = sorted((p for p in self._folders if p not in used), key=len, reverse=True)
        if empty:
            await self._delete(
                [(self._folders[p].nodeid, self._folders[p[:-1]].nodeid, _ORGANIZES) for p in empty]
            )
            for p in empty:
                del self._folders[p]

    async def _push(self, changes: list[PointValue]) -> None:
        """Write a batch of bus changes into the address space (asyncua then notifies the
        monitored items of each). The writes go to the address space itself
        (`AddressSpace.write_attribute_value`, what `Server.write_attribute_value` calls
        through two more awaits); values with the same source time share its DateTime."""
        server = self._server
        assert server is not None
        now = ua.DateTime.now(UTC)
        served = self._served
        write = server.iserver.aspace.write_attribute_value
        attribute = AttributeIds.Value
        last_ts: float | None = None
        stamp = now
        for n, pv in enumerate(changes, 1):
            sv = served.get(pv.point)
            if sv is not None:
                if pv.ts != last_ts:
                    last_ts, stamp = pv.ts, source_time(pv.ts)
                dv = datavalue_of(pv, sv.vtype, now, stamp)
                if dv.StatusCode is OUT_OF_RANGE:
                    self._out_of_range(sv, pv.value)
                await write(sv.nodeid, attribute, dv)
            if n % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
        self.pushed += len(changes)

    def _out_of_range(self, sv: Served, value: float | int) -> None:
        """One (throttled) log line for a value its variable's type cannot carry."""
        if n := self._throttle.count("range"):
            log.warning(
                "opcua server %s: %s = %r does not fit its %s variable: served as "
                "BadOutOfRange (%d times; choose type int64 or a real point)",
                self.name,
                sv.point,
                value,
                sv.vtype.name,
                n,
            )

    # -- client writes ----------------------------------------------------------------

    def _hook_writes(self, server: Server) -> None:
        service = server.iserver.attribute_service
        original = service.write

        async def write(params: ua.WriteParameters, user: User = _ADMIN) -> list[ua.StatusCode]:
            """Our variables' values as bus commands, all of one request at once (the
            connection waits for the answer); anything else as asyncua would."""
            results: list[ua.StatusCode | None] = [None] * len(params.NodesToWrite)
            ours: list[tuple[int, Served, ua.WriteValue]] = []
            others: list[tuple[int, ua.WriteValue]] = []
            aspace = server.iserver.aspace
            for i, wv in enumerate(params.NodesToWrite):
                sv = self._by_nodeid.get(wv.NodeId)
                if sv is None and wv.NodeId not in aspace:
                    results[i] = ua.StatusCode(ua.UInt32(status.BAD_NODE_ID_UNKNOWN))
                elif sv is None or wv.AttributeId != AttributeIds.Value:
                    others.append((i, wv))
                else:
                    ours.append((i, sv, wv))
            if others:
                rest = await original(
                    ua.WriteParameters(NodesToWrite=[wv for _, wv in others]), user
                )
                for (i, _), code in zip(others, rest, strict=True):
                    results[i] = code
            if ours:
                codes = await asyncio.gather(
                    *(self._client_write(sv, wv, user) for _, sv, wv in ours)
                )
                for (i, _, _), value in zip(ours, codes, strict=True):
                    results[i] = ua.StatusCode(ua.UInt32(value))
            return [ua.StatusCode(ua.UInt32(status.BAD)) if r is None else r for r in results]

        service.write = write  # type: ignore[method-assign]

    async def _client_write(self, sv: Served, wv: ua.WriteValue, user: User) -> int:
        """One client write of a served variable's value: the command's outcome as a
        StatusCode, or why it is refused."""
        dv = wv.Value
        if not sv.writable:
            self.refused += 1
            return status.BAD_NOT_WRITABLE
        who = user.name or "anonymous"
        if user.role is not UserRole.Admin and user.name not in self._users.writers:
            return self._refuse(sv, who, status.BAD_USER_ACCESS_DENIED, "may not write")
        odd = _odd_write(wv)
        if odd is not None:
            return self._refuse(sv, who, status.BAD_WRITE_NOT_SUPPORTED, odd)
        try:
            value = value_of_write(dv.Value, sv.kind, sv.vtype)
        except WriteRefused as exc:
            self.refused += 1
            log.debug("opcua server %s: write of %s refused: %s", self.name, sv.point, exc)
            return exc.code
        result = await self.bus.command(
            sv.point,
            value,
            timeout=self.settings.command_timeout,
            origin=f"{self.name} (opcua {user.name or 'anonymous'})",
        )
        self.writes += 1
        return status.code_of(result.failure)

    def _refuse(self, sv: Served, who: str, code: int, why: str) -> int:
        """Count a refused write and log it (a line a minute at most per reason and user)."""
        self.refused += 1
        name = ua.StatusCode(ua.UInt32(code)).name
        self._problems.report(
            f"opcua server {self.name}",
            f"refused {name} {who}",
            f"write of {sv.point} by {who} refused with {name}: {why}",
            sv.point,
        )
        return code

    # -- running ----------------------------------------------------------------------

    @property
    def application_uri(self) -> str:
        """The server's application URI (its certificate must carry it)."""
        return self.settings.application_uri or f"urn:iccp-gateway:{self.name}"

    async def _secure(self, server: Server) -> None:
        """Endpoints, the server's certificate, the client check and the identity tokens."""
        s = self.settings
        uri = self.application_uri
        await server.set_application_uri(uri)
        server.set_security_policy([SECURITY_POLICIES[p] for p in s.security_policies])
        if s.secure:
            if s.certificate is not None and s.private_key is not None:
                cert_path = pathlib.Path(s.certificate)
                key_path = pathlib.Path(s.private_key)
            else:
                directory = pathlib.Path(s.certificate_dir or ".")
                try:
                    made = ensure_self_signed(
                        directory, self.name, uri, f"iccp-gateway {self.name}"
                    )
                except OSError as exc:
                    raise OSError(
                        f"cannot keep the server certificate in certificate_dir {directory}: "
                        f"{exc.strerror or exc}"
                    ) from None
                cert_path, key_path = made.cert_path, made.key_path
                if made.created:
                    log.warning(
                        "opcua server %s: generated a self-signed certificate for %s (%s): %s; "
                        "give it to the clients that must trust this server",
                        self.name,
                        uri,
                        made.reason,
                        cert_path,
                    )
                else:
                    log.info("opcua server %s: self-signed certificate %s", self.name, cert_path)
            await server.load_certificate(str(cert_path))
            await server.load_private_key(str(key_path))
            assert server.iserver.certificate is not None
            if uri not in application_uris(server.iserver.certificate):
                log.warning(
                    "opcua server %s: certificate %s does not carry the application URI %s in "
                    "its subjectAltName: most clients will refuse it",
                    self.name,
                    cert_path,
                    uri,
                )
            server.set_certificate_validator(self._clients)
        # The user-name token only when someone can use it (else asyncua warns that
        # passwords could travel in clear on a server that takes none).
        tokens: list[type] = [ua.UserNameIdentityToken] if any(u.password for u in s.users) else []
        if self._users.by_certificate:
            tokens.append(ua.X509IdentityToken)
            self._users.hook(server.iserver)
        if s.anonymous != "none":
            tokens.append(ua.AnonymousIdentityToken)
        server.set_identity_tokens(tokens)

    async def run(self) -> None:
        s = self.settings
        server = await self._new_server()
        server.set_endpoint(f"opc.tcp://{s.host}:{s.port}/")
        server.set_server_name(f"iccp-gateway {self.name}")
        await self._secure(server)
        self._idx = await server.register_namespace(s.namespace)
        root = await server.nodes.objects.add_folder(
            self._folder_nodeid(()), ua.QualifiedName(s.root, self._idx)
        )
        self._server = server
        self._folders = {(): root}
        self._hook_writes(server)
        try:
            await self._sync()
            try:
                await server.start()
            except OSError as exc:
                raise OSError(f"cannot listen on {s.host}:{s.port}: {exc.strerror}") from None
            self.listening()
            log.info("opcua server %s listening on %s:%d", self.name, s.host, s.port)
            self._warn_settings()
            await self._serve()
        finally:
            if self._sub is not None:
                self._sub.close()
                self._sub = None
            self._served.clear()
            self._by_nodeid.clear()
            self._folders.clear()
            self._server = None
            await server.stop()

    async def _new_server(self) -> Server:
        """An initialised asyncua server, its standard address space loaded from the cache
        (made first when missing); built in memory when there is no cache to be had, and
        then until the cache's directory changes or the gateway starts again."""
        server = Server(user_manager=self._users)
        cache_dir = self.settings.address_space_cache
        if cache_dir is None or cache_dir == self._no_cache:
            await server.init()
            return server
        try:
            shelf = await standard_address_space(pathlib.Path(cache_dir))
        except AddressSpaceCacheError as exc:
            self._no_cache = cache_dir
            log.warning(
                "opcua server %s: no cached standard address space (%s); building it in "
                "memory (about 50 MB more) until address_space_cache changes or the gateway "
                "starts again",
                self.name,
                exc,
            )
            await server.init()
            return server
        try:
            await server.init(shelf)
            return server
        except Exception as exc:  # a damaged shelf: whatever dbm or unpickling raised
            problem = exc
        server = Server(user_manager=self._users)
        await server.init()  # when this fails too, the shelf is not to blame: it stays
        log.warning(
            "opcua server %s: the cached standard address space %s cannot be loaded (%s); "
            "built in memory this time, %s",
            self.name,
            shelf.parent,
            problem,
            "made again at the next start" if discard(shelf) else "and the cache not removed",
        )
        return server

    def _warn_settings(self) -> None:
        """Warnings on settings that work but likely not as meant (at start)."""
        s = self.settings
        writable = [e.point for e in s.entries if e.writable]
        if writable and not self._users.writers:
            names = ", ".join(writable[:10]) + (", ..." if len(writable) > 10 else "")
            log.warning(
                "opcua server %s: points %s are writable but no client may write: anonymous "
                "is %r and no user has write: true (set anonymous: write, or give a user "
                "write); their writes are refused with BadUserAccessDenied",
                self.name,
                names,
                s.anonymous,
            )
        if s.command_timeout >= 4.0:
            log.warning(
                "opcua server %s: command_timeout %g s: OPC UA clients that wait 4 s for an "
                "answer by default (asyncua's) give up on a write before it (keep it under 4 s "
                "or raise their request timeout)",
                self.name,
                s.command_timeout,
            )

    async def _serve(self) -> None:
        """Push the bus's changes to the variables and match the settings against the bus
        again every `refresh_period` (or at once after a reconfiguration); until cancelled."""
        loop = asyncio.get_running_loop()
        next_refresh = loop.time() + self.settings.refresh_period
        while True:
            if self._changed.is_set() or loop.time() >= next_refresh:
                next_refresh = loop.time() + self.settings.refresh_period
                if self._changed.is_set() or self._bus_points() != self._point_set:
                    self._changed.clear()
                    await self._sync()
            sub = self._sub
            assert sub is not None
            changes = await sub.wait(timeout=min(1.0, self.settings.refresh_period))
            if changes:
                await self._push(changes)

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "variables": len(self._served),
            "folders": max(len(self._folders) - 1, 0),
            "pushed": self.pushed,
            "writes": self.writes,
            "refused_writes": self.refused,
            "refused_certificates": self._clients.refused,
        }
        if self.tree_error:
            out["error"] = self.tree_error
        if self.node_errors:
            out["node_errors"] = dict(list(self.node_errors.items())[:50])
        return out


__all__ = ["OpcuaServerAdapter", "Served"]
