"""Block 5 on the server side, sans-IO: the devices of a bilateral table and their state.

Configuration: a :class:`DeviceRule` in a bilateral table names a device object ``Dev``
(ICC or VCC scope), its kind, the bus point an operate commands, optionally a status point
read back through ``Dev``, select-before-operate with its check-back id and select
time-out, whether it can be tagged, and the peer's rights (operate, get-tag, set-tag).

:func:`compile_devices` gives the MMS objects of one table's devices (``Dev``,
``Dev_SBO``, ``Dev_TAG``) with their exact types. :class:`DeviceControl` holds the state of
every physical device (keyed by its bus point, so two tables offering the same device share
its selection and tag) and decides, with the time passed in:

* :meth:`DeviceControl.select` - arm for one association, return the check-back id;
* :meth:`DeviceControl.begin_operate` / :meth:`DeviceControl.end_operate` - check an
  operate (value, selection by the same association within the time-out, tag interlocks,
  busy), consume the selection, and mark the device busy while the bus command runs;
* :meth:`DeviceControl.tag` / :meth:`DeviceControl.set_tag` - TagValue get and set (a tag
  set by one peer is changed only by that peer; never while armed or operating);
* :meth:`DeviceControl.association_ended` - disarm what the association had selected.

Tags are safety state: with a :class:`TagStore` (injected; the adapter binds it to the
gateway's state store, :mod:`gateway.state`) every tag change is saved before
:meth:`DeviceControl.set_tag` accepts it, and :meth:`DeviceControl.restore_tags` puts the
saved tags back at start-up. Selections are never saved: a restart disarms every device.

Refusals come back as :class:`~adapters.tase2.model.devices.Refusal`; nothing here raises
on bad input or changes state when it refuses.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters.tase2.errors import LocalError
from adapters.tase2.mms.data import (
    Data,
    DataAccessError,
    Float32,
    Integer,
)
from adapters.tase2.mms.names import ObjectName, is_valid_identifier
from adapters.tase2.mms.types import (
    TypeSpecification,
)
from adapters.tase2.model.devices import (
    CHECK_BACK_TYPE,
    INT16_MAX,
    INT16_MIN,
    MAX_DEVICE_NAME,
    SBO_SUFFIX,
    TAG_SUFFIX,
    TAG_TYPE,
    DeviceKind,
    Refusal,
    TagState,
    TagValue,
    decode_tag,
    device_type,
    operate_value,
)
from gateway.points import PointKind, PointValue, State

__all__ = [
    "DeviceControl",
    "DeviceObject",
    "DeviceRole",
    "DeviceRule",
    "OperateOrder",
    "StoredTag",
    "TagStore",
    "bus_value",
    "compile_devices",
    "read_back",
]


class DeviceRule(BaseModel):
    """One device of a bilateral table (YAML ``devices:`` entry).

    ``name`` is the device object's MMS name (``_SBO`` and ``_TAG`` are appended for its
    select and tag objects), ``point`` the bus point an operate commands, ``status_point``
    an optional point whose value a Read of the device object returns. ``sbo`` makes it a
    select-before-operate device: ``Dev_SBO`` returns ``check_back_id`` and arms it for
    ``select_timeout`` seconds. ``taggable`` adds ``Dev_TAG``. ``operate``, ``get_tag`` and
    ``set_tag`` are this peer's rights (a device the peer has no right on is hidden).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    point: str = Field(min_length=1)
    kind: DeviceKind = DeviceKind.COMMAND
    status_point: str | None = None
    sbo: bool = False
    check_back_id: int = Field(default=0, ge=INT16_MIN, le=INT16_MAX)
    select_timeout: float = Field(default=10.0, gt=0, le=3600)
    taggable: bool = False
    scope: Literal["icc", "vcc"] = "icc"
    operate: bool = False
    get_tag: bool = False
    set_tag: bool = False

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not is_valid_identifier(value, MAX_DEVICE_NAME):
            raise ValueError(
                f"device name {value!r} must be an MMS identifier of at most "
                f"{MAX_DEVICE_NAME} characters (room for _SBO/_TAG)"
            )
        return value

    def object_name(self, domain: str, suffix: str = "") -> ObjectName:
        """The MMS name of the device object (or of its ``_SBO``/``_TAG`` object)."""
        item = self.name + suffix
        return ObjectName.dom(domain, item) if self.scope == "icc" else ObjectName.vmd(item)

    @property
    def visible(self) -> bool:
        """Whether the peer sees the device at all."""
        return self.operate or (self.taggable and (self.get_tag or self.set_tag))


class DeviceRole(enum.Enum):
    """Which of a device's MMS objects a name designates."""

    DEVICE = "device"
    SBO = "sbo"
    TAG = "tag"


@dataclass(frozen=True, slots=True)
class DeviceObject:
    """One MMS object of a device, as a peer's table shows it."""

    rule: DeviceRule
    role: DeviceRole

    @property
    def type(self) -> TypeSpecification:
        """Its exact MMS type (for GetVariableAccessAttributes)."""
        if self.role is DeviceRole.SBO:
            return CHECK_BACK_TYPE
        if self.role is DeviceRole.TAG:
            return TAG_TYPE
        return device_type(self.rule.kind)


def compile_devices(rules: Iterable[DeviceRule], domain: str) -> dict[ObjectName, DeviceObject]:
    """The MMS objects of ``rules`` in ``domain`` that the peer may see.

    Raises ValueError when two objects would have the same name.
    """
    out: dict[ObjectName, DeviceObject] = {}
    for rule in rules:
        if not rule.visible:
            continue
        objects = [(DeviceRole.DEVICE, "")]
        if rule.sbo and rule.operate:
            objects.append((DeviceRole.SBO, SBO_SUFFIX))
        if rule.taggable and (rule.get_tag or rule.set_tag):
            objects.append((DeviceRole.TAG, TAG_SUFFIX))
        for role, suffix in objects:
            name = rule.object_name(domain, suffix)
            if name in out:
                raise ValueError(f"device object {name} is defined twice")
            out[name] = DeviceObject(rule, role)
    return out


def bus_value(kind: DeviceKind, point_kind: PointKind, value: float | int) -> float | int:
    """The bus command value of an operate: a command on a state point is the TASE.2 state
    (0 -> OFF/open/trip, 1 -> ON/closed); anything else goes as the number written."""
    if kind is DeviceKind.COMMAND and point_kind is PointKind.STATE:
        return int(State.ON if value else State.OFF)
    if point_kind is PointKind.DISCRETE:
        return round(value)
    return value


def read_back(kind: DeviceKind, pv: PointValue) -> Data:
    """A device object's Read value from its status point (commands: 1 when on/closed)."""
    if kind is DeviceKind.SETPOINT_REAL:
        return Float32(float(pv.value))
    if kind is DeviceKind.COMMAND:
        return Integer(1 if int(pv.value) == State.ON else 0)
    return Integer(max(INT16_MIN, min(INT16_MAX, round(pv.value))))


# --------------------------------------------------------------------------- state machine


@dataclass(frozen=True, slots=True)
class OperateOrder:
    """An operate that passed every check: command ``value`` to ``point``, then call
    :meth:`DeviceControl.end_operate`."""

    point: str
    value: float | int
    selected: bool


@dataclass(frozen=True, slots=True)
class StoredTag:
    """A device's tag as the state store keeps it: the tag and the peer (bilateral table)
    that set it, None when it was set locally."""

    point: str
    tag: TagValue
    owner: str | None


class TagStore(Protocol):
    """Where tag changes are saved durably (see the module docstring)."""

    def save_tag(self, stored: StoredTag) -> None:
        """Save ``stored`` (a tag state of NONE forgets the device's tag); raise
        :class:`~adapters.tase2.errors.LocalError` when it could not be saved."""
        ...


@dataclass(slots=True)
class _Device:
    armed_by: Hashable | None = None
    armed_until: float = 0.0
    busy: bool = False
    tag: TagValue = field(default_factory=TagValue)
    tag_owner: str | None = None


class DeviceControl:
    """Selection, operate and tag state of every device (see the module docstring).

    ``association`` arguments are any hashable identity of an association; ``peer`` names a
    peer (its bilateral table) for tag ownership. ``tag_store`` saves every tag change
    before it is accepted (none: tags live in memory only).
    """

    def __init__(self, tag_store: TagStore | None = None) -> None:
        self._devices: dict[str, _Device] = {}
        self.tag_store = tag_store

    def restore_tags(self, tags: Iterable[StoredTag]) -> int:
        """Put saved tags back (at start-up, before any association); returns how many."""
        n = 0
        for stored in tags:
            if stored.tag.state is TagState.NONE:
                continue
            state = self._devices.get(stored.point)
            if state is None:
                state = self._devices[stored.point] = _Device()
            state.tag = TagValue(stored.tag.state, stored.tag.reason)
            state.tag_owner = stored.owner
            n += 1
        return n

    def _state(self, rule: DeviceRule) -> _Device:
        state = self._devices.get(rule.point)
        if state is None:
            state = self._devices[rule.point] = _Device()
        return state

    @staticmethod
    def _armed(state: _Device, now: float) -> bool:
        if state.armed_by is not None and now >= state.armed_until:
            state.armed_by = None  # the select time-out passed: disarm
        return state.armed_by is not None

    def armed_by(self, rule: DeviceRule, now: float) -> Hashable | None:
        """The association that has the device selected now, if any."""
        state = self._state(rule)
        return state.armed_by if self._armed(state, now) else None

    def select(self, rule: DeviceRule, association: Hashable, now: float) -> int | Refusal:
        """A Read of ``Dev_SBO``: arm the device for ``association``; the check-back id.

        Refused when the device takes no select, is operating (hardware-fault, as SISCO),
        is selected by another association or tagged open-and-close inhibit
        (temporarily-unavailable). A second select by the same association restarts the
        time-out.
        """
        if not rule.sbo:
            return Refusal(DataAccessError.OBJECT_NON_EXISTENT, "no select-before-operate device")
        state = self._state(rule)
        if state.busy:
            return Refusal(DataAccessError.HARDWARE_FAULT, "device is operating")
        if self._armed(state, now) and state.armed_by != association:
            return Refusal(DataAccessError.TEMPORARILY_UNAVAILABLE, "selected by another peer")
        if state.tag.state in (TagState.OPEN_AND_CLOSE_INHIBIT, TagState.INVALID):
            return Refusal(
                DataAccessError.TEMPORARILY_UNAVAILABLE, f"tagged {state.tag.state.name.lower()}"
            )
        state.armed_by = association
        state.armed_until = now + rule.select_timeout
        return rule.check_back_id

    def begin_operate(
        self, rule: DeviceRule, association: Hashable, data: Data, now: float
    ) -> OperateOrder | Refusal:
        """A Write of ``Dev``: check it and, when it may go, mark the device busy.

        Checks in order: the value (type-inconsistent / object-value-invalid); for a
        select-before-operate device, a selection by this association within its time-out
        (else temporarily-unavailable; a passing operate consumes the selection whatever
        happens next); the tag (open-and-close inhibit blocks every operate, close-only
        inhibit a command of 1); busy (temporarily-unavailable).
        """
        value = operate_value(rule.kind, data)
        if isinstance(value, Refusal):
            return value
        state = self._state(rule)
        armed = self._armed(state, now)
        if rule.sbo:
            if not armed:
                return Refusal(
                    DataAccessError.TEMPORARILY_UNAVAILABLE, "not selected (or select timed out)"
                )
            if state.armed_by != association:
                return Refusal(DataAccessError.TEMPORARILY_UNAVAILABLE, "selected by another peer")
            state.armed_by = None
        elif armed:
            return Refusal(DataAccessError.TEMPORARILY_UNAVAILABLE, "selected by another peer")
        tag = state.tag.state
        if tag in (TagState.OPEN_AND_CLOSE_INHIBIT, TagState.INVALID):
            return Refusal(DataAccessError.TEMPORARILY_UNAVAILABLE, f"tagged {tag.name.lower()}")
        if tag is TagState.CLOSE_ONLY_INHIBIT and rule.kind is DeviceKind.COMMAND and value == 1:
            return Refusal(DataAccessError.TEMPORARILY_UNAVAILABLE, "tagged close-only inhibit")
        if state.busy:
            return Refusal(DataAccessError.TEMPORARILY_UNAVAILABLE, "a previous operate is running")
        state.busy = True
        return OperateOrder(rule.point, value, rule.sbo)

    def end_operate(self, rule: DeviceRule) -> None:
        """The bus command of an operate finished (whatever its outcome)."""
        self._state(rule).busy = False

    def tag(self, rule: DeviceRule, now: float) -> TagValue:
        """The device's TagValue, with the armed flag as of ``now``."""
        state = self._state(rule)
        armed = self._armed(state, now) or state.busy
        return TagValue(state.tag.state, state.tag.reason, armed)

    def tag_owner(self, rule: DeviceRule) -> str | None:
        """The peer that set the current tag (None when untagged or set locally)."""
        return self._state(rule).tag_owner

    def set_tag(self, rule: DeviceRule, peer: str | None, data: Data, now: float) -> Refusal | None:
        """A Write of ``Dev_TAG`` by ``peer`` (None: local operator, who may change any tag).

        Refused while the device is armed or operating (temporarily-unavailable), when the
        tag was set by another peer (object-access-denied), for a malformed or invalid
        value, or when the tag store cannot save it (hardware-fault; the tag is unchanged).
        """
        tag = decode_tag(data)
        if isinstance(tag, Refusal):
            return tag
        if tag.state is TagState.INVALID:
            return Refusal(DataAccessError.OBJECT_VALUE_INVALID, "tag state 3 is invalid")
        state = self._state(rule)
        if self._armed(state, now) or state.busy:
            return Refusal(DataAccessError.TEMPORARILY_UNAVAILABLE, "device is armed or operating")
        owner = state.tag_owner
        if (
            peer is not None
            and state.tag.state is not TagState.NONE
            and owner is not None
            and owner != peer
        ):
            return Refusal(DataAccessError.OBJECT_ACCESS_DENIED, f"tag was set by {owner}")
        new = TagValue(tag.state, tag.reason if tag.state is not TagState.NONE else "")
        new_owner = None if tag.state is TagState.NONE else peer
        if self.tag_store is not None:
            try:
                self.tag_store.save_tag(StoredTag(rule.point, new, new_owner))
            except LocalError as exc:
                return Refusal(DataAccessError.HARDWARE_FAULT, f"tag not saved: {exc}")
        state.tag = new
        state.tag_owner = new_owner
        return None

    def association_ended(self, association: Hashable) -> list[str]:
        """Disarm every device ``association`` had selected; returns their points."""
        out = []
        for point, state in self._devices.items():
            if state.armed_by is not None and state.armed_by == association:
                state.armed_by = None
                out.append(point)
        return out
