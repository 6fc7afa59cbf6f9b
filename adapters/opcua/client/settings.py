"""Settings of the `opcua-client` adapter: endpoints, security and point bindings (sans-IO).

A binding names a bus point and where it lives on the server: a NodeId (`node`, e.g.
`ns=2;s=Plant.P1` or `i=2258`) or a browse path from the Objects folder (`path`, e.g.
`2:Plant/2:P1`, each step `namespace-index:BrowseName`). Their syntax is checked here, so a
bad one fails the configuration naming its entry (YAML `points.N.node`, CSV `file:line`);
a node the server does not know is found at run time (the point stays not valid, with one log
line naming it). Bindings come from the YAML `points:` and/or a CSV `points_file`
(`gateway.pointfiles`).

Each monitored item has a server-side queue of `queue_size` values (1: the latest value only,
which is what a point bus holds); on the client side every publish response is applied to the
bus as it arrives, so there is no client queue to overflow (asyncua's iterator queue of 1000
that drops the oldest is not used).

Security: `security_policy` and `security_mode` choose the server's endpoint; `certificate`
and `private_key` are our application instance certificate and its key. OPC UA servers check
that the application URI we announce is in that certificate's subjectAltName: it is taken
from there (`application_uri` only chooses among several). The server's certificate is
checked against `server_certificate` (that very certificate) and/or `trusted_certificates`
(it, or the CA that issued it; files or directories). `user_certificate` and
`user_private_key` log in with a user certificate instead of a name and password. The files
are relative to the configuration file's directory and are read and checked here, so a
missing or bad one fails the configuration naming it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from adapters.opcua.security import (
    application_uris,
    check_pair,
    read_certificate,
    read_certificates,
    read_private_key,
)
from gateway.backoff import BackoffSettings
from gateway.mapping import OFF_ON, StateTable, parse_states, state_name
from gateway.pointfiles import load_points_csv, resolve_path
from gateway.points import PointDef, PointKind, State
from gateway.registry import AdapterSettings

_NODE_ID = re.compile(
    r"^(?:(?:ns=\d+|nsu=[^;]+);)?(?:i=\d+|s=.+|g=[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}"
    r"-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|b=[A-Za-z0-9+/=]+)$"
)
_STEP = re.compile(r"^\d+:[^/]+$")
SECURITY_POLICIES = (
    "Basic128Rsa15",
    "Basic256",
    "Basic256Sha256",
    "Aes128Sha256RsaOaep",
    "Aes256Sha256RsaPss",
)
SECURITY_MODES = ("Sign", "SignAndEncrypt")
StateName = Literal["between", "off", "on", "invalid"]


def check_node_id(text: str) -> str:
    """`text` if it is a NodeId string (`ns=2;s=...`, `i=...`, `g=...`, `b=...`)."""
    if not _NODE_ID.match(text):
        raise ValueError(
            f"{text!r} is not a NodeId (write ns=<index>;s=<name>, ns=<index>;i=<number>, "
            "i=<number>, g=<guid> or b=<base64>)"
        )
    return text


def check_path(text: str) -> list[str]:
    """The steps of a browse path `ns:Name/ns:Name...` (from the Objects folder)."""
    steps = [s.strip() for s in text.strip().strip("/").split("/")]
    bad = [s for s in steps if not _STEP.match(s)]
    if not steps or bad:
        raise ValueError(
            f"browse path {text!r}: each step is <namespace index>:<BrowseName> "
            f"(bad: {', '.join(repr(s) for s in bad) or 'empty'})"
        )
    return steps


class ClientPoint(BaseModel):
    """A bus point read (and, if writable, commanded) through one OPC UA variable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    point: str
    node: str | None = Field(default=None, description="NodeId, e.g. ns=2;s=Plant.P1")
    path: str | None = Field(default=None, description="browse path from Objects: 2:Plant/2:P1")
    writable: bool = False
    deadband: float | None = Field(
        default=None, ge=0, description="absolute deadband (default: the adapter's)"
    )
    sampling_interval: float | None = Field(
        default=None, ge=0, description="ms (default: the adapter's)"
    )
    method: str | None = Field(
        default=None, description="NodeId of a method: commands call it instead of a Write"
    )
    method_object: str | None = Field(default=None, description="NodeId of the method's object")
    states: dict[int, StateName] | None = Field(
        default=None,
        description="state point on an integer node: raw code -> state (default 0:off;1:on; "
        "the gateway's own opcua-server: 0:between;1:off;2:on;3:invalid); a Boolean node is "
        "false off, true on",
    )
    normal: StateName | None = Field(
        default=None, description="a state point's normal state: any other is abnormal"
    )

    @model_validator(mode="before")
    @classmethod
    def _states(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if data.get("states") in ("", None):
                data.pop("states", None)
            else:
                data["states"] = parse_states(data["states"])
            if data.get("normal") in ("", None):
                data.pop("normal", None)
            else:
                data["normal"] = state_name(data["normal"])
        return data

    @property
    def state_table(self) -> StateTable:
        """Raw code -> bus state for a state point on an integer node."""
        normal = None if self.normal is None else State[self.normal.upper()]
        if self.states is None:
            return StateTable(OFF_ON.codes, normal=normal)
        return StateTable(
            {code: State[name.upper()] for code, name in self.states.items()}, normal=normal
        )

    @model_validator(mode="after")
    def _check(self) -> ClientPoint:
        if (self.node is None) == (self.path is None):
            raise ValueError("give exactly one of node (a NodeId) and path (a browse path)")
        if (self.method is None) != (self.method_object is None):
            raise ValueError("give both method and method_object (NodeIds), or neither")
        for node in (self.node, self.method, self.method_object):
            if node is not None:
                check_node_id(node)
        if self.path is not None:
            check_path(self.path)
        return self

    @property
    def where(self) -> str:
        """The node as configured (for messages)."""
        return self.node if self.node is not None else f"path {self.path}"


class OpcUaClientSettings(AdapterSettings, BackoffSettings):
    """Settings of an `opcua-client` adapter: one session at a time to the first endpoint
    that answers (in order), its security and credentials, subscription parameters and the
    point bindings. `points_file` names a CSV list of bindings (same columns as `points`),
    relative to the directory of the configuration file that names it."""

    endpoints: list[str] = Field(min_length=1, description="opc.tcp:// URLs, tried in order")
    security_policy: str | None = Field(default=None, description="e.g. Basic256Sha256")
    security_mode: str = Field(default="SignAndEncrypt", description="Sign or SignAndEncrypt")
    certificate: str | None = Field(default=None, description="our certificate (PEM/DER)")
    private_key: str | None = Field(default=None, description="our private key (PEM/DER)")
    application_uri: str | None = Field(
        default=None, description="ours (default: the URI in our certificate's subjectAltName)"
    )
    server_certificate: str | None = Field(default=None, description="the server's certificate")
    trusted_certificates: list[str] = Field(
        default_factory=list, description="server certificates or their CAs (files or dirs)"
    )
    username: str | None = None
    password: str | None = None
    user_certificate: str | None = Field(default=None, description="log in with this (PEM/DER)")
    user_private_key: str | None = Field(default=None, description="the user certificate's key")
    publishing_interval: float = Field(default=100.0, gt=0, description="ms")
    sampling_interval: float = Field(default=100.0, ge=0, description="ms")
    deadband: float = Field(default=0.0, ge=0, description="absolute deadband (0: every change)")
    queue_size: int = Field(
        default=1, ge=1, le=10000, description="server-side values kept per monitored item"
    )
    max_notifications: int = Field(default=10000, ge=0, description="per publish (0: no limit)")
    request_timeout: float = Field(default=10.0, gt=0, description="s")
    watchdog_interval: float = Field(
        default=10.0, ge=10.0, description="s between the session's liveness probes"
    )
    keepalive: float = Field(
        default=5.0,
        gt=0,
        description="s: the subscription's keep-alive asked for; no publish response for 3 "
        "of them (as the server revised it) ends the session",
    )
    failback: bool = Field(
        default=True, description="move back to the first endpoint when it answers again"
    )
    failback_interval: float = Field(
        default=60.0, gt=0, description="s between two probes of the first endpoint"
    )
    points: list[ClientPoint] = Field(default_factory=list)
    points_file: str | None = None

    _file_points: list[ClientPoint] = PrivateAttr(default_factory=list)
    _uri: str | None = PrivateAttr(default=None)
    _server_der: bytes | None = PrivateAttr(default=None)
    _trusted: list[x509.Certificate] = PrivateAttr(default_factory=list)

    @field_validator(
        "certificate", "private_key", "server_certificate", "user_certificate", "user_private_key"
    )
    @classmethod
    def _resolve_file(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else str(resolve_path(value, info))

    @field_validator("trusted_certificates")
    @classmethod
    def _resolve_files(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return [str(resolve_path(p, info)) for p in value]

    @model_validator(mode="after")
    def _load_and_check(self, info: ValidationInfo) -> OpcUaClientSettings:
        if self.points_file:
            self._file_points = load_points_csv(resolve_path(self.points_file, info), ClientPoint)
        for url in self.endpoints:
            if not url.startswith("opc.tcp://"):
                raise ValueError(f"endpoint {url!r}: an OPC UA endpoint is opc.tcp://host:port")
        self._check_security()
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password, or neither")
        if (self.user_certificate is None) != (self.user_private_key is None):
            raise ValueError("give both user_certificate and user_private_key, or neither")
        if self.user_certificate is not None and self.user_private_key is not None:
            if self.username is not None:
                raise ValueError("log in with username/password or user_certificate, not both")
            cert = read_certificate(Path(self.user_certificate), "user_certificate")
            key = read_private_key(Path(self.user_private_key), "user_private_key")
            check_pair(cert, key, Path(self.user_certificate), Path(self.user_private_key))
        seen: set[str] = set()
        twice: list[str] = []
        for p in self.bindings:
            (twice.append if p.point in seen else seen.add)(p.point)
        if twice:
            raise ValueError(f"points bound twice: {', '.join(sorted(set(twice))[:20])}")
        return self

    def _check_security(self) -> None:
        if self.security_policy is None:
            if self.server_certificate or self.trusted_certificates:
                raise ValueError(
                    "server_certificate and trusted_certificates need a security_policy"
                )
            return
        if self.security_policy not in SECURITY_POLICIES:
            known = ", ".join(SECURITY_POLICIES)
            raise ValueError(f"security_policy {self.security_policy!r}: one of {known}")
        if self.security_mode not in SECURITY_MODES:
            raise ValueError(f"security_mode {self.security_mode!r}: Sign or SignAndEncrypt")
        if not (self.certificate and self.private_key):
            raise ValueError("a security_policy needs certificate and private_key")
        cert_path, key_path = Path(self.certificate), Path(self.private_key)
        cert = read_certificate(cert_path)
        check_pair(cert, read_private_key(key_path), cert_path, key_path)
        uris = application_uris(cert)
        if not uris:
            raise ValueError(
                f"certificate {cert_path} has no URI in its subjectAltName: OPC UA servers "
                "refuse it; make one with the application URI as a URI subjectAltName"
            )
        if self.application_uri is not None and self.application_uri not in uris:
            raise ValueError(
                f"application_uri {self.application_uri!r} is not in certificate {cert_path} "
                f"(it carries {', '.join(uris)})"
            )
        self._uri = self.application_uri or uris[0]
        if self.server_certificate is not None:
            server = read_certificate(Path(self.server_certificate), "server_certificate")
            self._server_der = server.public_bytes(serialization.Encoding.DER)
        self._trusted = read_certificates([Path(p) for p in self.trusted_certificates])

    @property
    def client_uri(self) -> str | None:
        """Our application URI: `application_uri`, else the one in our certificate."""
        return self._uri

    @property
    def server_der(self) -> bytes | None:
        """The `server_certificate` (DER), as read when the settings were."""
        return self._server_der

    @property
    def trusted(self) -> list[x509.Certificate]:
        """The certificates of `trusted_certificates`, as read when the settings were."""
        return list(self._trusted)

    @property
    def bindings(self) -> list[ClientPoint]:
        """Every binding: the YAML `points` then the `points_file` rows."""
        return [*self.points, *self._file_points]

    def session_key(self) -> dict[str, Any]:
        """Everything but the bindings, and the certificates as read (a file replaced under
        the same name counts): a change here needs a new session."""
        key = self.model_dump(exclude={"points", "points_file"})
        key["certificates_read"] = (self._server_der, tuple(self._trusted))
        return key

    def owned_points(self) -> set[str]:
        return {p.point for p in self.bindings}

    def check(self, points: Mapping[str, PointDef]) -> list[str]:
        """Warnings about bindings that validate but do not fit their point: a deadband on a
        state point is ignored (no deadband filter is asked for it)."""
        return [
            f"{p.point}: a deadband on a state point is ignored"
            for p in self.bindings
            if p.deadband and (d := points.get(p.point)) is not None and d.kind is PointKind.STATE
        ]
