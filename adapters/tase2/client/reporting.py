"""One planned data set of the ``tase2-client``: started, kept and stopped over an MmsClient.

:class:`DataSetRun` brings one data set's points onto the bus whatever the server does:

* it defines the data set and starts a transfer set (:mod:`~adapters.tase2.client.session`);
* when the server refuses the data set, it asks for each point's attributes, names the points
  the server lacks, and defines the set without them: the set is *degraded* and those points
  are not served;
* when the server will not define the set or run a transfer set, it deletes what it created
  and polls the points with Read instead (``polled``), said once at WARNING;
* while degraded or polled it tries again after ``retry`` seconds, doubling (up to ten times),
  and goes back to reporting when the server allows it.

Its :attr:`DataSetRun.status` is what the adapter's status shows for the set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from adapters.tase2.client.ingest import PointSlot, ReportIngest, SetLayout
from adapters.tase2.client.plan import (
    SPECIAL_MEMBERS,
    PlannedSet,
    data_set_members,
    transfer_set_value,
)
from adapters.tase2.client.session import (
    ReservedTransferSet,
    SetupError,
    define_data_set,
    delete_data_set,
    reserve_transfer_set,
    unusable_members,
    write_transfer_set,
)
from adapters.tase2.client.settings import ClientDataSet
from adapters.tase2.mms.aio.client import MmsClient, MmsRejected
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.service_error import MmsServiceError
from adapters.tase2.model.objects import DSTransferSetError
from gateway.backoff import Backoff

__all__ = ["DataSetRun", "DataSetStatus", "Poller"]

log = logging.getLogger(__name__)

Poller = Callable[[Sequence[PointSlot], float], Coroutine[Any, Any, None]]
"""Reads the given points every given seconds until cancelled (the adapter's poll loop)."""

_REFUSALS = (SetupError, MmsServiceError, MmsRejected, DSTransferSetError)


@dataclass(slots=True)
class DataSetStatus:
    """What one data set is doing: ``mode`` is ``reporting`` (a transfer set runs),
    ``polled`` (the server would not run one) or ``starting``; ``not_served`` names the
    points the server lacks, with its answer; ``reason`` says why it is not reporting."""

    group: str
    points: int
    mode: str = "starting"
    transfer_set: str | None = None
    reason: str = ""
    not_served: dict[str, str] = field(default_factory=dict)
    retries: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The status as plain data."""
        return {
            "group": self.group,
            "mode": self.mode,
            "points": self.points,
            "transfer_set": self.transfer_set,
            "reason": self.reason,
            "not_served": dict(self.not_served),
            "retries": self.retries,
        }


class DataSetRun:
    """Reporting of one planned data set over one association (see the module docstring).

    ``taken`` says which transfer sets the client's other data sets hold; ``changed`` is
    called after each retry (the set may have recovered or fallen back).
    """

    def __init__(
        self,
        client: MmsClient,
        ingest: ReportIngest,
        owner: str,
        domain: str,
        group: ClientDataSet,
        planned: PlannedSet,
        slots: Sequence[PointSlot],
        poller: Poller,
        retry: float,
        taken: Callable[[], Collection[ObjectName]] = frozenset,
        changed: Callable[[], None] = lambda: None,
    ) -> None:
        assert planned.name is not None
        self.client = client
        self.ingest = ingest
        self.owner = owner
        self.domain = domain
        self.group = group
        self.name: ObjectName = planned.name
        self.slots = tuple(slots)
        self.poller = poller
        self.taken = taken
        self.changed = changed
        self.backoff = Backoff(retry, retry * 10)
        self.status = DataSetStatus(group.name, len(slots))
        self._layout: SetLayout | None = None
        self._reserved: ReservedTransferSet | None = None
        self._poll: asyncio.Task[None] | None = None
        self._defined = False
        self._said_missing: frozenset[ObjectName] = frozenset()

    @property
    def settled(self) -> bool:
        """True when every point is reported by a transfer set (nothing to retry)."""
        return self.status.mode == "reporting" and not self.status.not_served

    @property
    def transfer_set(self) -> ObjectName | None:
        """The transfer set this run holds (reserved, starting or running)."""
        return None if self._reserved is None else self._reserved.name

    @property
    def poll_interval(self) -> float:
        """How often the points are read while the set is polled instead."""
        return float(self.group.interval or self.group.integrity or 10)

    # ------------------------------------------------------------------ starting

    async def start(self) -> None:
        """Start reporting (or, refused, polling); raises only for link trouble."""
        served = list(self.slots)
        status = self.status
        status.not_served = {}
        try:
            served = await self._define(served)
            layout = SetLayout(self.name, (*SPECIAL_MEMBERS, *served), critical=self.group.critical)
            self._layout = layout
            self.ingest.add_layout(layout)
            reserved = await reserve_transfer_set(self.client, self.domain, self.taken())
            self._reserved = reserved  # from here on, stop() stops it (even if cancelled)
            self.ingest.bind(layout, reserved.name)
            kept = await write_transfer_set(
                self.client, reserved, transfer_set_value(self.group, self.name)
            )
        except _REFUSALS as exc:
            self._reserved = None
            await self._undo()
            self._fall_back(served, str(exc))
            return
        self._stop_polling()
        status.mode, status.transfer_set, status.reason = "reporting", str(reserved.name), ""
        if kept:
            status.reason = "the server kept its own " + ", ".join(kept)
            log.info("tase2-client %s: %s runs; %s", self.owner, reserved.name, status.reason)
        log.debug("tase2-client %s: %s reports %s", self.owner, reserved.name, self.name)

    async def _define(self, served: list[PointSlot]) -> list[PointSlot]:
        """Define the data set; refused, define it without the points the server lacks."""
        try:
            await define_data_set(self.client, self.name, self.members(served))
            self._defined = True
            return served
        except SetupError as exc:
            refusal = exc
        missing = await unusable_members(self.client, [s.name for s in served])
        if not missing:
            if len(served) > 32:
                raise SetupError(
                    f"{refusal}, every point exists: a server limit on data-set members? "
                    "(set max_points_per_data_set lower)"
                )
            raise refusal
        self.status.not_served = {str(n): why for n, why in missing.items()}
        served = [s for s in served if s.name not in missing]
        names = ", ".join(list(self.status.not_served)[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        said, self._said_missing = self._said_missing, frozenset(missing)
        log.log(
            logging.DEBUG if said == self._said_missing else logging.WARNING,
            "tase2-client %s: data set %s refused (%s): the server lacks %d of its %d points "
            "(%s%s); %s",
            self.owner,
            self.name,
            refusal,
            len(missing),
            len(self.slots),
            names,
            more,
            "defining it without them" if served else "nothing left to define",
        )
        if not served:
            raise SetupError(f"the server has none of the {len(self.slots)} points")
        await define_data_set(self.client, self.name, self.members(served))
        self._defined = True
        return served

    def members(self, served: Sequence[PointSlot]) -> list[ObjectName]:
        """The data set's members: the special variables, then the points."""
        return list(data_set_members(self.domain, [s.name for s in served]))

    def _fall_back(self, served: Sequence[PointSlot], reason: str) -> None:
        """Poll ``served`` instead of reporting them; said once at WARNING."""
        status = self.status
        first = status.mode != "polled"
        status.mode, status.transfer_set, status.reason = "polled", None, reason
        if first:
            log.warning(
                "tase2-client %s: %s (%d points) not reported by a transfer set (%s); "
                "polling it every %gs instead, retrying in %gs",
                self.owner,
                self.name,
                len(served),
                reason,
                self.poll_interval,
                self.backoff.initial,
            )
        if served and (self._poll is None or self._poll.done()):
            self._poll = asyncio.create_task(self.poller(served, self.poll_interval))

    def _stop_polling(self) -> None:
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None

    # ------------------------------------------------------------------ keeping

    async def keep(self) -> None:
        """Retry with back-off until every point is reported; raises for link trouble
        (also a failing poll loop's)."""
        failures = 0
        while not self.settled:
            failures += 1
            await self._wait(self.backoff.delay(failures))
            self.status.retries += 1
            if self.status.mode == "reporting":
                missing = [s.name for s in self.slots if str(s.name) in self.status.not_served]
                still = await unusable_members(self.client, missing)
                if len(still) == len(missing):
                    continue
                await self.stop()
            await self.start()
            self.changed()
            if self.status.mode == "reporting" and not self.status.not_served:
                log.info(
                    "tase2-client %s: %s now reported by %s (all %d points)",
                    self.owner,
                    self.name,
                    self.status.transfer_set,
                    len(self.slots),
                )

    async def _wait(self, seconds: float) -> None:
        """Sleep ``seconds``; a poll loop that fails meanwhile raises here."""
        poll = self._poll
        if poll is None:
            await asyncio.sleep(seconds)
            return
        done, _ = await asyncio.wait({poll}, timeout=seconds)
        if poll in done:
            self._poll = None
            poll.result()

    # ------------------------------------------------------------------ stopping

    async def stop(self) -> None:
        """Stop the transfer set and delete the data set (best effort, never raises)."""
        self._stop_polling()
        reserved, self._reserved = self._reserved, None
        if reserved is not None and not self.client.closed:
            try:
                off = replace(transfer_set_value(self.group, self.name), status=False)
                await write_transfer_set(self.client, reserved, off)
            except (*_REFUSALS, TimeoutError, ConnectionError):
                pass
        await self._undo()

    async def _undo(self) -> None:
        """Forget and delete the data set (after a failed start, or when stopping)."""
        if self._layout is not None:
            self.ingest.remove_layout(self._layout)
            self._layout = None
        if self._defined:
            self._defined = False
            await delete_data_set(self.client, self.name)

    def cancel(self) -> None:
        """Stop polling (the association is gone)."""
        self._stop_polling()
