"""``iccp-gateway probe --watch``: the probe's data set over the given points, a DS transfer
set that reports it, each report received, and the clean-up. The data set has a name of its
own per run (``GWP_`` and six random characters); however the watch ends (a refusal, a
time-out, Ctrl-C) the transfer set is stopped and the data set deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
import string
from collections.abc import Sequence
from typing import TextIO

from adapters.tase2.asn1.ber import code_name
from adapters.tase2.client.plan import SPECIAL_MEMBERS, data_set_members
from adapters.tase2.client.session import (
    ReservedTransferSet,
    SetupError,
    define_data_set,
    delete_data_set,
    reserve_transfer_set,
    unusable_members,
    write_transfer_set,
)
from adapters.tase2.errors import Tase2Error
from adapters.tase2.mms.aio.client import MmsClient, MmsRejected, MmsRequestTimeout
from adapters.tase2.mms.data import Boolean
from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.mms.service_error import MmsServiceError
from adapters.tase2.mms.services import ObjectClass
from adapters.tase2.model.objects import DSConditions, DSTransferSetError
from adapters.tase2.model.transfer_set import DSTransferSetValue
from adapters.tase2.tools.reasons import access_reason, service_reason
from adapters.tase2.tools.render import report_json, report_text
from adapters.tase2.tools.result import ProbeResult, Types

__all__ = ["WatchError", "watch", "watch_data_set_name"]

WATCH_PREFIX = "GWP_"
_SUFFIX_ALPHABET = string.ascii_uppercase + string.digits
_UNANSWERED = (MmsServiceError, MmsRejected, MmsRequestTimeout, ConnectionError)
"""What a clean-up step may meet and goes on after: a refusal, no answer, a lost link."""


def watch_data_set_name() -> str:
    """A data set name of this run's own: ``GWP_`` and six random ``[A-Z0-9]`` characters
    (2 billion names), so that two probes, or a probe and a set left on the server by an
    earlier one, do not collide."""
    return WATCH_PREFIX + "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(6))


class WatchError(Tase2Error):
    """The server would not let the probe watch; the message says why, in words."""


def _setup_reason(exc: SetupError) -> str:
    """A set-up step's refusal with the server's code spelled and explained."""
    text = str(exc)
    context = exc.__context__
    if exc.error is not None:
        raw, reason = code_name(exc.error), access_reason(exc.error)
    elif isinstance(context, MmsServiceError):
        raw, reason = context.error.spelled, service_reason(context.error)
    else:
        return text
    return text.replace(raw, reason) if raw in text else f"{text}: {reason}"


async def _define(client: MmsClient, ds: ObjectName, members: Sequence[ObjectName]) -> None:
    """Define the watch data set; a refusal names the members the server lacks."""
    try:
        await define_data_set(client, ds, members)
    except SetupError as exc:
        reason = _setup_reason(exc)
        points = [m for m in members if m.item not in SPECIAL_MEMBERS]
        unusable = await unusable_members(client, points)
        if unusable:
            reason += "; not usable: " + ", ".join(
                f"{n} ({why.replace('_', '-')})" for n, why in unusable.items()
            )
        raise WatchError(reason) from None


async def _stop(
    client: MmsClient, reserved: ReservedTransferSet, value: DSTransferSetValue
) -> bool:
    """Stop the transfer set started with ``value``: the same value with Status false (a
    running transfer set takes only a change of Status), else ``TS$Status`` alone."""
    failures = (SetupError, DSTransferSetError, *_UNANSWERED)
    with contextlib.suppress(*failures):
        await write_transfer_set(client, reserved, dataclasses.replace(value, status=False))
        return True
    ts = reserved.name
    status = ObjectName(ts.scope, f"{ts.item}$Status", ts.domain)
    with contextlib.suppress(*failures):
        return not client.closed and await client.write(status, Boolean(False)) is None
    return False


async def _still_defined(client: MmsClient, ds: ObjectName) -> bool:
    """True when the server still lists data set ``ds`` (False when it will not say)."""
    if client.closed or ds.domain is None:
        return False
    try:
        names = await client.get_name_list(ObjectClass.NAMED_VARIABLE_LIST, Scope.DOMAIN, ds.domain)
    except _UNANSWERED:
        return False
    return ds.item in names


async def _clean_up(
    client: MmsClient,
    ds: ObjectName,
    started: tuple[ReservedTransferSet, DSTransferSetValue] | None,
    result: ProbeResult,
) -> None:
    """Stop the transfer set (when a start was tried) and delete the data set; never raises."""
    if started is not None and not client.closed:
        result.watch["stopped"] = await _stop(client, *started)
    deleted = await delete_data_set(client, ds) and not await _still_defined(client, ds)
    result.watch["deleted"] = deleted
    if not deleted and not client.closed:
        result.problems.append(f"watch: could not delete data set {ds} from the server")


async def watch(
    client: MmsClient,
    domain: str,
    points: Sequence[ObjectName],
    seconds: float,
    interval: int,
    result: ProbeResult,
    types: Types,
    out: TextIO | None,
) -> None:
    """Watch ``points`` for ``seconds``: a data set of this run's own in ``domain``, a
    transfer set reporting it every ``interval`` seconds and on change, each report into
    ``result`` (and printed, with ``out``); then stop and delete what was set up, however the
    watch ends. Raises :class:`WatchError` when the server will not let the probe watch."""
    ds = ObjectName.dom(domain, watch_data_set_name())
    result.watch = {"data_set": str(ds), "stopped": False, "deleted": False}
    members = list(data_set_members(domain, points))
    started: tuple[ReservedTransferSet, DSTransferSetValue] | None = None
    try:
        await _define(client, ds, members)
        candidate = await reserve_transfer_set(client, domain)
        result.watch["transfer_set"] = str(candidate.name)
        value = DSTransferSetValue(
            data_set=ds,
            interval=interval,
            integrity_check=interval,
            conditions=DSConditions.INTERVAL_TIMEOUT | DSConditions.OBJECT_CHANGE,
            status=True,
        )
        started = (candidate, value)  # from here on a stop is due, even after a half start
        await write_transfer_set(client, candidate, value)
        await _receive(client, members, seconds, result, types, out)
    except SetupError as exc:
        raise WatchError(_setup_reason(exc)) from None
    finally:
        await _clean_up(client, ds, started, result)


async def _receive(
    client: MmsClient,
    members: Sequence[ObjectName],
    seconds: float,
    result: ProbeResult,
    types: Types,
    out: TextIO | None,
) -> None:
    """Collect (and print, with ``out``) the reports for ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    reports = client.reports()
    while (left := deadline - loop.time()) > 0:
        try:
            async with asyncio.timeout(left):
                report = await reports.__anext__()
        except (TimeoutError, StopAsyncIteration):
            break
        entry = report_json(report, members, loop.time() - (deadline - seconds), types)
        result.reports.append(entry)
        if out is not None:
            print(report_text(entry), file=out, flush=True)
