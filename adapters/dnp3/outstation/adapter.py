"""The `dnp3-outstation` adapter: serves bus points to a SCADA master over DNP3 (IEEE 1815).

Static values are the bus's latest values; every bus change of a served point with an event
class becomes an event with the bus time stamp; flags come from the bus quality
(`adapters.dnp3.flags.flags_of`), so a value that is not valid is never served as good. A
CROB or analog output on a writable output point becomes `bus.command`, and the master gets
the owner's real outcome as the control status (see `controls` for how py1815's synchronous
control provider answers with it). The DNP3 session is py1815's sans-IO `Session`; the
listener is ours (`shell`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from py1815.control import CommandStatus
from py1815.events import EventBuffers
from py1815.objects import AnalogEventVariation
from py1815.session import Session

from adapters.base import Adapter
from adapters.dnp3.flags import status_of_failure
from adapters.dnp3.outstation.controls import ControlGate, FragmentWatch, Work
from adapters.dnp3.outstation.database import ServedDatabase
from adapters.dnp3.outstation.settings import Dnp3OutstationSettings, ServedPoint
from adapters.dnp3.outstation.shell import OutstationShell
from gateway.bus import PointBus, Subscription
from gateway.logs import Throttle
from gateway.points import PointKind
from gateway.registry import AdapterSettings

log = logging.getLogger(__name__)


class RepeatFilter(logging.Filter):
    """Thins out a warning that py1815 repeats: its session writes one per frame it drops
    (a master polling under a wrong address makes a line per poll). Each warning, told
    apart by its format string, passes at its 1st, 2nd, 4th, 8th... occurrence, with the
    count; lines below WARNING (off unless someone asked for them) all pass."""

    def __init__(self) -> None:
        super().__init__()
        self._throttle = Throttle(max_kinds=64)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        n = self._throttle.count(str(record.msg))
        if n > 1 and not record.args:
            record.msg = f"{record.msg} ({n} times)"
        elif n > 1 and isinstance(record.args, tuple):
            record.msg = f"{record.msg} (%d times)"
            record.args = (*record.args, n)
        return n > 0


PY1815_SESSION_LOG = "py1815.session"
"""The logger py1815's session writes to (a filter acts on its own logger's records only)."""

_repeats = RepeatFilter()


def quiet_py1815_log() -> None:
    """Keep py1815's session to warnings unless someone configured its logger: it writes a
    line at INFO for every unsolicited response and every held read; and thin out its
    warnings repeated frame after frame (`RepeatFilter`, installed once per process)."""
    logger = logging.getLogger("py1815")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)
    session_log = logging.getLogger(PY1815_SESSION_LOG)
    if _repeats not in session_log.filters:
        session_log.addFilter(_repeats)


SELECT_MARGIN = 5.0
"""Seconds the session's own select time-out exceeds the gate's, so that the session never
refuses on time an operate the gate has already executed."""


class Dnp3OutstationAdapter(Adapter):
    """Serves bus points to a DNP3 master; its controls become bus commands."""

    type_name = "dnp3-outstation"
    Settings = Dnp3OutstationSettings
    listens = True
    settings: Dnp3OutstationSettings

    def __init__(self, name: str, settings: AdapterSettings, bus: PointBus) -> None:
        super().__init__(name, settings, bus)
        quiet_py1815_log()
        s = self.settings
        self.events = EventBuffers(capacity=s.event_buffer)
        self.database = ServedDatabase(s.served, self.events)
        self.gate = ControlGate(
            self.database,
            kind_of=self._kind,
            routable=lambda point: point in self.bus,
            clock=time.monotonic,
            select_timeout=s.select_timeout,
            max_response=s.max_fragment,
        )
        self.session = Session(
            self.database,
            control_provider=self.gate,
            events=self.events,
            outstation_address=s.outstation_address,
            master_address=s.master_address,
            max_fragment=s.max_fragment,
            max_response=s.max_fragment,
            select_timeout=s.select_timeout + s.command_timeout + SELECT_MARGIN,
            analog_event_variation=AnalogEventVariation(s.analog_event_variation),
            unsolicited=s.unsolicited,
        )
        self.shell: OutstationShell | None = None
        self._sub: Subscription | None = None

    def _kind(self, point: str) -> PointKind:
        """The point's kind on the bus (real while it is not registered)."""
        return self.bus.definition(point).kind if point in self.bus else PointKind.REAL

    async def _execute(self, work: Work, timeout: float) -> CommandStatus:
        result = await self.bus.command(
            work.point, work.value, timeout=timeout, origin=f"{self.name} (dnp3)"
        )
        return status_of_failure(result.failure)

    def reconfigure(self, settings: AdapterSettings) -> bool:
        """Points change in place (the master stays connected); the listener, the addresses
        and the session settings need a restart. The new points are served from the next
        frame on: a control in progress is answered first, under the points it came for."""
        assert isinstance(settings, Dnp3OutstationSettings)
        if settings.session_key() != self.settings.session_key():
            return False
        changed = settings.served != self.settings.served
        self.settings = settings
        if changed:
            served = settings.served
            if self.shell is None:
                self._reload(served)
            else:
                self.shell.apply(lambda: self._reload(served))
        return True

    def _reload(self, served: list[ServedPoint]) -> None:
        """Serve these points: a select granted under the old ones is void, in the session
        and in the gate alike; a retry of the request that acted is still not acted on."""
        self.database.reload(served)
        self.session.abandon_select()
        self.gate.abandon_select()
        if self._sub is not None:
            self._sub.close()
            self._sub = self._subscribe()

    def _subscribe(self) -> Subscription:
        points = self.database.points
        sub = self.bus.subscribe(points, every=True, name=self.name)
        present = [p for p in points if p in self.bus]
        for pv in self.bus.snapshot(present).values():
            self.database.prime(pv, self._kind(pv.point))
        return sub

    async def run(self) -> None:
        s = self.settings
        shell = OutstationShell(
            self.session,
            self.gate,
            FragmentWatch(s.outstation_address, s.master_address, s.max_fragment),
            self._execute,
            host=s.host,
            port=s.port,
            command_timeout=s.command_timeout,
            idle_timeout=s.idle_timeout,
            unsolicited=s.unsolicited,
            name=self.name,
        )
        await shell.start()
        self.shell = shell
        self._sub = self._subscribe()
        self.listening()
        log.info("dnp3 outstation %s listening on %s:%d", self.name, s.host, shell.port)
        try:
            while True:
                sub = self._sub
                recorded = 0
                for pv in await sub.wait(timeout=1.0):
                    recorded += self.database.apply(pv, self._kind(pv.point))
                if recorded:
                    shell.notify()
        finally:
            if self._sub is not None:
                self._sub.close()
                self._sub = None
            await shell.stop()

    def status(self) -> dict[str, Any]:
        shell = self.shell
        return {
            "points": len(self.settings.served),
            "connected": shell is not None and shell.connected,
            "connections": 0 if shell is None else shell.connections,
            "events_recorded": self.database.recorded,
            "events_buffered": self.events.total,
            "selects": self.gate.selects,
            "controls": self.gate.operates,
            "refused_controls": self.gate.refused,
        }


__all__ = ["Dnp3OutstationAdapter"]
