"""The steps that set up reporting on a remote server, over an MMS client.

Both the ``tase2-client`` adapter and ``iccp-gateway probe --watch`` report through a
transfer set, and do it the same way, taking the server's objects as they are:

1. :func:`define_data_set` - define the data set; on object-exists (ours, left by an earlier
   association) delete it and define it again. When the server refuses it,
   :func:`unusable_members` asks for each point's attributes to name the ones it lacks;
2. :func:`reserve_transfer_set` - read ``Next_DSTransfer_Set`` (an MMSObjectName, a string,
   or a structure with a ``Name``), then read that transfer set once (and, when its value is
   not the standard shape, its declared type). A server that names one we already hold, or
   one that runs, gets a free one of the same family chosen for it;
3. :func:`write_transfer_set` - write it whole in the shape the server declares (DataSetName
   as an MMSObjectName or as a string, StartTime as a binary time, conditions as an integer
   mask...), read it back to see it runs, and when the server refused or ignored the whole
   write, write it component by component (``TS$Interval``..., ``TS$Status`` last);
4. :func:`delete_data_set` - clean up; never raises.

A server that will not go along raises :class:`SetupError`, naming the step and the
server's DataAccessError or ServiceError.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from adapters.tase2.asn1.ber import code_name
from adapters.tase2.errors import RemoteError
from adapters.tase2.mms.aio.client import MmsClient, MmsRejected, MmsRequestTimeout
from adapters.tase2.mms.data import (
    AccessResult,
    Boolean,
    Data,
    DataAccessError,
    Integer,
    Structure,
    Unsigned,
)
from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.mms.service_error import DefinitionCode, ErrorClass, MmsServiceError
from adapters.tase2.mms.services import ObjectClass
from adapters.tase2.mms.types import StructureType, TypeSpecification
from adapters.tase2.model.layout import layout_of
from adapters.tase2.model.objects import (
    NEXT_DS_TRANSFER_SET,
    DSTransferSetError,
    transfer_set_reference,
)
from adapters.tase2.model.transfer_set import DSTransferSetValue, fit_transfer_set

__all__ = [
    "ReservedTransferSet",
    "SetupError",
    "declared_types",
    "define_data_set",
    "delete_data_set",
    "reserve_transfer_set",
    "unusable_members",
    "write_transfer_set",
]

TYPE_QUERIES = 8
"""GetVariableAccessAttributes requests in flight at once when asking many types."""

STATUS = "Status"
_ESSENTIAL = frozenset({"status", "datasetname"})
"""Components without which a transfer set cannot report what we asked for."""


class SetupError(RemoteError):
    """The server would not define the data set or start the transfer set.

    ``error`` is the DataAccessError it answered with, when it answered with one.
    """

    def __init__(self, message: str, error: DataAccessError | None = None) -> None:
        super().__init__(message)
        self.error = error


def _refusal(exc: MmsServiceError | MmsRejected) -> str:
    """A refused request as ``class/code`` (``access/object-non-existent``)."""
    if isinstance(exc, MmsServiceError):
        return exc.error.spelled
    return f"rejected ({exc})"


@dataclass(slots=True)
class ReservedTransferSet:
    """A transfer set ``Next_DSTransfer_Set`` gave this association: its name, the value it
    read back (``shape``), its declared type when asked (``spec``) and how it took a write
    (``by_component``)."""

    name: ObjectName
    shape: AccessResult
    spec: TypeSpecification | None = None
    by_component: bool = False


async def declared_types(
    client: MmsClient, names: Sequence[ObjectName]
) -> dict[ObjectName, TypeSpecification | str]:
    """The declared type of each of ``names``, or why the server gave none (a short text)."""
    out: dict[ObjectName, TypeSpecification | str] = {}
    gate = asyncio.Semaphore(TYPE_QUERIES)

    async def one(name: ObjectName) -> None:
        async with gate:
            try:
                out[name] = await client.get_variable_access_attributes(name)
            except (MmsServiceError, MmsRejected) as exc:
                out[name] = _refusal(exc)

    await asyncio.gather(*(one(n) for n in dict.fromkeys(names)))
    return out


async def define_data_set(
    client: MmsClient, name: ObjectName, members: Sequence[ObjectName]
) -> None:
    """Define data set ``name``; one that exists already (ours: the names are the client's
    own) is deleted and defined again. Raises :class:`SetupError` when refused."""
    try:
        await client.define_named_variable_list(name, list(members))
        return
    except MmsServiceError as exc:
        e = exc.error
        if (e.error_class, e.code) != (ErrorClass.DEFINITION, DefinitionCode.OBJECT_EXISTS):
            raise SetupError(f"data set {name} refused: {_refusal(exc)}") from None
    except MmsRejected as exc:
        raise SetupError(f"data set {name} refused: {_refusal(exc)}") from None
    await delete_data_set(client, name)
    try:
        await client.define_named_variable_list(name, list(members))
    except (MmsServiceError, MmsRejected) as exc:
        raise SetupError(
            f"data set {name} exists and could not be replaced: {_refusal(exc)}"
        ) from None


async def delete_data_set(client: MmsClient, name: ObjectName) -> bool:
    """Delete data set ``name``; False (never an exception) when that did not happen (also
    when the server matched it but kept it, e.g. still used by a transfer set)."""
    if client.closed:
        return False
    with contextlib.suppress(MmsServiceError, MmsRejected, MmsRequestTimeout, ConnectionError):
        answer = await client.delete_named_variable_list(name)
        return answer.deleted > 0
    return False


async def unusable_members(
    client: MmsClient, members: Sequence[ObjectName]
) -> dict[ObjectName, str]:
    """The points among ``members`` that the server lacks (with its answer, e.g.
    ``access/object-non-existent``) or declares with a type that is no TASE.2 point."""
    out: dict[ObjectName, str] = {}
    for name, spec in (await declared_types(client, members)).items():
        if isinstance(spec, str):
            out[name] = spec
        elif layout_of(spec) is None:
            out[name] = f"declared {spec}, which is no TASE.2 point type"
    return out


def _is_standard(shape: AccessResult) -> bool:
    return (
        isinstance(shape, Structure)
        and len(shape.items) in (12, 13)
        and isinstance(shape.items[0], Structure)
    )


async def _declared(client: MmsClient, name: ObjectName) -> TypeSpecification | None:
    try:
        return await client.get_variable_access_attributes(name)
    except (MmsServiceError, MmsRejected):
        return None


async def reserve_transfer_set(
    client: MmsClient, domain: str, taken: Collection[ObjectName] = ()
) -> ReservedTransferSet:
    """Reserve a transfer set of ICC ``domain`` and read its current value (and, when that
    is not the standard shape, its declared type).

    A server whose ``Next_DSTransfer_Set`` names a transfer set this client already uses
    (``taken``) or one that is running (some servers always name the first) gets a free one
    of the same family chosen for it (:func:`_free_transfer_set`).
    """
    next_name = ObjectName.dom(domain, NEXT_DS_TRANSFER_SET)
    (reserved,) = await client.read(next_name)
    if isinstance(reserved, DataAccessError):
        raise SetupError(f"no transfer set available ({code_name(reserved)})", reserved)
    try:
        name = transfer_set_reference(reserved, domain)
    except DSTransferSetError:
        spec = await _declared(client, next_name)
        try:
            name = transfer_set_reference(reserved, domain, spec)
        except DSTransferSetError as exc:
            raise SetupError(str(exc), exc.error) from None
    if name is None:
        raise SetupError(f"{NEXT_DS_TRANSFER_SET} named no transfer set (none free?)")
    (shape,) = await client.read(name)
    spec = None if _is_standard(shape) else await _declared(client, name)
    found = ReservedTransferSet(name, shape, spec)
    if name in taken or _status(found, shape):
        found = await _free_transfer_set(client, found, taken)
    return found


async def _free_transfer_set(
    client: MmsClient, reserved: ReservedTransferSet, taken: Collection[ObjectName]
) -> ReservedTransferSet:
    """A transfer set named like ``reserved`` (``DSTransferSet01`` -> ``DSTransferSet*``),
    not ``taken`` and not running; raises :class:`SetupError` when there is none."""
    name = reserved.name
    family = name.item.rstrip("0123456789")
    try:
        items = await client.get_name_list(ObjectClass.NAMED_VARIABLE, Scope.DOMAIN, name.domain)
    except (MmsServiceError, MmsRejected) as exc:
        raise SetupError(f"{name} is in use and no other can be listed: {_refusal(exc)}") from None
    candidates = sorted(
        i for i in items if i.startswith(family) and i[len(family) :].isdigit() and "$" not in i
    )
    for item in candidates:
        other = ObjectName.dom(name.domain or "", item)
        if other in taken:
            continue
        (shape,) = await client.read(other)
        found = ReservedTransferSet(other, shape, reserved.spec)
        if not isinstance(shape, DataAccessError) and not _status(found, shape):
            return found
    raise SetupError(
        f"{NEXT_DS_TRANSFER_SET} named {name}, which is in use, and none of "
        f"{len(candidates)} {family}* transfer set(s) is free"
    )


def _status(reserved: ReservedTransferSet, shape: AccessResult) -> bool:
    """Whether a transfer set's value shows it running (Status true or non-zero); False
    when the value shows nothing."""
    if not isinstance(shape, Structure):
        return False
    spec = reserved.spec
    index: int | None = None
    if isinstance(spec, StructureType) and len(spec.components) == len(shape.items):
        index = next(
            (i for i, c in enumerate(spec.components) if (c.name or "").lower() == "status"),
            None,
        )
    elif len(shape.items) in (12, 13):
        index = len(shape.items) - 2
    if index is None:
        return False
    item = shape.items[index]
    return bool(item.value) if isinstance(item, Boolean | Integer | Unsigned) else False


def _component_name(ts: ObjectName, component: str) -> ObjectName:
    item = f"{ts.item}${component}"
    return ObjectName.dom(ts.domain, item) if ts.domain is not None else ObjectName.vmd(item)


async def _write_components(
    client: MmsClient, ts: ObjectName, parts: Sequence[tuple[str, Data]], status_only: bool
) -> list[str]:
    """Write the components one by one, Status last (only Status when ``status_only``).

    A refused DataSetName or Status raises :class:`SetupError`; any other component the
    server refuses keeps its value there and is returned (``Name (code)``).
    """
    status = [p for p in parts if p[0].lower() == STATUS.lower()]
    rest = [] if status_only else [p for p in parts if p[0].lower() != STATUS.lower()]
    kept: list[str] = []
    for component, data in (*rest, *status):
        error = await client.write(_component_name(ts, component), data)
        if error is None:
            continue
        if component.lower() in _ESSENTIAL:
            raise SetupError(f"{ts}${component} refused: {code_name(error)}", error)
        kept.append(f"{component} ({code_name(error)})")
    return kept


async def _running(client: MmsClient, reserved: ReservedTransferSet) -> bool:
    """Read the transfer set back: True when it shows it runs, or shows nothing (a server
    that does not let it be read is believed)."""
    (shape,) = await client.read(reserved.name)
    if not isinstance(shape, Structure):
        return True
    if reserved.spec is None and not _is_standard(shape):
        return True
    return _status(reserved, shape)


def _fit(reserved: ReservedTransferSet, value: DSTransferSetValue) -> tuple[tuple[str, Data], ...]:
    try:
        return fit_transfer_set(value, reserved.spec, reserved.shape)
    except DSTransferSetError as exc:
        raise SetupError(f"{reserved.name}: {exc}", exc.error) from None


async def write_transfer_set(
    client: MmsClient, reserved: ReservedTransferSet, value: DSTransferSetValue
) -> list[str]:
    """Write ``value`` in the form the server takes (see the module docstring) and, when it
    starts the transfer set, read it back to see it runs (some servers answer a whole write
    with success and ignore it). Returns the components the server would not take (their
    values stay the server's); raises :class:`SetupError` when it refuses every form.
    """
    verb = "start" if value.status else "stop"
    parts = _fit(reserved, value)
    if reserved.by_component:
        return await _write_components(client, reserved.name, parts, status_only=not value.status)
    error = await client.write(reserved.name, Structure(tuple(d for _, d in parts)))
    if error is not None and reserved.spec is None:
        reserved.spec = await _declared(client, reserved.name)
        if isinstance(reserved.spec, StructureType):
            refit = _fit(reserved, value)
            if refit != parts:
                parts = refit
                error = await client.write(reserved.name, Structure(tuple(d for _, d in parts)))
    if error is None and (not value.status or await _running(client, reserved)):
        return []
    whole = "ignored" if error is None else code_name(error)
    try:
        kept = await _write_components(client, reserved.name, parts, status_only=False)
    except SetupError as exc:
        raise SetupError(
            f"{reserved.name} refused to {verb}: whole write {whole}; by component: {exc}",
            error,
        ) from None
    reserved.by_component = True
    if value.status and not await _running(client, reserved):
        raise SetupError(
            f"{reserved.name} took every write (whole {whole}, then by component) "
            "but does not show Status set"
        )
    return kept
