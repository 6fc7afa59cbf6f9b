"""``iccp-gateway probe --operate`` and ``--tag``: a Block 5 device operated (selected first
with ``--sbo``), its tag read or set, and each outcome in ``ProbeResult.controls``. A refusal
says why in words; a refused operate names the device's tag when it has one, and says to use
``--sbo`` for a select-before-operate device that was not selected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.tase2.asn1.ber import code_name
from adapters.tase2.client.devices import DeviceError, get_tag, operate_device, set_tag
from adapters.tase2.mms.aio.client import MmsClient, MmsRejected
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.service_error import MmsServiceError
from adapters.tase2.mms.types import FloatType, TypeSpecification
from adapters.tase2.model.devices import SBO_SUFFIX, DeviceKind, TagState, TagValue
from adapters.tase2.tools.reasons import access_reason, service_reason
from adapters.tase2.tools.render import parse_name
from adapters.tase2.tools.result import Known, ProbeResult

__all__ = ["operate", "tag"]


_TAG_STATES = {
    "none": TagState.NONE,
    "0": TagState.NONE,
    "open-close": TagState.OPEN_AND_CLOSE_INHIBIT,
    "1": TagState.OPEN_AND_CLOSE_INHIBIT,
    "close-only": TagState.CLOSE_ONLY_INHIBIT,
    "2": TagState.CLOSE_ONLY_INHIBIT,
}

_TAG_WORDS = {
    TagState.NONE: "not tagged",
    TagState.OPEN_AND_CLOSE_INHIBIT: "open-and-close inhibit",
    TagState.CLOSE_ONLY_INHIBIT: "close-only inhibit",
    TagState.INVALID: "invalid",
}


def _number(text: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        return float(text)


def _device_reason(exc: DeviceError) -> str:
    """Why a device step failed, without the step's own prefix: ``refused:
    temporarily-unavailable (busy, ...)``, ``refused: access/...``, or the detail."""
    context = exc.__context__
    if exc.error is not None:
        return f"refused: {access_reason(exc.error)}"
    if isinstance(context, MmsServiceError):
        return f"refused: {service_reason(context.error)}"
    what, sep, rest = exc.detail.partition(": ")
    return rest if sep and what.split(" ")[0] in ("select", "operate", "get", "set") else exc.detail


async def _tag_reason(client: MmsClient, name: ObjectName, exc: DeviceError) -> str | None:
    """The reason of a refused operate when the device is tagged (naming the tag), else
    None."""
    if exc.error is None:
        return None
    try:
        current = await get_tag(client, name)
    except DeviceError:
        return None
    if current.state is TagState.NONE:
        return None
    why = _TAG_WORDS[current.state] + (f": {current.reason}" if current.reason else "")
    return f"refused: {code_name(exc.error)} (device tagged {why})"


def _failed(entry: dict[str, Any], exc: DeviceError, refusal: str, result: ProbeResult) -> None:
    """Note a failed device step in its ``entry`` and among the problems."""
    entry["outcome"] = code_name(exc.error) if exc.error else "failed"
    entry["refusal"] = refusal
    entry["detail"] = exc.detail
    result.problems.append(f"{entry['action']} {entry['device']}: {refusal}")


def _has_sbo(name: ObjectName, known: Known) -> bool:
    """True when the server lists the device's ``_SBO`` object (a select-before-operate
    device)."""
    return name.item + SBO_SUFFIX in known.listed.get(name.domain, ())


async def operate(
    client: MmsClient,
    device: str,
    value_text: str,
    sbo: bool,
    result: ProbeResult,
    known: Known,
) -> None:
    """Select (with ``sbo``) and operate ``device``; the outcome goes to ``result``."""
    name = parse_name(device)
    entry: dict[str, Any] = {"action": "operate", "device": device, "sbo": sbo}
    try:
        value = _number(value_text)
    except ValueError:
        result.problems.append(f"operate {device}: {value_text!r} is not a number")
        return
    entry["value"] = value
    try:
        spec: TypeSpecification | None = await client.get_variable_access_attributes(name)
    except (MmsServiceError, MmsRejected):
        spec = None
    real = isinstance(spec, FloatType) or (spec is None and isinstance(value, float))
    kind = DeviceKind.SETPOINT_REAL if real else DeviceKind.SETPOINT_DISCRETE
    try:
        entry["check_back"] = await operate_device(client, name, kind, value, sbo=sbo)
        entry["outcome"] = "success"
    except DeviceError as exc:
        step = "select" if exc.detail.startswith("select") else "operate"
        tagged = await _tag_reason(client, name, exc)
        reason = tagged or _device_reason(exc)
        if not (sbo or tagged) and exc.error is not None and _has_sbo(name, known):
            reason += f"; {device} is select-before-operate: use --sbo"
        _failed(entry, exc, reason if step == "operate" else f"select {reason}", result)
    result.controls.append(entry)


async def tag(client: MmsClient, args: Sequence[str], result: ProbeResult) -> None:
    """``DEVICE``: read its tag; ``DEVICE STATE [REASON...]``: set it."""
    device, *rest = args
    name = parse_name(device)
    entry: dict[str, Any] = {"action": "tag", "device": device}
    try:
        if rest:
            state = _TAG_STATES.get(rest[0].lower())
            if state is None:
                result.problems.append(
                    f"tag {device}: state {rest[0]!r} is none, open-close or close-only"
                )
                return
            reason = " ".join(rest[1:])
            entry.update(action="set-tag", state=state.name.lower(), reason=reason)
            await set_tag(client, name, TagValue(state, reason))
        current = await get_tag(client, name)
        entry.update(
            tag={
                "state": current.state.name.lower(),
                "reason": current.reason,
                "armed": current.armed,
            },
            outcome="success",
        )
    except DeviceError as exc:
        _failed(entry, exc, _device_reason(exc), result)
    result.controls.append(entry)
