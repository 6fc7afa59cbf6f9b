"""The server's Block 4 and Block 5 services: thin glue between MMS requests, the sans-IO
device state machine (:mod:`adapters.tase2.model.devices`), the message codec
(:mod:`adapters.tase2.model.messages`), the application's command path and the audit log.

:class:`ServerControls` answers

* Reads of ``Dev_SBO`` (select), ``Dev_TAG`` (get tag) and ``Dev`` (read-back of its status
  point, if it has one);
* Writes of ``Dev`` (operate: a bus command to the device's point, answered with the
  owner's real outcome) and ``Dev_TAG`` (set tag);
* Reads and Writes of the association-specific ``IM_Transfer_Set``;

and encodes information messages for the associations that enabled them. Every control
attempt (select, operate, set tag) is written as one line to the ``adapters.tase2.audit``
logger, with the details as ``extra`` fields (``--log-format json`` carries them), and
given to :attr:`ServerControls.record` (the adapter binds it to the gateway's audit log):
selects, tag changes and every refusal, and each Write of a point a bilateral table refused
(:meth:`ServerControls.refused_write`). An operate that reaches the bus is recorded there,
with the owner's outcome, as a command.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adapters.tase2.asn1.ber import code_name
from adapters.tase2.mms.data import AccessResult, Boolean, Data, DataAccessError, Integer
from adapters.tase2.mms.pdu import Unconfirmed, encode_pdu
from adapters.tase2.model.devices import Refusal, encode_tag
from adapters.tase2.model.messages import (
    DEFAULT_BUFFER_SIZE,
    encode_message_report,
    im_transfer_value,
)
from adapters.tase2.server.device_control import (
    DeviceControl,
    DeviceObject,
    DeviceRole,
    TagStore,
    bus_value,
    read_back,
)
from gateway.messages import Message
from gateway.points import PointKind, PointValue

__all__ = ["AUDIT_LOGGER", "PeerInfo", "ServerControls"]

AUDIT_LOGGER = "adapters.tase2.audit"
audit_log = logging.getLogger(AUDIT_LOGGER)

Command = Callable[[str, float | int, str], Awaitable[DataAccessError | None]]
Recorder = Callable[[str, str, str, Any, str, str], None]
"""An audit event: kind, origin, target, value, outcome (``ok`` or why not), detail."""


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """Who is asking: the association, its bilateral table and how it called."""

    association: Hashable
    table_id: str
    ap_title: str | None
    ae_qualifier: int | None
    address: str

    @property
    def label(self) -> str:
        """``AP-title/AE@address`` for log lines."""
        return f"{self.ap_title}/{self.ae_qualifier}@{self.address}"


def _outcome(error: DataAccessError | None) -> str:
    return "success" if error is None else code_name(error)


class ServerControls:
    """Device control and information-message state of one server (see module docstring).

    ``kinds`` and ``current`` give point kinds and values; ``command`` applies a bus
    command and returns None or the DataAccessError to answer. ``clock`` is monotonic
    (select time-outs), ``wall_clock`` POSIX time (for audit lines). ``tag_store`` saves
    tag changes durably (see :class:`~adapters.tase2.server.device_control.DeviceControl`).
    """

    def __init__(
        self,
        kinds: Callable[[], Mapping[str, PointKind]],
        current: Callable[[str], PointValue | None],
        command: Command,
        *,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        tag_store: TagStore | None = None,
    ) -> None:
        self.devices = DeviceControl(tag_store)
        self._kinds = kinds
        self._current = current
        self._command = command
        self._clock = clock
        self._wall_clock = wall_clock
        self.buffer_size = buffer_size
        self._im_enabled: set[Hashable] = set()
        self.operates = 0
        self.messages_sent = 0
        self.record: Recorder | None = None
        """Where control events go besides the log (the gateway's audit log)."""

    # ------------------------------------------------------------------ audit

    def _audit_time(self) -> str:
        return datetime.fromtimestamp(self._wall_clock(), UTC).isoformat(timespec="milliseconds")

    def _audit(
        self,
        action: str,
        peer: PeerInfo,
        obj: DeviceObject,
        value: Any,
        error: DataAccessError | None,
        detail: str = "",
        *,
        on_bus: bool = False,
    ) -> None:
        rule = obj.rule
        outcome = _outcome(error)
        if self.record is not None and not on_bus:
            kind = {"set-tag": "tag"}.get(action, action)
            kind = kind if error is None else f"{kind} refused"
            why = f"device {rule.name}" + (f": {detail}" if detail else "")
            origin = f"tase2:{peer.table_id}:{peer.address}:{rule.name}"
            self.record(kind, origin, rule.point, value, "ok" if error is None else outcome, why)
        audit_log.log(
            logging.INFO if error is None else logging.WARNING,
            "%s device=%s value=%s outcome=%s peer=%s table=%s point=%s%s",
            action,
            rule.name,
            value,
            outcome,
            peer.label,
            peer.table_id,
            rule.point,
            f" detail={detail!r}" if detail else "",
            extra={
                "audit": action,
                "device": rule.name,
                "point": rule.point,
                "value": value,
                "outcome": outcome,
                "detail": detail,
                "peer_ap_title": peer.ap_title,
                "peer_ae_qualifier": peer.ae_qualifier,
                "peer_address": peer.address,
                "table": peer.table_id,
                "time": self._audit_time(),
            },
        )

    # ------------------------------------------------------------------ devices

    def read(self, peer: PeerInfo, obj: DeviceObject) -> AccessResult:
        """A Read of a device object: select (``_SBO``), get tag (``_TAG``) or read-back."""
        rule = obj.rule
        if obj.role is DeviceRole.SBO:
            if not rule.operate:
                self._audit("select", peer, obj, None, DataAccessError.OBJECT_ACCESS_DENIED)
                return DataAccessError.OBJECT_ACCESS_DENIED
            got = self.devices.select(rule, peer.association, self._clock())
            if isinstance(got, Refusal):
                self._audit("select", peer, obj, None, got.error, got.reason)
                return got.error
            self._audit("select", peer, obj, None, None, f"check-back {got}")
            return Integer(got)
        if obj.role is DeviceRole.TAG:
            if not rule.get_tag:
                return DataAccessError.OBJECT_ACCESS_DENIED
            return encode_tag(self.devices.tag(rule, self._clock()))
        if rule.status_point is None:
            return DataAccessError.OBJECT_ACCESS_DENIED  # a control object is written only
        pv = self._current(rule.status_point)
        if pv is None:
            return DataAccessError.TEMPORARILY_UNAVAILABLE
        return read_back(rule.kind, pv)

    async def write(self, peer: PeerInfo, obj: DeviceObject, data: Data) -> DataAccessError | None:
        """A Write of a device object: operate (``Dev``) or set tag (``_TAG``)."""
        if obj.role is DeviceRole.TAG:
            return self._set_tag(peer, obj, data)
        if obj.role is DeviceRole.SBO:
            return DataAccessError.OBJECT_ACCESS_DENIED  # select is a Read
        return await self._operate(peer, obj, data)

    def _set_tag(self, peer: PeerInfo, obj: DeviceObject, data: Data) -> DataAccessError | None:
        rule = obj.rule
        shown = _data_text(data)
        if not rule.set_tag:
            self._audit("set-tag", peer, obj, shown, DataAccessError.OBJECT_ACCESS_DENIED)
            return DataAccessError.OBJECT_ACCESS_DENIED
        refused = self.devices.set_tag(rule, peer.table_id, data, self._clock())
        if refused is not None:
            self._audit("set-tag", peer, obj, shown, refused.error, refused.reason)
            return refused.error
        self._audit("set-tag", peer, obj, shown, None)
        return None

    async def _operate(
        self, peer: PeerInfo, obj: DeviceObject, data: Data
    ) -> DataAccessError | None:
        rule = obj.rule
        shown = _data_text(data)
        if not rule.operate:
            self._audit("operate", peer, obj, shown, DataAccessError.OBJECT_ACCESS_DENIED)
            return DataAccessError.OBJECT_ACCESS_DENIED
        order = self.devices.begin_operate(rule, peer.association, data, self._clock())
        if isinstance(order, Refusal):
            self._audit("operate", peer, obj, shown, order.error, order.reason)
            return order.error
        self.operates += 1
        try:
            kind = self._kinds().get(rule.point)
            if kind is None:
                error: DataAccessError | None = DataAccessError.OBJECT_NON_EXISTENT
                detail = f"point {rule.point} is not on the bus"
            else:
                value = bus_value(rule.kind, kind, order.value)
                origin = f"tase2:{peer.table_id}:{peer.address}:{rule.name}"
                error = await self._command(rule.point, value, origin)
                detail = f"bus value {value!r}"
        finally:
            self.devices.end_operate(rule)
        self._audit("operate", peer, obj, shown, error, detail, on_bus=kind is not None)
        return error

    def refused_write(
        self, peer: PeerInfo, name: str, point: str, data: Data, error: DataAccessError
    ) -> None:
        """A Write of ``name`` (bus point ``point``, "" when none) the table refused."""
        if self.record is not None:
            self.record(
                "write refused",
                f"tase2:{peer.table_id}:{peer.address}",
                point or name,
                _data_text(data),
                code_name(error),
                f"{name}: refused by bilateral table {peer.table_id}",
            )

    # ------------------------------------------------------------------ Block 4

    def im_enabled(self, association: Hashable) -> bool:
        """Whether ``association`` asked for information messages."""
        return association in self._im_enabled

    def read_im(self, peer: PeerInfo, allowed: bool) -> AccessResult:
        """A Read of ``IM_Transfer_Set``."""
        if not allowed:
            return DataAccessError.OBJECT_ACCESS_DENIED
        return Boolean(peer.association in self._im_enabled)

    def write_im(self, peer: PeerInfo, allowed: bool, data: Data) -> DataAccessError | None:
        """A Write of ``IM_Transfer_Set``: enable (TRUE) or disable (FALSE) messages."""
        if not allowed:
            return DataAccessError.OBJECT_ACCESS_DENIED
        on = im_transfer_value(data)
        if isinstance(on, DataAccessError):
            return on
        was = peer.association in self._im_enabled
        if on:
            self._im_enabled.add(peer.association)
        else:
            self._im_enabled.discard(peer.association)
        if on != was:
            logging.getLogger(__name__).info(
                "information messages %s for %s (table %s)",
                "enabled" if on else "disabled",
                peer.label,
                peer.table_id,
            )
        return None

    def message_pdu(self, message: Message, domain: str) -> bytes:
        """The encoded unconfirmed PDU carrying ``message`` into ``domain``."""
        report = encode_message_report(message, domain, self.buffer_size)
        return encode_pdu(Unconfirmed(report))

    # ------------------------------------------------------------------ life cycle

    def association_ended(self, peer: PeerInfo) -> list[str]:
        """Forget the association: disarm its selections, stop its messages."""
        self._im_enabled.discard(peer.association)
        disarmed = self.devices.association_ended(peer.association)
        for point in disarmed:
            audit_log.info(
                "disarm point=%s outcome=association-ended peer=%s table=%s",
                point,
                peer.label,
                peer.table_id,
                extra={
                    "audit": "disarm",
                    "point": point,
                    "outcome": "association-ended",
                    "peer_ap_title": peer.ap_title,
                    "peer_ae_qualifier": peer.ae_qualifier,
                    "peer_address": peer.address,
                    "table": peer.table_id,
                    "time": self._audit_time(),
                },
            )
        return disarmed


def _data_text(data: Data) -> Any:
    """A short JSON-friendly form of a written value for the audit line."""
    value = getattr(data, "value", None)
    if isinstance(value, bool | int | float | str):
        return value
    items = getattr(data, "items", None)
    if isinstance(items, tuple):
        return [_data_text(d) for d in items]
    raw = getattr(data, "data", None)
    if isinstance(raw, bytes):
        return raw.hex()
    return type(data).__name__
