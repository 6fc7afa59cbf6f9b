"""Settings of the `tase2-client` adapter: remote addresses, identity, checks, points, data sets.

One pydantic model, :class:`Tase2ClientSettings`, validated when the configuration loads.
A YAML entry looks like this (see ``mappings/tase2-client-example.yaml``)::

    - name: iso-link
      type: tase2-client
      addresses: ["10.0.0.1:102", "10.0.0.2:102"]   # preference order: primary, backup
      local_ap_title: 1.1.1.998
      local_ae_qualifier: 12
      bilateral_table_id: BLT_ISO_1
      domain: ICC1
      data_sets:
        - {name: FAST, interval: 2, integrity: 60, rbe: true, critical: true}
        - {name: SLOW, poll_interval: 10}                 # polled with Read, no transfer set
      points:
        - {remote: Line1_MW, point: ISO_LINE1_MW, type: Data_RealQTimeTag, data_set: FAST}
        - {remote: Freq, scope: vcc, point: ISO_FREQ, scale: 1.0, offset: 0.0}
        - {remote: Setpoint1, point: ISO_SP1, type: Data_Real, writable: true, data_set: SLOW}
      devices:                                        # Block 5: bus commands operate them
        - {remote: BRK7, point: ISO_BRK7_CMD, kind: command, sbo: true, check_back_id: 7}
        - {remote: GEN7_SP, point: ISO_GEN7_SP, kind: setpoint_real}
      messages: true                                  # Block 4: IM_Transfer_Set, to the bus
"""

from __future__ import annotations

import enum
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.tase2.iso.acse import check_ap_title
from adapters.tase2.mms.names import ObjectName, is_valid_identifier
from adapters.tase2.model.devices import DeviceKind
from adapters.tase2.model.points import PointType
from adapters.tase2.security.binding import CertificateRule
from adapters.tase2.security.endpoint import (
    AllowList,
    ConnectMode,
    ListenAddress,
    RemoteAddress,
    parse_address,
    with_default_port,
)
from adapters.tase2.security.selectors import OsiSelectors
from adapters.tase2.security.tls_settings import DEFAULT_TLS_PORT, TlsSettings
from gateway.backoff import BackoffSeconds, BackoffSettings
from gateway.registry import AdapterSettings

__all__ = [
    "AUTO",
    "ClientConnect",
    "ClientDataSet",
    "ClientDevice",
    "ClientPoint",
    "PointScope",
    "RemoteAddress",
    "Tase2ClientSettings",
    "parse_address",
]

AUTO = "auto"
"""Point type ``auto``: learn the type from the shape of the first value received."""

T = TypeVar("T")

MAX_DATA_SET_NAME = 28
"""Longest data set (group) name: the planner appends ``_NN`` when it splits a group."""


def _add_once(seen: set[T], item: T, duplicate: str) -> None:
    """Add ``item`` to ``seen``; raises ValueError(``duplicate``) when it is already there."""
    if item in seen:
        raise ValueError(duplicate)
    seen.add(item)


class ClientDevice(BaseModel):
    """One remote device operated through one local bus point.

    ``remote`` is the device's agreed name (``scope`` icc: in the table's domain; vcc:
    VMD-specific), ``kind`` its type, ``sbo`` whether to select before operating;
    ``check_back_id``, when given, must be what the select returns (else the operate is not
    sent). A bus command on ``point`` becomes the operate: on a state point ON/closed is 1
    and OFF/open 0; on a real or discrete point the value goes through the inverse of the
    point's ISN usage ax+b.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    remote: str
    point: str = Field(min_length=1)
    kind: DeviceKind = DeviceKind.COMMAND
    scope: Literal["icc", "vcc"] = "icc"
    sbo: bool = False
    check_back_id: int | None = None

    @field_validator("remote")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not is_valid_identifier(value, 28):
            raise ValueError(f"device name {value!r} is not an MMS identifier of <= 28 chars")
        return value

    def object_name(self, domain: str, suffix: str = "") -> ObjectName:
        """The MMS name of the device (or of its ``_SBO``/``_TAG`` object)."""
        item = self.remote + suffix
        return ObjectName.dom(domain, item) if self.scope == "icc" else ObjectName.vmd(item)


class ClientConnect(BaseModel):
    """Who opens the TCP connection (the YAML ``connect:`` block of a ``tase2-client``).

    ``mode: active`` (default): the client calls its server's ``addresses``. ``mode:
    passive``: the client listens on ``listen`` (``host:port``; with ``tls`` the port
    defaults to 3782) and the remote ICCP server calls in; ``allow`` lists the IP
    addresses or networks it may call from (empty: any), ``certificate`` the TLS
    certificate it must present (subject and/or fingerprints; needs ``tls``). A caller is
    accepted only with the configured ``remote_ap_title``/``remote_ae_qualifier`` (when
    set), calling this client's ``local_ap_title``/``local_ae_qualifier`` when its AARQ
    names any (one that names none is accepted), with the ``password`` (when set) and while
    no other association is up; after the association the client runs its start-up check
    (``Bilateral_Table_ID``...) as usual.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: ConnectMode = ConnectMode.ACTIVE
    listen: ListenAddress | None = None
    allow: tuple[str, ...] = ()
    certificate: CertificateRule | None = None
    association_timeout: float = Field(default=10.0, gt=0, le=300)

    @field_validator("allow")
    @classmethod
    def _allow(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return AllowList(networks=value).networks

    @model_validator(mode="after")
    def _shape(self) -> ClientConnect:
        if self.mode is ConnectMode.PASSIVE and self.listen is None:
            raise ValueError("connect: mode passive needs listen: host:port")
        if self.mode is ConnectMode.ACTIVE and (self.listen or self.allow or self.certificate):
            raise ValueError("connect: listen, allow and certificate are for mode passive")
        default = type(self).model_fields["association_timeout"].default
        if self.mode is ConnectMode.ACTIVE and self.association_timeout != default:
            raise ValueError(
                "connect.association_timeout is for mode passive (an active client's "
                "association is bounded by connect_timeout)"
            )
        return self

    @property
    def passive(self) -> bool:
        """True when the client listens."""
        return self.mode is ConnectMode.PASSIVE

    def allow_list(self) -> AllowList:
        """The calling addresses accepted."""
        return AllowList(networks=self.allow)


class PointScope(enum.StrEnum):
    """Where a remote point lives: the ICC domain of the bilateral table, or VCC (VMD)."""

    ICC = "icc"
    VCC = "vcc"


class ClientPoint(BaseModel):
    """One remote TASE.2 point taken into one bus point.

    ``remote`` is the agreed object name; ``type`` a TASE.2 point type name or ``auto``
    (learnt from the first value's shape). Values go to the bus as ``scale * x + offset``,
    then the bus point's ISN usage ax+b. ``data_set`` names the group (transfer set or
    polling) it belongs to, by default the first configured. ``writable`` lets bus commands
    on the point become TASE.2 Writes of the remote object.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    remote: str
    point: str
    scope: PointScope = PointScope.ICC
    type: PointType | None = None
    scale: float = 1.0
    offset: float = 0.0
    data_set: str | None = None
    writable: bool = False

    @field_validator("type", mode="before")
    @classmethod
    def _auto(cls, value: Any) -> Any:
        return None if value in (None, AUTO, "") else value

    @field_validator("remote")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not is_valid_identifier(value):
            raise ValueError(
                f"remote name {value!r} is not an MMS identifier "
                "(1-32 of A-Z a-z 0-9 _ $, not starting with a digit)"
            )
        return value

    def object_name(self, domain: str) -> ObjectName:
        """The MMS object name of the remote point."""
        if self.scope is PointScope.VCC:
            return ObjectName.vmd(self.remote)
        return ObjectName.dom(domain, self.remote)


class ClientDataSet(BaseModel):
    """A group of points delivered together: by a DS transfer set, or polled with Read.

    Transfer-set mode (``poll_interval`` unset): ``interval`` (s, IntervalTimeOut),
    ``integrity`` (s, IntegrityTimeOut), ``rbe`` (report by exception: only changed points),
    ``object_change`` (ObjectChange condition; default: on with RBE), ``buffer_time`` (s to
    gather changes), ``critical`` (reports are acknowledged). The group is split over as many
    MMS data sets (``NAME_01``, ``NAME_02``...) as the negotiated PDU size needs.
    Polling mode: ``poll_interval`` seconds between Reads of the group's points.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    interval: int = Field(default=0, ge=0)
    integrity: int = Field(default=0, ge=0)
    rbe: bool = False
    object_change: bool | None = None
    buffer_time: int = Field(default=0, ge=0)
    critical: bool = False
    poll_interval: float | None = Field(default=None, gt=0)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not is_valid_identifier(value, MAX_DATA_SET_NAME):
            raise ValueError(
                f"data set name {value!r} must be an MMS identifier of at most "
                f"{MAX_DATA_SET_NAME} characters"
            )
        return value

    @property
    def polled(self) -> bool:
        """True in polling mode."""
        return self.poll_interval is not None

    @property
    def on_change(self) -> bool:
        """Whether the ObjectChange condition is requested."""
        return self.rbe if self.object_change is None else self.object_change

    @model_validator(mode="after")
    def _conditions(self) -> ClientDataSet:
        if self.polled:
            return self
        if not (self.interval or self.integrity or self.on_change):
            raise ValueError(
                f"data set {self.name}: nothing would trigger a report; set interval, "
                "integrity, rbe or object_change (or poll_interval for polling)"
            )
        if self.rbe and not self.on_change and not self.interval:
            raise ValueError(f"data set {self.name}: rbe needs object_change or an interval")
        return self


class Tase2ClientSettings(AdapterSettings, BackoffSettings):
    """Settings of a `tase2-client` adapter (see the module docstring for a YAML example).

    ``addresses`` are tried in preference order, alternating on failure. After association
    the client reads ``Bilateral_Table_ID``, ``Supported_Features`` and ``TASE2_Version``
    and concludes on a mismatch with ``bilateral_table_id``, ``required_blocks`` (default:
    block 1, plus block 2 when a data set uses RBE, integrity or object change) or
    ``tase2_versions`` (``major.minor``). Reconnect delays grow from ``backoff_initial``
    doubling per round over the addresses up to ``backoff_max`` seconds. ``devices`` are
    remote devices operated by bus commands on local points (Block 5); ``messages`` enables
    the server's information messages, which go to the bus's message stream (Block 4).

    Data sets are named ``<group>_<NN>_<suffix>`` so that two clients (or two runs of one)
    never collide on a server: ``data_set_suffix`` fixes the suffix, else it is drawn at
    start-up from the adapter's name and a random part. A data set or transfer set the server
    refuses is retried after ``data_set_retry`` seconds, doubling up to ten times that;
    meanwhile its points are polled.

    While running on any address but the first, the client checks the first every
    ``failback_interval`` seconds (association and start-up check) and moves back to it
    when it passes (``failback: false`` stays where it is). When nothing has arrived from
    the server for ``keepalive_interval`` seconds (0: off) it reads ``TASE2_Version``; no
    answer within ``request_timeout`` ends the session as lost.

    Security: ``tls`` runs the association over TLS (Secure ICCP; an address without a port
    then means port 3782), renewing the session every ``tls.renewal_interval`` seconds by
    a new association (the points keep their values through a renewal that succeeds);
    ``password`` is sent as the ACSE authentication-value; ``local_selectors`` and
    ``remote_selectors`` are the T-, S- and P-selectors calling and called.

    Endpoint roles: ``connect: {mode: passive, listen: host:port}`` makes the client
    listen for its server instead of calling it (:class:`ClientConnect`); it then neither
    fails back nor renews TLS, and the settings for calling (``failback*``,
    ``backoff_initial``, ``connect_timeout``, ``tls.renewal_interval``,
    ``tls.server_name``) are refused.
    """

    addresses: tuple[RemoteAddress, ...] = ()
    connect: ClientConnect = Field(default_factory=ClientConnect)
    tls: TlsSettings | None = None
    password: str | None = Field(default=None, min_length=1, repr=False)
    local_selectors: OsiSelectors = Field(default_factory=OsiSelectors)
    remote_selectors: OsiSelectors = Field(default_factory=OsiSelectors)
    local_ap_title: str | None = None
    local_ae_qualifier: int | None = None
    remote_ap_title: str | None = None
    remote_ae_qualifier: int | None = None
    bilateral_table_id: str = Field(min_length=1, max_length=32)
    domain: str
    tase2_versions: tuple[str, ...] = ("2000.8", "1996.8")
    required_blocks: tuple[int, ...] | None = None
    data_sets: tuple[ClientDataSet, ...] = (ClientDataSet(name="GW_DS", interval=10),)
    points: tuple[ClientPoint, ...] = ()
    devices: tuple[ClientDevice, ...] = ()
    messages: bool = False
    data_set_suffix: str | None = Field(default=None, min_length=1, max_length=8)
    data_set_retry: float = Field(default=30.0, gt=0)
    max_points_per_data_set: int = Field(default=500, ge=1)
    max_pdu_size: int = Field(default=65000, ge=1000)
    backoff_initial: BackoffSeconds = Field(default=1.0, description="first reconnect delay (s)")
    connect_timeout: float = Field(default=5.0, gt=0)
    request_timeout: float = Field(default=5.0, gt=0)
    failback: bool = True
    failback_interval: float = Field(default=60.0, gt=0)
    keepalive_interval: float = Field(default=30.0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _tls_port(cls, data: Any) -> Any:
        """With TLS, an address written without a port means the Secure ICCP port."""
        if not isinstance(data, dict) or data.get("tls") is None:
            return data
        connect = data.get("connect")
        if isinstance(connect, dict) and "listen" in connect:
            listen = with_default_port(connect["listen"], DEFAULT_TLS_PORT)
            data = {**data, "connect": {**connect, "listen": listen}}
        addresses = data.get("addresses")
        if not isinstance(addresses, (list, tuple)):
            return data
        return {**data, "addresses": [with_default_port(a, DEFAULT_TLS_PORT) for a in addresses]}

    @field_validator("local_ap_title", "remote_ap_title")
    @classmethod
    def _ap_title(cls, value: str | None) -> str | None:
        return None if value is None else check_ap_title(value)

    @field_validator("data_set_suffix")
    @classmethod
    def _suffix(cls, value: str | None) -> str | None:
        if value is not None and not all(c.isascii() and (c.isalnum() or c == "_") for c in value):
            raise ValueError(f"data_set_suffix {value!r} may hold only A-Z a-z 0-9 _")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if not is_valid_identifier(value):
            raise ValueError(f"domain {value!r} is not an MMS identifier")
        return value

    @field_validator("tase2_versions")
    @classmethod
    def _versions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for v in value:
            major, _, minor = v.partition(".")
            if not (major.isdigit() and minor.isdigit()):
                raise ValueError(f"TASE.2 version {v!r} must be written major.minor (2000.8)")
        return value

    @field_validator("required_blocks")
    @classmethod
    def _blocks(cls, value: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if value is not None and any(not 1 <= b <= 9 for b in value):
            raise ValueError("conformance blocks are numbered 1 to 9")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Tase2ClientSettings:
        if not self.connect.passive and not self.addresses:
            raise ValueError(
                "addresses: at least one server address is needed (or connect: "
                "{mode: passive, listen: host:port})"
            )
        if self.connect.passive:
            self._check_passive()
        if self.connect.certificate is not None and self.tls is None:
            raise ValueError("connect.certificate needs tls (there is no certificate without)")
        groups = [d.name for d in self.data_sets]
        if not groups:
            raise ValueError("at least one data set is needed")
        if len(set(groups)) != len(groups):
            raise ValueError("data set names must be unique")
        seen_points: set[str] = set()
        seen_remote: set[ObjectName] = set()
        for p in self.points:
            _add_once(seen_points, p.point, f"bus point {p.point!r} is mapped twice")
            name = p.object_name(self.domain)
            _add_once(seen_remote, name, f"remote point {name} is listed twice")
            if p.data_set is not None and p.data_set not in groups:
                raise ValueError(
                    f"point {p.point!r}: unknown data set {p.data_set!r} "
                    f"(configured: {', '.join(groups)})"
                )
        remote_devices: set[ObjectName] = set()
        for d in self.devices:
            _add_once(seen_points, d.point, f"bus point {d.point!r} is mapped twice")
            name = d.object_name(self.domain)
            _add_once(remote_devices, name, f"remote device {name} is listed twice")
        return self

    def _check_passive(self) -> None:
        """A passive client neither calls nor redials: what is only for calling is refused
        (the calling server decides when to associate, renew or fail back)."""
        if self.addresses:
            raise ValueError("addresses are for connect mode active; a passive client listens")
        calling = ("failback", "failback_interval", "backoff_initial", "connect_timeout")
        for name in calling:
            # a value other than the default (a dumped config repeats the defaults)
            if getattr(self, name) != type(self).model_fields[name].default:
                raise ValueError(
                    f"{name} is for connect mode active (a passive client does not call; "
                    "the calling server decides when to call again)"
                )
        tls = self.tls
        if tls is not None:
            client_only = {
                "renewal_interval": tls.renewal_interval > 0,
                "server_name": tls.server_name is not None,
            }
            for name, used in client_only.items():
                if used:
                    raise ValueError(
                        f"tls.{name} is for the TLS client; a passive client is the TLS "
                        "server (the calling server renews sessions)"
                    )

    def group_of(self, point: ClientPoint) -> ClientDataSet:
        """The data set (group) a point belongs to."""
        if point.data_set is None:
            return self.data_sets[0]
        return next(d for d in self.data_sets if d.name == point.data_set)

    def blocks_needed(self) -> tuple[int, ...]:
        """The conformance blocks the remote must advertise."""
        if self.required_blocks is not None:
            return self.required_blocks
        used = {self.group_of(p).name for p in self.points} or {self.data_sets[0].name}
        extended = any(
            d.rbe or d.integrity or d.on_change
            for d in self.data_sets
            if d.name in used and not d.polled
        )
        blocks = [1, 2] if extended else [1]
        if self.messages:
            blocks.append(4)
        if self.devices:
            blocks.append(5)
        return tuple(blocks)

    def owned_points(self) -> set[str]:
        return {p.point for p in self.points} | {d.point for d in self.devices}
