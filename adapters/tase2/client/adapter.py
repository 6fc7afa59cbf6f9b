"""The `tase2-client` adapter: points of a remote ICCP server taken into the bus, with failover.

A thin asyncio shell over the sans-IO parts:

* :mod:`~adapters.tase2.client.settings` - the settings;
* :mod:`~adapters.tase2.client.plan` - data sets split to the PDU size, DSTransferSet values,
  the start-up check;
* :mod:`~adapters.tase2.client.ingest` - reports and polled values -> bus, ACK/NACK;
* :mod:`~adapters.tase2.client.reporting` - one data set started, degraded or polled
  instead, retried, stopped (over :mod:`~adapters.tase2.client.session`);
* :mod:`~adapters.tase2.client.failover` - reconnect policy over the address list, link status;
* :mod:`~adapters.tase2.client.writes` - bus commands -> Writes;
* :mod:`~adapters.tase2.client.failures` - failed Writes and device steps -> CommandFailure;
* :mod:`~adapters.tase2.client.devices` - bus commands -> device select/operate (Block 5);
* :mod:`~adapters.tase2.model.messages` - information messages -> the bus's message stream.

One session (reference section 6.8): associate with the next address; read
``TASE2_Version``, ``Supported_Features`` and ``Bilateral_Table_ID`` and conclude on a
mismatch; ask the declared type of ``auto`` points; start every planned data set (a
:class:`~adapters.tase2.client.reporting.DataSetRun`: define it under this client's own
name, reserve a transfer set and start it as the server shapes it; or leave out the points
the server lacks, or poll instead, and retry); enable ``IM_Transfer_Set`` when ``messages``
is set; start the polling loops; then deliver reports (and information messages) to the
bus until the association ends. A value that does not fit its point's type has the type
asked in the background. Stopping the adapter stops its transfer sets and deletes its data
sets before concluding.
While it runs, a keep-alive Read of ``TASE2_Version`` goes out when the server has sent
nothing for ``keepalive_interval`` seconds (no answer: the session is lost), and away from
the primary address the primary is checked every ``failback_interval`` seconds (a probe
association and the start-up check); when it passes, the client concludes and moves back.
At the moment of loss every point the client owns turns not valid, stamped with the time of
loss, and the next session (next address, after the back-off) rebuilds everything.
``run()`` never returns and never raises for link trouble: it reconnects forever.

Secure ICCP: with ``tls`` every association (and fail-back probe) runs over TLS, offering
the previous TLS session again (resumption). Every ``tls.renewal_interval`` seconds the
client renews the session the only way Python allows (it cannot renegotiate): it leaves
the server as found (transfer sets stopped, data sets deleted, concluded) and associates
again at once, break-before-make; the points keep their last values meanwhile (no
not-valid window) unless the new association fails, at which moment they turn not valid.
Changed certificate files are picked up for the next connection.

Endpoint roles: with ``connect: {mode: passive}`` the client does not call; it listens
(:class:`~adapters.tase2.mms.aio.listener.MmsListener`, the TLS server side with ``tls``),
accepts one association at a time from the server that calls in, if
:func:`~adapters.tase2.client.passive.check_caller` accepts it, and runs the same session
over it; when that ends it waits for the next call (no back-off, fail-back or renewal of
its own: the calling server decides when to call).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

from adapters.base import Adapter
from adapters.tase2.client.devices import DeviceError, operate_device
from adapters.tase2.client.failover import (
    AddressStatus,
    LinkPlanner,
    LinkStatus,
    RateMeter,
    keepalive_due,
)
from adapters.tase2.client.failures import guard, refused
from adapters.tase2.client.ingest import PointSlot, ReportIngest
from adapters.tase2.client.passive import check_caller
from adapters.tase2.client.plan import (
    PointSpec,
    check_startup,
    data_set_suffix,
    plan_groups,
    startup_names,
)
from adapters.tase2.client.reporting import DataSetRun
from adapters.tase2.client.session import SetupError, declared_types
from adapters.tase2.client.settings import (
    ClientDevice,
    RemoteAddress,
    Tase2ClientSettings,
)
from adapters.tase2.client.writes import write_value
from adapters.tase2.errors import LocalError, RemoteError
from adapters.tase2.iso.acse import AuthenticationDecision, AuthenticationRequest
from adapters.tase2.mms.access import VariableList
from adapters.tase2.mms.aio.client import (
    MmsClient,
    MmsConnectionLost,
    MmsRejected,
    MmsRequestTimeout,
)
from adapters.tase2.mms.aio.listener import MmsListener
from adapters.tase2.mms.aio.tls_reloader import TlsReloader
from adapters.tase2.mms.association import AssociationConfig, AssociationError
from adapters.tase2.mms.data import Boolean
from adapters.tase2.mms.errors import MmsDecodeError
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.pdu import Unconfirmed, decode_pdu
from adapters.tase2.mms.service_error import MmsServiceError
from adapters.tase2.mms.services import InformationReport
from adapters.tase2.model.layout import layout_of
from adapters.tase2.model.messages import (
    IM_TRANSFER_SET,
    INFO_MESS_HEADER,
    MessageDecodeError,
    decode_message_report,
)
from adapters.tase2.model.objects import TASE2_VERSION
from adapters.tase2.security.certificates import CertificateError
from gateway.bus import CommandError, CommandFailure, PointBus, Value
from gateway.logs import Throttle
from gateway.mapping import Binding
from gateway.points import PointDef, now
from gateway.registry import AdapterSettings

RENEW = "TLS session renewal due"
"""What :meth:`Tase2ClientAdapter._serve` returns when the session is to be renewed."""

TLS_CHECK_INTERVAL = 60.0
"""Seconds between checks of the TLS files (changes, expiry) while a session runs."""

__all__ = ["StartupMismatch", "Tase2ClientAdapter"]

log = logging.getLogger(__name__)


_MESSAGE_MARK = INFO_MESS_HEADER.encode()


class StartupMismatch(RemoteError):
    """The server is not the one configured (BLT id, features or version differ)."""


def _fmt_ts(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class Tase2ClientAdapter(Adapter):
    """TASE.2 client: reports (or polls) from a remote server into bus points, with failover.

    Status (``status()``): link state, current address, last report time, reports/s, error
    counters, per-address attempts and the data sets and transfer sets in use.
    """

    type_name = "tase2-client"
    Settings = Tase2ClientSettings

    @classmethod
    def listens_with(cls, settings: AdapterSettings) -> bool:
        """A passive client serves a port: a port in use at start-up is fatal, as for servers."""
        return isinstance(settings, Tase2ClientSettings) and settings.connect.passive

    def __init__(self, name: str, settings: AdapterSettings, bus: PointBus) -> None:
        super().__init__(name, settings, bus)
        assert isinstance(settings, Tase2ClientSettings)
        self.config: Tase2ClientSettings = settings
        self.link = LinkStatus()
        listen = settings.connect.listen
        self.passive = settings.connect.passive
        """The server calls this client (``connect: {mode: passive}``)."""
        addresses: tuple[RemoteAddress, ...] = settings.addresses
        if self.passive:
            assert listen is not None
            addresses = (listen,)
        self.link.addresses = {str(a): AddressStatus(str(a)) for a in addresses}
        failback = settings.failback_interval if settings.failback and not self.passive else 0.0
        self._planner: LinkPlanner[RemoteAddress] = LinkPlanner(
            addresses,
            settings.backoff_initial,
            settings.backoff_max,
            failback_interval=failback,
        )
        self.link.failback.enabled = failback > 0
        self.link.failback.interval = failback
        self.link.keepalive.interval = settings.keepalive_interval
        self.ingest = ReportIngest(bus, settings.domain)
        self._slots: list[PointSlot] = []
        self._slot_of: dict[str, PointSlot] = {}
        self._slot_by_name: dict[ObjectName, PointSlot] = {}
        self._client: MmsClient | None = None
        self._rate = RateMeter()
        self._sends: set[asyncio.Task[None]] = set()
        self.suffix = settings.data_set_suffix or data_set_suffix(
            name, "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(3))
        )
        self._runs: list[DataSetRun] = []
        self._polled: list[str] = []
        self._asked: set[ObjectName] = set()
        self._typing: asyncio.Task[None] | None = None
        self._running = False
        self._devices: dict[str, ClientDevice] = {}
        self._device_locks: dict[str, asyncio.Lock] = {}
        self.messages_received = 0
        self.messages_enabled = False
        self.tls: TlsReloader | None = None
        self._holding = False
        """A renewal is under way: the points keep their values until it succeeds or fails."""
        self.listener: MmsListener | None = None
        """The passive client's listener (None for an active client, or before run)."""
        self.caller: str | None = None
        """A passive client: the address of the server on the current association."""
        self._failure_log = Throttle(max_kinds=256)
        """A passive client's failed associations, thinned out per error."""

    # ------------------------------------------------------------------ set-up

    def _build_slots(self) -> None:
        """Bind the configured remote points to their bus points (needs their definitions)."""
        slots: list[PointSlot] = []
        for p in self.config.points:
            defn: PointDef = self.bus.definition(p.point)
            linear = Binding(defn, scale=p.scale, offset=p.offset).linear
            slots.append(
                PointSlot(
                    point=p.point,
                    name=p.object_name(self.config.domain),
                    kind=defn.kind,
                    type=p.type,
                    a=linear.a,
                    b=linear.b,
                    writable=p.writable,
                )
            )
        self._slots = slots
        self._slot_of = {s.point: s for s in slots}
        self._slot_by_name = {s.name: s for s in slots}
        self.ingest.set_slots(slots)
        self._devices = {d.point: d for d in self.config.devices}
        self._device_locks = {d.point: asyncio.Lock() for d in self.config.devices}

    # ------------------------------------------------------------------ the loop

    async def run(self) -> None:
        """Associate, serve, and after each loss or failure try again forever."""
        self._build_slots()
        if self.config.tls is not None and self.tls is None:
            try:  # the TLS role follows the TCP role: a passive client is the TLS server
                self.tls = TlsReloader(self.name, self.config.tls, server_side=self.passive)
            except CertificateError as exc:
                raise LocalError(f"{self.name}: {exc}") from None
        if self.passive:
            await self._run_passive()
            return
        while True:
            address, delay = self._planner.next_attempt()
            if delay > 0:
                self._state("backoff", str(address), f"next attempt in {delay:.1f}s", quiet=True)
                await asyncio.sleep(delay)
            try:
                await self._session(address)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(address, exc)

    async def _run_passive(self) -> None:
        """Listen; serve each association the calling server opens, one at a time."""
        cfg = self.config
        listen = cfg.connect.listen
        assert listen is not None
        listener = self.listener = MmsListener(
            host=listen.host,
            port=listen.port,
            config=self._association_config(),
            authenticator=self._check_caller,
            allow=cfg.connect.allow_list().permits,
            tls=self.tls.endpoint if self.tls is not None else None,
            association_timeout=cfg.connect.association_timeout,
            request_timeout=cfg.request_timeout,
            on_raw_report=self._on_raw_report,
            max_associations=1,  # one server link at a time: decided by the listener
            name=f"tase2-client {self.name}",
        )
        try:
            await listener.start()
        except OSError as exc:
            raise LocalError(f"{self.name}: cannot listen on {listen}: {exc}") from None
        self._state("listening", str(listen), "waiting for the server to call", quiet=True)
        self.listening()
        try:
            while True:
                try:  # idle: the TLS files are checked (changes, expiry) every interval
                    async with asyncio.timeout(TLS_CHECK_INTERVAL):
                        client = await listener.accept()
                except TimeoutError:
                    self._check_listener_tls(listener)
                    continue
                self.caller = "{}:{}".format(*client.peer)
                try:
                    await self._session(listen, client)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self._failed(listen, exc)
                finally:
                    self.caller = None
                self._check_listener_tls(listener)
                self._state("listening", str(listen), "waiting for the server to call", True)
        finally:
            await listener.stop()

    def _check_listener_tls(self, listener: MmsListener) -> None:
        """Reload changed TLS files (and warn of expiry): the next caller meets the new ones."""
        if self.tls is not None:
            self.tls.check()
            listener.tls = self.tls.endpoint

    def _check_caller(self, request: AuthenticationRequest, /) -> AuthenticationDecision:
        """The listener's authenticator (see :func:`check_caller`)."""
        client = self._client
        return check_caller(self.config, request, busy=client is not None and not client.closed)

    def _failed(self, address: RemoteAddress, exc: Exception) -> None:
        error = str(exc) or type(exc).__name__
        if self._holding:  # the renewal failed: what was held is not valid any more
            self._holding = False
            self.bus.owner_lost(self.name, now())
        kind = {
            StartupMismatch: "check",
            SetupError: "setup",
            MmsRequestTimeout: "timeout",
        }.get(type(exc), "connect")
        self.link.count(kind)
        where = self.link.addresses[str(address)]
        where.failures += 1
        where.last_error = error
        where.state = "failed"
        state = "check-failed" if kind == "check" else "failed"
        self._state(state, str(address), error, quiet=True)
        if self.passive:
            listener = self.listener
            caller = self.caller or "the server"
            n = self._failure_log.count(error.replace(caller, "<caller>"))
            if n:
                log.warning(
                    "tase2-client %s: association from %s failed (%s); waiting on %s:%d for "
                    "the server to call again%s",
                    self.name,
                    caller,
                    error,
                    listener.host if listener is not None else address.host,
                    listener.port if listener is not None else address.port,
                    "" if n == 1 else f" [{n} times so far]",
                )
            return
        if self._planner.failed(error):
            nxt = self._planner.address
            log.warning(
                "tase2-client %s: attempt to %s failed (%s); %d failure(s) in a row; "
                "next: %s in %.1fs",
                self.name,
                address,
                error,
                self._planner.failures,
                nxt,
                self._planner.base_delay(),
            )

    def _state(self, state: str, address: str, reason: str = "", quiet: bool = False) -> None:
        """Record a link state change; log it (one line) unless ``quiet``."""
        link = self.link
        changed = (state, address) != (link.state, link.address)
        link.state, link.address, link.reason = state, address, reason
        if changed:
            link.since = now()
            if address in link.addresses:
                link.addresses[address].state = state
        if changed and not quiet:
            log.info("tase2-client %s: link %s %s (%s)", self.name, state, address, reason)

    async def _session(self, address: RemoteAddress, client: MmsClient | None = None) -> None:
        """One association with ``address``, from connect to loss (a passive client
        passes the ``client`` of the association the server opened)."""
        cfg = self.config
        where = self.link.addresses[str(address)]
        where.attempts += 1
        if client is None:
            self._state("connecting", str(address), quiet=True)
            client = await self._connect(address, self._on_raw_report)
        self._client = client
        polls: list[asyncio.Task[None]] = []
        try:
            version = await self._check(client, address)
            self._state("configuring", str(address), quiet=True)
            self._asked.clear()
            # auto points whose declared type is not known yet (kept across sessions; a
            # value that stops fitting it is asked again)
            untyped = [s for s in self._slots if s.type is None and s.layout is None]
            await self._learn_types(client, untyped)
            polls = await self._configure(client)
            if cfg.messages:
                await self._enable_messages(client)
            self._running = True
            self._holding = False
            self._planner.up(time.monotonic())
            self.link.associations += 1
            where.last_up = now()
            reporting = sum(r.status.mode == "reporting" for r in self._runs)
            self._state(
                self._link_state(),
                str(address),
                f"TASE.2 {version}, pdu {client.parameters.max_pdu_size}, "
                f"{reporting} transfer set(s), {len(self._runs) - reporting} data set(s) polled "
                f"instead, {len(self._polled)} polled chunk(s), "
                f"{self._not_served()} point(s) not served",
            )
            reason = await self._serve(client, polls)
            if reason == RENEW:
                await self._renew(client, address)
            elif reason is None:
                await self._fail_back(client, address)
            else:
                self._lost(address, reason)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                async with asyncio.timeout(2.0):
                    await self._leave(client)
            raise
        except Exception as exc:
            if not self._running:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2.0):
                        await self._stop_runs()
                raise
            self._lost(address, f"session failed: {exc!r}")
        finally:
            for run in self._runs:
                run.cancel()
            for task in polls:
                task.cancel()
            if self._typing is not None:
                polls.append(self._typing)
                self._typing.cancel()
                self._typing = None
            if polls:
                await asyncio.gather(*polls, return_exceptions=True)
            self._client = None
            self._running = False
            self.ingest.clear()
            self._runs.clear()
            self._polled.clear()
            self.messages_enabled = False
            # whatever arrived during set-up is not served as good after the link is gone
            # (a renewal holds the values until the next association is up or fails)
            if not self._holding:
                self.bus.owner_lost(self.name, now())
            if not client.closed:
                await client.abort()

    async def _stop_runs(self) -> None:
        """Stop every transfer set and delete every data set of this association."""
        for run in self._runs:
            await run.stop()

    async def _leave(self, client: MmsClient) -> None:
        """Leave the server as found: transfer sets stopped, data sets deleted, concluded."""
        await self._stop_runs()
        await client.conclude()

    def _transfer_sets_held(self) -> set[ObjectName]:
        """The transfer sets this association's data sets hold."""
        return {ts for r in self._runs if (ts := r.transfer_set) is not None}

    def _group_modes(self) -> dict[str, str]:
        """How each configured group is delivered: ``reporting``, ``polled`` (configured so,
        or because the server would not run a transfer set) or both (``polled+reporting``)."""
        modes: dict[str, set[str]] = {}
        for run in self._runs:
            modes.setdefault(run.group.name, set()).add(run.status.mode)
        for chunk in self._polled:
            modes.setdefault(chunk.rsplit(":", 1)[0], set()).add("polled")
        return {group: "+".join(sorted(m)) for group, m in modes.items()}

    def _not_served(self) -> int:
        return sum(len(r.status.not_served) for r in self._runs)

    def _link_state(self) -> str:
        """``degraded`` while the server lacks some points, else ``running``."""
        return "degraded" if self._not_served() else "running"

    def _run_changed(self) -> None:
        """A data set started, fell back or recovered: the link may be (no longer) degraded."""
        if self._running:
            served = f"{self._not_served()} point(s) not served"
            self._state(self._link_state(), self.link.address, served)

    def _association_config(self) -> AssociationConfig:
        """This end of the association as configured (as caller, or as a passive
        client's responder: then ``local_*`` are what the AARE answers)."""
        cfg = self.config
        ltsap, lssel, lpsel = cfg.local_selectors.octets()
        rtsap, rssel, rpsel = cfg.remote_selectors.octets()
        return AssociationConfig(
            max_pdu_size=cfg.max_pdu_size,
            local_ap_title=cfg.local_ap_title,
            local_ae_qualifier=cfg.local_ae_qualifier,
            remote_ap_title=cfg.remote_ap_title,
            remote_ae_qualifier=cfg.remote_ae_qualifier,
            password=cfg.password.encode() if cfg.password is not None else None,
            local_tsap=ltsap,
            remote_tsap=rtsap,
            local_session_selector=lssel,
            remote_session_selector=rssel,
            local_presentation_selector=lpsel,
            remote_presentation_selector=rpsel,
        )

    async def _connect(
        self, address: RemoteAddress, on_raw_report: Callable[[bytes], None] | None = None
    ) -> MmsClient:
        """Associate with ``address`` as configured (sessions and fail-back checks)."""
        cfg = self.config
        association = self._association_config()
        tls = None
        if self.tls is not None:
            self.tls.check()  # changed files: this connection uses the new ones
            tls = self.tls.endpoint
        return await MmsClient.connect(
            address.host,
            address.port,
            config=association,
            connect_timeout=cfg.connect_timeout,
            request_timeout=cfg.request_timeout,
            on_raw_report=on_raw_report,
            tls=tls,
        )

    async def _fail_back(self, client: MmsClient, address: RemoteAddress) -> None:
        """Leave ``address`` for the primary, which passed its check: conclude, say why;
        the next session goes to the primary at once."""
        primary = self._planner.failback_passed()
        self._running = False
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.config.request_timeout):
                await self._leave(client)
        self.link.failback.failbacks += 1
        self._state("failing-back", str(address), f"to primary {primary}", quiet=True)
        log.info(
            "tase2-client %s: failing back to primary %s (it passed the start-up check); "
            "association with %s concluded",
            self.name,
            primary,
            address,
        )

    async def _renew(self, client: MmsClient, address: RemoteAddress) -> None:
        """The TLS session is due for renewal: leave the server as found, associate again
        at once; the points are held meanwhile."""
        self._running = False
        self._holding = True
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.config.request_timeout):
                await self._leave(client)
        self._planner.renew()
        self.link.tls_renewals += 1
        self._state("renewing", str(address), "TLS session renewal", quiet=True)
        log.info(
            "tase2-client %s: TLS session renewal with %s (every %gs): association concluded, "
            "associating again; points held meanwhile",
            self.name,
            address,
            self.config.tls.renewal_interval if self.config.tls is not None else 0.0,
        )

    def _lost(self, address: RemoteAddress, reason: str) -> None:
        lost_at = now()
        self.bus.owner_lost(self.name, lost_at)
        self._running = False
        self._planner.lost(time.monotonic())
        self.link.count("lost")
        self._state("lost", str(address), reason)
        log.warning(
            "tase2-client %s: link to %s lost (%s); %d point(s) not valid since %s; next: %s",
            self.name,
            self.caller or address,
            reason,
            len(self._slots),
            _fmt_ts(lost_at),
            f"waiting on {address} for the server to call"
            if self.passive
            else self._planner.address,
        )

    async def _check(self, client: MmsClient, address: RemoteAddress) -> str:
        """The start-up check; concludes the association on a mismatch."""
        cfg = self.config
        self._state("checking", str(address), quiet=True)
        results = await client.read(*startup_names(cfg.domain))
        result = check_startup(
            results, cfg.bilateral_table_id, cfg.tase2_versions, cfg.blocks_needed()
        )
        if not result.ok:
            # logged (throttled) by _failed, with the address and the attempt count
            with contextlib.suppress(Exception):
                await client.conclude(2.0)
            raise StartupMismatch(
                "server is not the configured peer, association concluded: "
                + "; ".join(result.problems)
            )
        return result.version or "?"

    async def _configure(self, client: MmsClient) -> list[asyncio.Task[None]]:
        """Start reporting of every data set (or polling instead); start the polling loops.

        Returns the tasks that run for the whole association: configured polling loops and
        the retries of data sets the server refused.
        """
        cfg = self.config
        groups = list(cfg.data_sets)
        specs = [PointSpec(s.name, s.effective_type) for s in self._slots]
        membership = [groups.index(cfg.group_of(p)) for p in cfg.points]
        plans = plan_groups(
            groups,
            specs,
            membership,
            cfg.domain,
            client.parameters.max_pdu_size,
            cfg.max_points_per_data_set,
            self.suffix,
        )
        tasks: list[asyncio.Task[None]] = []
        poller = functools.partial(self._poll, client)
        for plan in plans:
            for pset in plan.sets:
                slots = [self._slots[i] for i in pset.indices]
                if plan.group.polled:
                    interval = plan.group.poll_interval or 1.0
                    tasks.append(asyncio.create_task(self._poll(client, slots, interval)))
                    self._polled.append(f"{plan.group.name}:{len(slots)}")
                    continue
                run = DataSetRun(
                    client,
                    self.ingest,
                    self.name,
                    cfg.domain,
                    plan.group,
                    pset,
                    slots,
                    poller,
                    cfg.data_set_retry,
                    self._transfer_sets_held,
                    self._run_changed,
                )
                self._runs.append(run)
                await run.start()
                if run.status.mode != "reporting":
                    self.link.count("setup")
                if not run.settled:
                    tasks.append(asyncio.create_task(run.keep()))
        return tasks

    async def _enable_messages(self, client: MmsClient) -> None:
        """Write TRUE to ``IM_Transfer_Set``; a refusal is logged, not fatal."""
        try:
            error = await client.write(ObjectName.aa(IM_TRANSFER_SET), Boolean(True))
        except (MmsServiceError, MmsRejected) as exc:
            log.error("tase2-client %s: %s not enabled: %s", self.name, IM_TRANSFER_SET, exc)
            return
        if error is not None:
            log.error("tase2-client %s: %s not enabled: %s", self.name, IM_TRANSFER_SET, error.name)
            return
        self.messages_enabled = True

    async def _poll(self, client: MmsClient, slots: Sequence[PointSlot], interval: float) -> None:
        """Read ``slots`` every ``interval`` seconds; link trouble ends the session."""
        names = [s.name for s in slots]
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            results = await client.read(*names)
            self.ingest.apply_read(slots, results)
            self._seen(1)
            self._want_types(client)
            await asyncio.sleep(max(0.0, interval - (loop.time() - started)))

    # ------------------------------------------------------------------ declared types

    async def _learn_types(self, client: MmsClient, slots: Sequence[PointSlot]) -> None:
        """Ask the server the type of each of ``slots`` (once per association) and decode
        their values by it from now on."""
        slots = [s for s in slots if s.name not in self._asked]
        if not slots:
            return
        self._asked.update(s.name for s in slots)
        types = await declared_types(client, [s.name for s in slots])
        for slot in slots:
            spec = types.get(slot.name)
            if spec is None or isinstance(spec, str):
                continue  # refused: decode by the configured type or the shape
            layout = layout_of(spec, slot.kind)
            if layout is None:
                log.warning(
                    "tase2-client %s: %s is declared %s, which is no TASE.2 point type",
                    self.name,
                    slot.name,
                    spec,
                )
            slot.layout = layout

    def _want_types(self, client: MmsClient) -> None:
        """Ask, in the background, the types of points whose values did not decode."""
        wanted = self.ingest.wanted
        if not wanted or (self._typing is not None and not self._typing.done()):
            return
        slots = [self._slot_by_name[n] for n in wanted if n in self._slot_by_name]
        wanted.clear()
        self._typing = asyncio.create_task(self._learn_types_quietly(client, slots))

    async def _learn_types_quietly(self, client: MmsClient, slots: Sequence[PointSlot]) -> None:
        try:
            await self._learn_types(client, slots)
        except (MmsConnectionLost, MmsRequestTimeout, AssociationError) as exc:
            log.debug("tase2-client %s: types not learnt: %s", self.name, exc)

    async def _serve(self, client: MmsClient, polls: Sequence[asyncio.Task[None]]) -> str | None:
        """Wait until the association ends, a polling loop fails or a keep-alive goes
        unanswered; returns why, or None when the primary passed a fail-back check."""
        closed = asyncio.create_task(client.wait_closed())
        keepalive = asyncio.create_task(self._keepalive(client))
        watchers: set[asyncio.Task[Any]] = {closed, keepalive}
        renew: asyncio.Task[None] | None = None
        if self.tls is not None:
            watchers.add(asyncio.create_task(self._watch_tls()))
            interval = self.tls.settings.renewal_interval
            if interval > 0 and not self.passive:  # the calling server renews
                renew = asyncio.create_task(asyncio.sleep(interval))
                watchers.add(renew)
        failback: asyncio.Task[None] | None = None
        if self._planner.failback_due(time.monotonic()) is not None:
            failback = asyncio.create_task(self._watch_primary())
            watchers.add(failback)
        try:
            done, _ = await asyncio.wait({*watchers, *polls}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in watchers:
                task.cancel()
            # bounded: a cancellation lost in a wait_for race must not hold the session
            await asyncio.wait(watchers, timeout=2.0)
        if closed in done or client.closed:
            reason = client.close_reason
            return f"{reason.value if reason else 'closed'}: {client.association.close_detail}"
        if keepalive in done:
            return keepalive.result()
        if renew is not None and renew in done:
            return RENEW
        if failback is not None and failback in done:
            return None
        for task in done:
            exc = task.exception()
            if exc is not None:
                return f"polling failed: {exc}"
        return "polling stopped"

    async def _watch_tls(self) -> None:
        """Check the TLS files (change, expiry warnings) while the session runs; never
        returns."""
        while True:
            await asyncio.sleep(TLS_CHECK_INTERVAL)
            if self.tls is not None:
                self.tls.check()

    async def _keepalive(self, client: MmsClient) -> str:
        """Read ``TASE2_Version`` whenever the server has sent nothing for
        ``keepalive_interval`` s; returns (ending the session) when one goes unanswered."""
        interval = self.config.keepalive_interval
        status = self.link.keepalive
        while True:
            wait = keepalive_due(interval, client.last_received, time.monotonic())
            if wait is None:
                await asyncio.Event().wait()  # keep-alives are off: never returns
            elif wait > 0:
                await asyncio.sleep(wait)
                continue
            status.sent += 1
            status.last_sent = now()
            try:
                await client.read(ObjectName.vmd(TASE2_VERSION))
                status.last_result = "answered"
            except MmsRequestTimeout:
                status.unanswered += 1
                status.last_result = "no answer"
                return f"no answer to keep-alive within {client.request_timeout:g}s"
            except (MmsServiceError, MmsRejected) as exc:
                status.last_result = f"refused ({exc}): the server is alive"
            except MmsConnectionLost:
                await client.wait_closed()  # the session ends with the association's reason
                return "association ended during a keep-alive"
            status.answered += 1
            log.debug("tase2-client %s: keep-alive %s", self.name, status.last_result)

    async def _watch_primary(self) -> None:
        """Check the primary when the planner says so; returns once it passes."""
        planner = self._planner
        status = self.link.failback
        while True:
            wait = planner.failback_due(time.monotonic())
            if wait is None:
                await asyncio.Event().wait()  # no (more) checks: never returns
                continue
            await asyncio.sleep(wait)
            error = await self._probe(planner.primary)
            status.checks += 1
            status.last_check = now()
            if error is None:
                status.failed_in_row = 0
                status.last_result = "passed"
                return
            status.failed_in_row += 1
            status.last_result = error
            worth_a_line = planner.failback_failed(time.monotonic(), error)
            log.log(
                logging.INFO if worth_a_line else logging.DEBUG,
                "tase2-client %s: fail-back check of primary %s failed (%s); %d in a row; "
                "staying on %s",
                self.name,
                planner.primary,
                error,
                planner.failback_failures,
                self.link.address,
            )

    async def _probe(self, address: RemoteAddress) -> str | None:
        """Associate with ``address``, run the start-up check, conclude: None when it
        passed, else what went wrong."""
        cfg = self.config
        try:
            client = await self._connect(address)
        except Exception as exc:
            return str(exc) or type(exc).__name__
        error: str | None = None
        try:
            try:
                results = await client.read(*startup_names(cfg.domain))
            except Exception as exc:
                error = str(exc) or type(exc).__name__
            else:
                result = check_startup(
                    results, cfg.bilateral_table_id, cfg.tase2_versions, cfg.blocks_needed()
                )
                error = None if result.ok else "; ".join(result.problems)
            with contextlib.suppress(Exception):
                await client.conclude(cfg.request_timeout)
        finally:
            if not client.closed:
                await client.abort()
        return error

    # ------------------------------------------------------------------ reports

    def _seen(self, reports: int) -> None:
        self._rate.add(time.monotonic(), reports)
        self.link.last_report = now()

    def _on_raw_report(self, raw: bytes) -> None:
        """Unconfirmed-PDU callback (runs in the client's reader), still encoded, so that
        the common full-report shapes take the fast decoder."""
        if _MESSAGE_MARK in raw and self._message(raw):
            return
        outcome = self.ingest.handle_pdu(raw)
        self._seen(1)
        client = self._client
        if client is not None and self.ingest.wanted:
            self._want_types(client)
        if outcome.reply is not None and client is not None and not client.closed:
            task = asyncio.create_task(self._send(client, outcome.reply))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    def _message(self, raw: bytes) -> bool:
        """Put an information message on the bus; False when ``raw`` is not one."""
        try:
            pdu = decode_pdu(raw)
        except MmsDecodeError:
            return False
        if not isinstance(pdu, Unconfirmed) or not isinstance(pdu.service, InformationReport):
            return False
        report = pdu.service
        if not isinstance(report.spec, VariableList) or len(report.spec.items) != len(
            report.results
        ):
            return False  # not a message report: the report ingest decides
        try:
            message = decode_message_report(report, origin=self.name)
        except MessageDecodeError as exc:
            self.link.count("malformed_messages")
            log.warning("tase2-client %s: information message not usable: %s", self.name, exc)
            return True
        self.messages_received += 1
        self.bus.publish_message(message)
        return True

    async def _send(self, client: MmsClient, report: InformationReport) -> None:
        try:
            await client.send_information_report(report)
        except (MmsConnectionLost, AssociationError) as exc:
            log.debug("tase2-client %s: ACK/NACK not sent: %s", self.name, exc)

    # ------------------------------------------------------------------ commands

    async def on_command(self, point: PointDef, value: Value) -> None:
        """A bus command on a remote point becomes a TASE.2 Write of that point; one on a
        device point becomes the device's select (if SBO) and operate."""
        if point.id in self._devices:
            await self._operate(point, value)
            return
        slot = self._slot_of.get(point.id)
        if slot is None:
            raise CommandError(CommandFailure.UNKNOWN_POINT, f"{self.name} has no {point.id}")
        if not slot.writable:
            raise CommandError(
                CommandFailure.NOT_PERMITTED, f"{slot.name} is not writable (set writable: true)"
            )
        client = self._live_client()
        data = write_value(slot, value)
        error = await guard(str(slot.name), client.write(slot.name, data))
        if error is not None:
            raise refused(str(slot.name), error)

    def _live_client(self) -> MmsClient:
        """The client of the current association; CommandError(DEVICE_FAILURE) if none is up."""
        client = self._client
        if client is None or client.closed or not self._running:
            raise CommandError(
                CommandFailure.DEVICE_FAILURE, f"link {self.link.state} ({self.link.address})"
            )
        return client

    async def _operate(self, point: PointDef, value: Value) -> None:
        device = self._devices[point.id]
        client = self._live_client()
        raw = Binding(point).to_raw(value)  # state ON/OFF -> 1/0, else inverse usage ax+b
        name = device.object_name(self.config.domain)
        async with self._device_locks[point.id]:  # one select/operate sequence at a time
            try:
                await operate_device(
                    client,
                    name,
                    device.kind,
                    raw,
                    sbo=device.sbo,
                    check_back_id=device.check_back_id,
                )
            except DeviceError as exc:
                log.warning("tase2-client %s: operate %s=%r failed: %s", self.name, name, raw, exc)
                raise
        log.info("tase2-client %s: operated %s = %r (bus %s)", self.name, name, raw, point.id)

    # ------------------------------------------------------------------ status

    def status(self) -> dict[str, Any]:
        """Link state, address, last report, reports/s, errors, data and transfer sets."""
        link = self.link
        link.reports_per_s = self._rate.rate(time.monotonic())
        stats = self.ingest.stats
        out = link.to_dict()
        out["last_report"] = _fmt_ts(link.last_report)
        out["since"] = _fmt_ts(link.since)
        out["errors"] = {
            **link.errors,
            "unknown_reports": stats.unknown,
            "malformed_reports": stats.malformed,
            "point_errors": stats.point_errors,
        }
        out["reports"] = stats.reports
        out["points_received"] = stats.points
        out["acks"] = stats.acks
        out["nacks"] = stats.nacks
        out["transfer_sets"] = {
            str(r.name): r.status.transfer_set
            for r in self._runs
            if r.status.transfer_set is not None
        }
        out["data_sets"] = {str(r.name): r.status.to_dict() for r in self._runs}
        out["groups"] = self._group_modes()
        out["points_not_served"] = self._not_served()
        out["messages_enabled"] = self.messages_enabled
        out["messages_received"] = self.messages_received
        out["polled"] = list(self._polled)
        if self.tls is not None:
            tls = self.tls.status()
            client = self._client
            tls["session"] = client.tls_info() if client is not None else None
            out["tls"] = tls
        out["connect"] = self._connect_status()
        return out

    def _connect_status(self) -> dict[str, Any]:
        """The endpoint role: ``mode``; a passive client's listen port, caller and refusals."""
        if not self.passive:
            return {"mode": "active"}
        listener = self.listener
        return {
            "mode": "passive",
            "listen": f"{listener.host}:{listener.port}" if listener is not None else None,
            "caller": self.caller,
            "accepted": listener.accepted if listener is not None else 0,
            "refused": dict(listener.refused) if listener is not None else {},
        }
