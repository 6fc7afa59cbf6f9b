"""Settings of the ``tase2-server`` adapter: listen address, identity, limits, tables.

One pydantic model, :class:`Tase2ServerSettings`, validated when the configuration loads;
:meth:`Tase2ServerSettings.restart_needed` says which changes need a new listener.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from adapters.tase2.iso.acse import check_ap_title
from adapters.tase2.security.endpoint import ConnectMode, RemoteAddress, with_default_port
from adapters.tase2.security.selectors import OsiSelectors
from adapters.tase2.security.tls_settings import DEFAULT_TLS_PORT, TlsSettings
from adapters.tase2.server.bilateral import (
    BilateralConfigError,
    BilateralTableConfig,
    PointRule,
    check_tables,
    is_pattern,
    resolve_rules,
)
from adapters.tase2.server.datasets import VccDataSetConfig
from gateway.backoff import BackoffSeconds, BackoffSettings
from gateway.points import PointDef
from gateway.registry import AdapterSettings

__all__ = [
    "DEFAULT_STATE_DIR",
    "CallTarget",
    "ServerConnect",
    "ServerLimits",
    "Tase2ServerSettings",
]

DEFAULT_STATE_DIR = "state"
"""The state directory, relative to the configuration file, when ``state_dir`` is not set."""


class ServerLimits(BaseModel):
    """Resource limits of one TASE.2 server (the YAML ``limits:`` entry).

    ``max_associations`` concurrent associations (further ones are refused);
    ``transfer_sets`` DSTransferSetNN objects per ICC domain; ``data_set_size`` members per
    data set; ``critical_timeout`` seconds to wait for a Transfer_Report_ACK;
    ``max_buffered_changes`` the AllChangesReported buffer per transfer set;
    ``max_queued_reports`` reports waiting for one peer's socket before it is aborted;
    ``message_buffer_size`` the longest information message text (``Info_Buff_<size>``);
    ``max_data_sets`` data sets and ``max_data_set_members`` members in all that one
    association may define (far above what a real peer uses; beyond them
    DefineNamedVariableList gets resource/capability-unavailable);
    ``association_timeout`` seconds a new TCP connection has to associate;
    ``max_pending_per_source`` connections of one source address not associated yet;
    ``max_connections`` open TCP connections in all.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_associations: int = Field(default=32, ge=1, le=1024)
    transfer_sets: int = Field(default=10, ge=1, le=999, description="per ICC domain")
    data_set_size: int = Field(default=2000, ge=1, description="members per data set")
    critical_timeout: float = Field(default=5.0, gt=0)
    max_buffered_changes: int = Field(default=10_000, ge=1)
    max_queued_reports: int = Field(default=2000, ge=1)
    message_buffer_size: int = Field(default=1024, ge=16, le=60_000)
    max_data_sets: int = Field(default=500, ge=1, description="per association")
    max_data_set_members: int = Field(default=100_000, ge=1, description="per association")
    association_timeout: float = Field(default=5.0, gt=0, le=300)
    max_pending_per_source: int = Field(default=16, ge=1, le=1024)
    max_connections: int = Field(default=256, ge=1, le=65_536)


class CallTarget(BaseModel):
    """One remote client an active server calls: its bilateral ``table`` (whose peer
    AP-title/AE-qualifier are called and whose ``password`` is sent), its ``addresses`` in
    preference order (alternated on failure; with ``tls`` a missing port means 3782) and
    the ``remote_selectors`` (T-, S-, P-selector) called."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str = Field(min_length=1)
    addresses: tuple[RemoteAddress, ...] = Field(min_length=1)
    remote_selectors: OsiSelectors = Field(default_factory=OsiSelectors)


class ServerConnect(BackoffSettings):
    """Who opens the TCP connection (the YAML ``connect:`` block of a ``tase2-server``).

    ``mode: passive`` (default): the server listens on ``host:port``. ``mode: active``: it
    listens nowhere and calls each of ``call`` (one association per target): after a
    failure the next address with back-off (``backoff_initial`` doubling to
    ``backoff_max``), after an association the same address again ``backoff_initial``
    seconds later (an association shorter than ``backoff_max`` counts as a failure). No
    fail-back to the first address and no TLS renewal (``tls.renewal_interval`` is
    refused); TLS is the TLS client side. The back-off settings are for mode active. The
    answering peer must be the target table's peer (AP-title, certificate binding,
    addresses), else the association is aborted with a log line naming the table and why.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: ConnectMode = ConnectMode.PASSIVE
    call: tuple[CallTarget, ...] = ()
    connect_timeout: float = Field(default=10.0, gt=0, le=300)
    backoff_initial: BackoffSeconds = Field(default=1.0, description="first redial delay (s)")
    backoff_max: BackoffSeconds = Field(default=60.0, description="longest redial delay (s)")

    @model_validator(mode="after")
    def _shape(self) -> ServerConnect:
        if self.mode is ConnectMode.ACTIVE and not self.call:
            raise ValueError("connect: mode active needs call: [{table, addresses}]")
        if self.mode is ConnectMode.PASSIVE and self.call:
            raise ValueError("connect: call is for mode active (a passive server listens)")
        if self.mode is ConnectMode.PASSIVE:
            for name in ("connect_timeout", "backoff_initial", "backoff_max"):
                # a value other than the default (a dumped config repeats the defaults)
                if getattr(self, name) != type(self).model_fields[name].default:
                    raise ValueError(
                        f"connect.{name} is for mode active (a passive server listens)"
                    )
        tables = [c.table for c in self.call]
        twice = sorted({t for t in tables if tables.count(t) > 1})
        if twice:
            raise ValueError(f"connect.call names table(s) twice: {', '.join(twice)}")
        return self

    @property
    def active(self) -> bool:
        """True when the server calls out instead of listening."""
        return self.mode is ConnectMode.ACTIVE


class Tase2ServerSettings(AdapterSettings):
    """Settings of a ``tase2-server`` adapter.

    ``tables`` are the bilateral tables (id, ICC domain, peer identity, points by id or glob
    with read/write rights and point type); ``vcc_points`` are VCC-scope points every peer
    sees (a table's own rule for the same point wins); ``vcc_data_sets`` are VMD-scope data
    sets (name, members: report-only special names and point ids) every peer sees and may
    name in a DSTransferSet (DataSetName scope 0), if its table lets it read every point.

    ``state_dir`` is where operator state that must survive a restart (device tags) is
    kept, in ``state.sqlite3`` (:mod:`gateway.state`); relative to the configuration
    file's directory, ``state/`` there by default. Built without a configuration file
    (no ``base`` in the validation context), it stays None and tags live in memory only.

    ``tls`` runs every association over TLS (Secure ICCP, see
    :mod:`adapters.tase2.security.tls_settings`); the port is then 3782 unless given.
    ``selectors`` are the server's own T-, S- and P-selectors.

    Endpoint roles: ``connect: {mode: active, call: [...]}`` makes the server call its
    remote clients instead of listening (:class:`ServerConnect`).
    """

    host: str = "127.0.0.1"
    port: int = Field(default=102, ge=0, le=65535)
    tls: TlsSettings | None = None
    selectors: OsiSelectors = Field(default_factory=OsiSelectors)
    connect: ServerConnect = Field(default_factory=ServerConnect)
    ap_title: str | None = None
    ae_qualifier: int | None = None
    max_pdu_size: int = Field(default=65000, ge=1024, le=1_000_000)
    limits: ServerLimits = Field(default_factory=ServerLimits)
    vcc_points: tuple[PointRule, ...] = ()
    vcc_data_sets: tuple[VccDataSetConfig, ...] = ()
    tables: tuple[BilateralTableConfig, ...] = ()
    subscription_buffer: int = Field(default=200_000, ge=1000)
    refresh_period: float = Field(default=5.0, gt=0)
    state_dir: Path | None = Field(default=None, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _tls_port(cls, data: object) -> object:
        if not isinstance(data, dict) or data.get("tls") is None:
            return data
        if "port" not in data:
            data = {**data, "port": DEFAULT_TLS_PORT}
        connect = data.get("connect")
        if isinstance(connect, dict) and isinstance(connect.get("call"), (list, tuple)):
            calls = []
            for target in connect["call"]:
                if isinstance(target, dict) and isinstance(target.get("addresses"), list):
                    addresses = [
                        with_default_port(a, DEFAULT_TLS_PORT) for a in target["addresses"]
                    ]
                    target = {**target, "addresses": addresses}
                calls.append(target)
            data = {**data, "connect": {**connect, "call": calls}}
        return data

    @field_validator("state_dir")
    @classmethod
    def _resolve_state_dir(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        context = info.context if isinstance(info.context, dict) else {}
        base = context.get("base")
        if value is None:
            return None if base is None else Path(base) / DEFAULT_STATE_DIR
        return value if value.is_absolute() or base is None else Path(base) / value

    @field_validator("ap_title")
    @classmethod
    def _check_ap_title(cls, value: str | None) -> str | None:
        return None if value is None else check_ap_title(value)

    @field_validator("vcc_points")
    @classmethod
    def _vcc_scope(cls, value: tuple[PointRule, ...]) -> tuple[PointRule, ...]:
        return tuple(r.model_copy(update={"scope": "vcc"}) for r in value)

    @model_validator(mode="after")
    def _check_tables(self) -> Tase2ServerSettings:
        try:
            check_tables(self.tables)
        except BilateralConfigError as exc:
            raise ValueError(str(exc)) from None
        if self.connect.active and self.tls is not None and self.tls.renewal_interval > 0:
            raise ValueError(
                "tls.renewal_interval: an active server does not renew TLS sessions (its "
                "associations last until they end, then it calls again)"
            )
        known = {t.id for t in self.tables}
        for target in self.connect.call:
            if target.table not in known:
                raise ValueError(
                    f"connect.call: table {target.table!r} is not one of the tables "
                    f"({', '.join(sorted(known)) or 'none'})"
                )
        names = [d.name for d in self.vcc_data_sets]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"VCC data set names used twice: {', '.join(twice)}")
        return self

    def consumed_points(self) -> set[str]:
        """Every point named exactly by a table or the VCC list (globs are resolved against
        the bus at run time, so they cannot be listed here)."""
        rules = [*self.vcc_points, *(r for t in self.tables for r in t.points)]
        out = {r.match for r in rules if not is_pattern(r.match)}
        for ds in self.vcc_data_sets:
            out |= ds.point_ids()
        for t in self.tables:
            for d in t.devices:
                out.add(d.point)
                if d.status_point is not None:
                    out.add(d.status_point)
        return out

    def check(self, points: Mapping[str, PointDef]) -> list[str]:
        """A pattern rule that selects none of the configured points: one warning each."""
        ids = sorted(points)
        out: list[str] = []
        scopes = [("vcc_points", self.vcc_points)]
        scopes += [(f"table {t.id!r}", t.points) for t in self.tables]
        for where, rules in scopes:
            for rule in rules:
                if is_pattern(rule.match) and not resolve_rules([rule], ids):
                    out.append(f"{where}: match {rule.match!r} selects no point")
        return out

    def parts(self) -> dict[str, set[str]]:
        """The bilateral tables, by id: a reload that removes one is reported."""
        return {"bilateral table": {t.id for t in self.tables}}

    def restart_needed(self, other: Tase2ServerSettings) -> bool:
        """True when going to ``other`` needs a new listening server (not just new tables);
        a new ``state_dir`` too (tags are restored only at start-up), and TLS switched on or
        off (new TLS files or settings are applied in place, to new connections), and the
        connect mode changed (new call targets or back-off of an active server are applied
        in place, see :meth:`Tase2Server.set_connect`)."""
        keep = (
            *("host", "port", "ap_title", "ae_qualifier", "max_pdu_size", "limits"),
            *("state_dir", "selectors"),
        )
        if (self.tls is None) != (other.tls is None):  # TLS on or off: a new listener
            return True
        if self.connect.mode != other.connect.mode:
            return True
        return any(getattr(self, k) != getattr(other, k) for k in keep)
