"""`iccp-gateway probe HOST[:PORT]`: what an ICCP (or any MMS) server offers, for onboarding.

Connects as the given AP-title / AE-qualifier, then prints the server's identity, TASE.2
version, supported features (conformance blocks), each domain's Bilateral_Table_ID, and
every variable with its type (and the TASE.2 point type it matches). ``--read NAME...``
reads values; ``--watch SECONDS`` defines a data set over the given points, starts a DS
transfer set and prints each report. Values are decoded by the type the server declares
(asked once per object), and printed for people: state names, ISO 8601 UTC time stamps,
quality in words; ``--quiet`` leaves out the listing of variables. The watch data set has a
name of its own per run (``GWP_`` and six random characters) and is deleted, and the
transfer set stopped, however the watch ends (a refusal, a time-out, Ctrl-C).

``--operate DEVICE VALUE [--sbo]`` operates a Block 5 device (selecting it first with
``--sbo``); ``--tag DEVICE [STATE [REASON]]`` reads a device's tag, or sets it (STATE none,
open-close or close-only). Every refusal says why in words
(:mod:`~adapters.tase2.tools.reasons`); a refused operate names the device's tag when it has
one. Against a server without the TASE.2 objects it lists what is there and says so. Names
are written ``DOMAIN/Item`` (ICC scope) or ``Item`` (VCC).

Exit codes (also in ``--help``): 0 done, TASE.2 objects found; 1 done, but TASE.2 objects
are missing or a read/watch/operate/tag step failed; 2 usage error; 3 cannot connect (refused,
unreachable); 4 association refused by the server; 5 timeout; 6 association lost or protocol
error during the probe; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import secrets
import string
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TextIO

from adapters.tase2.asn1.ber import code_name
from adapters.tase2.client.devices import DeviceError, get_tag, operate_device, set_tag
from adapters.tase2.client.plan import (
    SPECIAL_MEMBERS,
    check_startup,
    features_blocks,
)
from adapters.tase2.client.session import (
    ReservedTransferSet,
    SetupError,
    declared_types,
    define_data_set,
    delete_data_set,
    reserve_transfer_set,
    unusable_members,
    write_transfer_set,
)
from adapters.tase2.client.settings import parse_address
from adapters.tase2.errors import Tase2Error
from adapters.tase2.iso.acse import check_ap_title
from adapters.tase2.mms.access import VariableListName
from adapters.tase2.mms.aio.client import (
    MmsAssociationError,
    MmsClient,
    MmsConnectionLost,
    MmsRejected,
    MmsRequestTimeout,
)
from adapters.tase2.mms.association import AssociationConfig, CloseReason
from adapters.tase2.mms.data import (
    AccessResult,
    Array,
    BitString,
    Boolean,
    DataAccessError,
    Float32,
    Float64,
    Integer,
    Structure,
    Unsigned,
)
from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.mms.service_error import MmsServiceError
from adapters.tase2.mms.services import InformationReport, ObjectClass
from adapters.tase2.mms.types import (
    ArrayType,
    BitStringType,
    BooleanType,
    FloatType,
    IntegerType,
    OctetStringType,
    StructureType,
    TypeSpecification,
    UnsignedType,
    VisibleStringType,
)
from adapters.tase2.model.devices import SBO_SUFFIX, DeviceKind, TagState, TagValue
from adapters.tase2.model.layout import PointLayout, layout_of, standard_layout
from adapters.tase2.model.objects import (
    BILATERAL_TABLE_ID,
    DS_CONDITIONS_DETECTED,
    REPORT_ONLY_NAMES,
    SUPPORTED_FEATURES,
    TASE2_VERSION,
    TRANSFER_SET_NAME,
    TRANSFER_SET_TIME_STAMP,
    DSConditions,
    DSTransferSetError,
    ds_conditions_from_data,
    transfer_set_reference,
)
from adapters.tase2.model.points import PointDecodeError, PointType, Role, identify_point_type
from adapters.tase2.model.transfer_set import DSTransferSetValue
from adapters.tase2.tools.reasons import (
    AssociationIdentity,
    access_reason,
    association_reason,
    explain_access,
    service_reason,
)
from gateway.points import Quality, State

__all__ = [
    "EXIT_ASSOCIATION",
    "EXIT_CONNECT",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_TASE2",
    "EXIT_OK",
    "EXIT_PROTOCOL",
    "EXIT_TIMEOUT",
    "iso_time",
    "point_json",
    "point_text",
    "quality_text",
    "run_probe",
    "type_text",
    "watch_data_set_name",
]

EXIT_OK, EXIT_NOT_TASE2, EXIT_CONNECT, EXIT_ASSOCIATION, EXIT_TIMEOUT, EXIT_PROTOCOL = (
    0,
    1,
    3,
    4,
    5,
    6,
)
EXIT_INTERRUPTED = 130
WATCH_PREFIX = "GWP_"
_SUFFIX_ALPHABET = string.ascii_uppercase + string.digits


def watch_data_set_name() -> str:
    """A data set name of this run's own: ``GWP_`` and six random ``[A-Z0-9]`` characters
    (2 billion names), so that two probes, or a probe and a set left on the server by an
    earlier one, do not collide."""
    return WATCH_PREFIX + "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(6))


class ProbeError(Tase2Error):
    """A probe that cannot go on; ``code`` is the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------- rendering


def _component_text(spec: TypeSpecification) -> str:
    if isinstance(spec, FloatType):
        return f"float{spec.format_width}"
    if isinstance(spec, IntegerType):
        return f"int{spec.width}"
    if isinstance(spec, UnsignedType):
        return f"uint{spec.width}"
    if isinstance(spec, BitStringType):
        return f"bits({spec.size})"
    if isinstance(spec, BooleanType):
        return "bool"
    if isinstance(spec, VisibleStringType):
        return f"vstring({spec.size})"
    if isinstance(spec, OctetStringType):
        return f"octets({spec.size})"
    if isinstance(spec, ArrayType):
        return f"array[{spec.count}] of {_component_text(spec.element)}"
    if isinstance(spec, StructureType):
        inner = ", ".join(
            f"{c.name}: {_component_text(c.type)}" if c.name else _component_text(c.type)
            for c in spec.components
        )
        return f"struct{{{inner}}}"
    return type(spec).__name__.removesuffix("Type").lower()


def _shape(spec: TypeSpecification) -> Any:
    """A type without component names, for servers that do not return them."""
    if isinstance(spec, StructureType):
        return tuple(_shape(c.type) for c in spec.components)
    return spec


_TASE2_TYPES: dict[Any, str] = {}
_TASE2_SHAPES: dict[Any, str] = {}
for _t in PointType:
    _TASE2_TYPES.setdefault(_t.info.spec, _t.info.tase2_name)
    _TASE2_SHAPES.setdefault(_shape(_t.info.spec), _t.info.tase2_name)


def type_text(spec: TypeSpecification, name: str = "") -> str:
    """A one-line description of an MMS type, with the TASE.2 point type it matches.

    Component names decide between types of the same shape (Data_StateQTimeTag's
    {TimeStamp, Flags} vs Data_DiscreteQ's {Value, Flags}); the special TASE.2 objects
    (report-only variables, transfer sets) are never labelled as points.
    """
    text = _component_text(spec)
    if name in REPORT_ONLY_NAMES:
        return text
    tase2 = _TASE2_TYPES.get(spec)
    if tase2 is None and not _has_component_names(spec):
        tase2 = _TASE2_SHAPES.get(_shape(spec))
    return f"{text} = {tase2}" if tase2 else text


def _has_component_names(spec: TypeSpecification) -> bool:
    return isinstance(spec, StructureType) and any(c.name for c in spec.components)


def data_json(data: AccessResult) -> Any:
    """A JSON-friendly form of an MMS value."""
    if isinstance(data, DataAccessError):
        return {"error": code_name(data), "reason": explain_access(data)}
    if isinstance(data, Structure | Array):
        return [data_json(d) for d in data.items]
    if isinstance(data, BitString):
        return {"bits": data.nbits, "hex": data.data.hex()}
    if isinstance(data, Float32 | Float64 | Integer | Unsigned | Boolean):
        return data.value
    value = getattr(data, "value", None)
    if isinstance(value, str | int | float):
        return value
    if isinstance(value, bytes):
        return value.hex()
    return repr(data)


STATE_NAMES: Final[dict[int, str]] = {
    State.BETWEEN: "between",
    State.OFF: "open",
    State.ON: "closed",
    State.INVALID: "invalid",
}
"""The two-bit state of a state point in words (0 between, 1 off/open, 2 on/closed)."""

Types = dict[ObjectName, TypeSpecification | str]
"""The declared type of each object asked for in this run, or why the server gave none."""


@dataclass
class Known:
    """What this run learnt of the server's objects: the declared ``types`` (asked once per
    object) and the names of each ``listed`` scope (a domain, None for VCC)."""

    types: Types = field(default_factory=dict)
    listed: dict[str | None, set[str]] = field(default_factory=dict)


def iso_time(ts: float, milliseconds: bool = False) -> str:
    """POSIX seconds as ISO 8601 UTC: ``2026-12-01T21:38:05Z`` (``.250Z`` with ms)."""
    try:
        when = datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):
        return f"{ts} (not a time)"
    text = when.isoformat(timespec="milliseconds" if milliseconds else "seconds")
    return text.removesuffix("+00:00") + "Z"


def quality_text(quality: Quality) -> str:
    """Quality in short words: ``valid telemetered``, ``suspect calculated abnormal``..."""
    words = [code_name(quality.validity), code_name(quality.source)]
    if quality.abnormal:
        words.append("abnormal")
    if quality.timestamp_invalid:
        words.append("time-not-valid")
    return " ".join(words)


def _layout(data: AccessResult, spec: TypeSpecification | None) -> PointLayout | None:
    """The layout of the declared type; by the value's shape only when none was declared."""
    if spec is not None:
        return layout_of(spec)
    ptype = identify_point_type(data) if not isinstance(data, DataAccessError) else None
    return None if ptype is None else standard_layout(ptype)


def point_json(data: AccessResult, spec: TypeSpecification | None = None) -> Any:
    """A value decoded by its declared type ``spec`` (by its shape when the server declared
    none) as a TASE.2 point, with the fields people read (``state``, ``time``,
    ``quality_text``) beside the machine values; not a point: :func:`data_json`."""
    if isinstance(data, DataAccessError):
        return {"error": code_name(data), "reason": explain_access(data)}
    layout = _layout(data, spec)
    if layout is None:
        return data_json(data)
    try:
        d = layout.decode(data)
    except PointDecodeError as exc:
        return {"raw": data_json(data), "problem": f"not of its declared type: {exc}"}
    roles = set(layout.roles)
    out: dict[str, Any] = {}
    if layout.type is not None:
        out["type"] = layout.type.info.tase2_name
    out["value"] = d.value
    if roles & {Role.STATE, Role.STATE_VALUE} and isinstance(d.value, int):
        out["state"] = STATE_NAMES.get(d.value, str(d.value))
    if roles & {Role.STATE, Role.FLAGS}:
        out["quality"] = d.quality.to_dict()
        out["quality_text"] = quality_text(d.quality)
    if d.ts is not None:
        out["ts"] = d.ts
        out["time"] = iso_time(d.ts, Role.TSX in roles)
    if d.cov is not None:
        out["cov"] = d.cov
    return out


def _number_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.7g}"
    return json.dumps(value)


def point_text(value: Any) -> str:
    """One line for a :func:`point_json` value: ``closed valid telemetered
    2026-12-01T21:38:05Z (Data_StateQTimeTag)``; an error with its reason."""
    if not isinstance(value, dict):
        return json.dumps(value)
    if "error" in value:
        return f"{value['error']} ({value['reason']})"
    if "raw" in value:
        return f"{json.dumps(value['raw'])} ({value['problem']})"
    parts: list[str] = []
    if "state" in value:
        parts.append(value["state"])
    elif value.get("value") is not None:
        parts.append(_number_text(value["value"]))
    for key in ("quality_text", "time"):
        if key in value:
            parts.append(value[key])
    if "cov" in value:
        parts.append(f"cov {value['cov']}")
    if "type" in value:
        parts.append(f"({value['type']})")
    return " ".join(parts)


def parse_name(text: str) -> ObjectName:
    """``DOMAIN/Item`` -> ICC-scope name, ``Item`` -> VCC (VMD) name."""
    domain, sep, item = text.partition("/")
    return ObjectName.dom(domain, item) if sep else ObjectName.vmd(text)


# --------------------------------------------------------------------------- the probe


@dataclass
class ProbeResult:
    """Everything the probe found (printed as text or JSON)."""

    address: str
    identity: dict[str, str] | None = None
    pdu_size: int = 0
    version: str | None = None
    features: list[int] | None = None
    domains: dict[str, dict[str, Any]] = field(default_factory=dict)
    vcc_variables: dict[str, str] = field(default_factory=dict)
    tase2: bool = False
    missing: list[str] = field(default_factory=list)
    reads: dict[str, Any] = field(default_factory=dict)
    watch: dict[str, Any] = field(default_factory=dict)
    reports: list[dict[str, Any]] = field(default_factory=list)
    controls: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _refusal(exc: MmsServiceError | MmsRejected) -> str:
    """A refused request in words."""
    if isinstance(exc, MmsServiceError):
        return service_reason(exc.error)
    return f"rejected ({exc}: the server could not take the request)"


async def _types(
    client: MmsClient, names: Sequence[ObjectName], limit: int, types: Types
) -> dict[ObjectName, str]:
    """The type of each of the first ``limit`` names as text; ``types`` keeps what the
    server declared, for decoding values later."""
    out: dict[ObjectName, str] = {}

    async def one(name: ObjectName) -> None:
        try:
            spec = await client.get_variable_access_attributes(name)
        except (MmsServiceError, MmsRejected) as exc:
            types[name] = _refusal(exc)
            out[name] = f"? {types[name]}"
            return
        types[name] = spec
        out[name] = type_text(spec, name.item)

    await asyncio.gather(*(one(n) for n in names[:limit]))
    return out


def _spec(types: Types, name: ObjectName) -> TypeSpecification | None:
    spec = types.get(name)
    return None if isinstance(spec, str) else spec


async def _ask_types(client: MmsClient, names: Sequence[ObjectName], known: Known) -> None:
    """Ask the declared type of each name not asked yet in this run. A name missing from a
    listing the server gave (``known.listed``) is not asked (some
    servers never answer for an object they lack); nor is one that gets no answer asked
    again."""
    types = known.types
    missing: list[ObjectName] = []
    for n in dict.fromkeys(names):
        if n in types:
            continue
        scope_names = known.listed.get(n.domain)
        if scope_names is not None and n.item not in scope_names:
            types[n] = "not in the server's list of variables"
        else:
            missing.append(n)

    async def one(name: ObjectName) -> None:
        try:
            types.update(await declared_types(client, [name]))
        except MmsRequestTimeout:
            types[name] = "no answer to GetVariableAccessAttributes"

    await asyncio.gather(*(one(n) for n in missing))


async def _names(
    client: MmsClient, result: ProbeResult, object_class: int, scope: Scope, domain: str | None
) -> list[str]:
    """GetNameList, or [] with a noted problem when the server refuses it."""
    try:
        return await client.get_name_list(object_class, scope, domain)
    except (MmsServiceError, MmsRejected) as exc:
        where = domain or "VMD"
        result.problems.append(
            f"GetNameList of {ObjectClass(object_class).name} in {where}: {_refusal(exc)}"
        )
        return []


async def _read_or_error(client: MmsClient, *names: ObjectName) -> tuple[AccessResult, ...]:
    """Read; a refused request gives object-non-existent for each name."""
    try:
        return await client.read(*names)
    except (MmsServiceError, MmsRejected):
        return tuple(DataAccessError.OBJECT_NON_EXISTENT for _ in names)


async def _discover(client: MmsClient, result: ProbeResult, limit: int, known: Known) -> None:
    types = known.types
    try:
        ident = await client.identify()
        result.identity = {"vendor": ident.vendor, "model": ident.model, "revision": ident.revision}
    except (MmsServiceError, MmsRejected):
        result.identity = None
    result.pdu_size = client.parameters.max_pdu_size
    domains = await _names(client, result, ObjectClass.DOMAIN, Scope.VMD, None)
    vcc = await _names(client, result, ObjectClass.NAMED_VARIABLE, Scope.VMD, None)
    if vcc:
        known.listed[None] = set(vcc)
    vcc_types = await _types(client, [ObjectName.vmd(n) for n in vcc], limit, types)
    result.vcc_variables = {n.item: t for n, t in vcc_types.items()}
    budget = max(0, limit - len(vcc_types))
    for d in domains:
        names = await _names(client, result, ObjectClass.NAMED_VARIABLE, Scope.DOMAIN, d)
        if names:
            known.listed[d] = set(names)
        listed = await _types(client, [ObjectName.dom(d, n) for n in names], budget, types)
        budget = max(0, budget - len(listed))
        entry: dict[str, Any] = {
            "variables": {n: listed.get(ObjectName.dom(d, n), "(not asked)") for n in names}
        }
        if BILATERAL_TABLE_ID in names:
            (blt,) = await _read_or_error(client, ObjectName.dom(d, BILATERAL_TABLE_ID))
            entry["bilateral_table_id"] = data_json(blt)
        result.domains[d] = entry
    tase2_names = [TASE2_VERSION, SUPPORTED_FEATURES]
    version_r: AccessResult = DataAccessError.OBJECT_NON_EXISTENT
    features_r: AccessResult = DataAccessError.OBJECT_NON_EXISTENT
    if TASE2_VERSION in vcc or SUPPORTED_FEATURES in vcc:
        version_r, features_r = await _read_or_error(
            client, *(ObjectName.vmd(n) for n in tase2_names)
        )
    check = check_startup([version_r, features_r, DataAccessError.OBJECT_NON_EXISTENT], "", [], [])
    result.version = check.version
    blocks = features_blocks(features_r)
    result.features = None if blocks is None else list(blocks)
    if result.version is None:
        result.missing.append(f"{TASE2_VERSION} (VCC)")
    if result.features is None:
        result.missing.append(f"{SUPPORTED_FEATURES} (VCC)")
    if not any("bilateral_table_id" in e for e in result.domains.values()):
        result.missing.append(f"{BILATERAL_TABLE_ID} (in any domain)")
    result.tase2 = not result.missing


async def _read(client: MmsClient, names: Sequence[str], result: ProbeResult, known: Known) -> None:
    objects = [parse_name(n) for n in names]
    await _ask_types(client, objects, known)
    types = known.types
    try:
        values = await client.read(*objects)
    except (MmsServiceError, MmsRejected) as exc:
        result.problems.append(f"read: {_refusal(exc)}")
        return
    for text, obj, value in zip(names, objects, values, strict=True):
        result.reads[text] = point_json(value, _spec(types, obj))
        if isinstance(value, DataAccessError):
            result.problems.append(f"read {text}: {access_reason(value)}")


class WatchError(Tase2Error):
    """The server would not let the probe watch; the message says why, in words."""


def _setup_reason(exc: SetupError) -> str:
    """A set-up step's refusal with the server's code spelled and explained."""
    text = str(exc)
    context = exc.__context__
    if exc.error is not None:
        raw, reason = exc.error.name.lower(), access_reason(exc.error)
    elif isinstance(context, MmsServiceError):
        e = context.error
        raw, reason = f"{e.error_class.name}/{e.code_name}".lower(), service_reason(e)
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
    failures = (
        SetupError,
        DSTransferSetError,
        MmsServiceError,
        MmsRejected,
        MmsRequestTimeout,
        ConnectionError,
    )
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
    except (MmsServiceError, MmsRejected, MmsRequestTimeout, ConnectionError):
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


async def _watch(
    client: MmsClient,
    points: Sequence[str],
    domain: str,
    seconds: float,
    interval: int,
    result: ProbeResult,
    known: Known,
    out: TextIO | None,
) -> None:
    ds = ObjectName.dom(domain, watch_data_set_name())
    result.watch = {"data_set": str(ds), "stopped": False, "deleted": False}
    members = [ObjectName.dom(domain, s) for s in SPECIAL_MEMBERS] + [parse_name(p) for p in points]
    await _ask_types(client, members[len(SPECIAL_MEMBERS) :], known)
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
        await _receive(client, members, seconds, result, known.types, out)
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
            report = await asyncio.wait_for(reports.__anext__(), left)
        except (TimeoutError, StopAsyncIteration):
            break
        entry = _report_json(report, members, loop.time() - (deadline - seconds), types)
        result.reports.append(entry)
        if out is not None:
            print(_report_text(entry), file=out, flush=True)


def _conditions_text(conditions: DSConditions) -> str:
    names = [code_name(c) for c in DSConditions if c and c in conditions]
    return ", ".join(names) or "none"


def _report_json(
    report: InformationReport, members: Sequence[ObjectName], t: float, types: Types
) -> dict[str, Any]:
    spec = report.spec
    names: list[ObjectName | None]
    if isinstance(spec, VariableListName):
        names = list(members) if len(members) == len(report.results) else []
        kind = "full"
    else:
        names = [e.name for e in spec.items]
        kind = "changes"
    names += [None] * (len(report.results) - len(names))
    values: dict[str, Any] = {}
    entry: dict[str, Any] = {"t": round(t, 3), "kind": kind, "values": values}
    for i, (name, value) in enumerate(zip(names, report.results, strict=False)):
        item = name.item if name is not None else ""
        if item == DS_CONDITIONS_DETECTED and isinstance(value, BitString):
            values[item] = ds_conditions_from_data(value).name
            entry["conditions"] = _conditions_text(ds_conditions_from_data(value))
        elif item == TRANSFER_SET_TIME_STAMP and isinstance(value, Integer | Unsigned):
            values[item] = value.value
            entry["time"] = iso_time(value.value)
        elif item == TRANSFER_SET_NAME and not isinstance(value, DataAccessError):
            values[item] = data_json(value)
            domain = name.domain if name is not None else None
            with contextlib.suppress(DSTransferSetError):
                ts = transfer_set_reference(value, domain or "", what=TRANSFER_SET_NAME)
                entry["transfer_set"] = str(ts or "")
        elif item in SPECIAL_MEMBERS:
            values[item] = data_json(value)
        else:
            label = str(name) if name is not None else f"#{i}"
            values[label] = point_json(value, _spec(types, name) if name else None)
    return entry


def _report_text(entry: Mapping[str, Any]) -> str:
    """A report for people: a header line, then one line per point."""
    head = f"report +{entry['t']:.1f}s {entry['kind']}"
    if "conditions" in entry:
        head += f" ({entry['conditions']})"
    if "transfer_set" in entry:
        head += f" from {entry['transfer_set']}"
    if "time" in entry:
        head += f" at {entry['time']}"
    lines = [head]
    for label, value in entry["values"].items():
        if label not in SPECIAL_MEMBERS:
            lines.append(f"  {label} = {point_text(value)}")
    return "\n".join(lines)


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
        tag = await get_tag(client, name)
    except DeviceError:
        return None
    if tag.state is TagState.NONE:
        return None
    why = _TAG_WORDS[tag.state] + (f": {tag.reason}" if tag.reason else "")
    return f"refused: {code_name(exc.error)} (device tagged {why})"


def _has_sbo(name: ObjectName, known: Known) -> bool:
    """True when the server lists the device's ``_SBO`` object (a select-before-operate
    device)."""
    return name.item + SBO_SUFFIX in known.listed.get(name.domain, ())


async def _operate(
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
        entry["outcome"] = code_name(exc.error) if exc.error else "failed"
        entry["refusal"] = reason if step == "operate" else f"select {reason}"
        entry["detail"] = exc.detail
        result.problems.append(f"operate {device}: {entry['refusal']}")
    result.controls.append(entry)


async def _tag(client: MmsClient, args: Sequence[str], result: ProbeResult) -> None:
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
        tag = await get_tag(client, name)
        entry.update(
            tag={"state": tag.state.name.lower(), "reason": tag.reason, "armed": tag.armed},
            outcome="success",
        )
    except DeviceError as exc:
        entry["outcome"] = code_name(exc.error) if exc.error else "failed"
        entry["refusal"] = _device_reason(exc)
        entry["detail"] = exc.detail
        result.problems.append(f"{entry['action']} {device}: {entry['refusal']}")
    result.controls.append(entry)


def _classify(exc: MmsAssociationError, who: AssociationIdentity) -> ProbeError:
    cause = exc.__cause__
    text = str(exc)
    if isinstance(cause, TimeoutError) or "within" in text:
        return ProbeError(f"timeout: {text}", EXIT_TIMEOUT)
    if isinstance(cause, OSError):
        return ProbeError(f"cannot connect: {text}", EXIT_CONNECT)
    if exc.aare is not None:
        return ProbeError(
            f"association refused: {association_reason(exc.aare, who)}", EXIT_ASSOCIATION
        )
    if exc.reason in (CloseReason.REJECTED, CloseReason.PEER_ABORTED):
        return ProbeError(f"association refused: {text}", EXIT_ASSOCIATION)
    if exc.reason is CloseReason.TRANSPORT_REFUSED:
        return ProbeError(f"cannot connect: {text}", EXIT_CONNECT)
    return ProbeError(f"association failed: {text}", EXIT_ASSOCIATION)


async def probe(args: argparse.Namespace, out: TextIO | None) -> ProbeResult:
    """Run the probe described by the parsed arguments; raises :class:`ProbeError`."""
    addr = parse_address(args.address)
    result = ProbeResult(address=f"{addr['host']}:{addr['port']}")
    config = AssociationConfig(
        local_ap_title=args.ap_title,
        local_ae_qualifier=args.ae_qualifier,
        remote_ap_title=args.remote_ap_title,
        remote_ae_qualifier=args.remote_ae_qualifier,
    )
    who = AssociationIdentity(
        args.ap_title, args.ae_qualifier, args.remote_ap_title, args.remote_ae_qualifier
    )
    try:
        client = await MmsClient.connect(
            addr["host"],
            addr["port"],
            config=config,
            connect_timeout=args.timeout,
            request_timeout=args.timeout,
        )
    except MmsAssociationError as exc:
        raise _classify(exc, who) from None
    known = Known()
    try:
        await _discover(client, result, args.types_limit, known)
        if out is not None and not args.quiet:
            _print_listing(result, out)
        if args.read:
            await _read(client, args.read, result, known)
            if out is not None:
                _print_reads(result, out)
        if args.watch:
            points = args.point or args.read or []
            domain = args.domain or next(
                (d for d, e in result.domains.items() if "bilateral_table_id" in e), None
            )
            if not points or domain is None:
                result.problems.append(
                    "--watch needs points (--point or --read) and a domain with a "
                    "Bilateral_Table_ID (or --domain)"
                )
            else:
                try:
                    await _watch(
                        client, points, domain, args.watch, args.interval, result, known, out
                    )
                except WatchError as exc:
                    result.problems.append(f"watch: {exc}")
                except (MmsServiceError, MmsRejected) as exc:
                    result.problems.append(f"watch: {_refusal(exc)}")
                except DSTransferSetError as exc:
                    result.problems.append(f"watch: {exc} ({explain_access(exc.error)})")
        if args.tag:
            await _tag(client, args.tag, result)
        if args.operate:
            await _operate(client, args.operate[0], args.operate[1], args.sbo, result, known)
    except MmsRequestTimeout as exc:
        raise ProbeError(f"timeout: {exc}", EXIT_TIMEOUT) from None
    except (MmsConnectionLost, MmsRejected) as exc:
        raise ProbeError(f"association lost: {exc}", EXIT_PROTOCOL) from None
    except MmsServiceError as exc:
        raise ProbeError(
            f"server refused a request: {service_reason(exc.error)}", EXIT_PROTOCOL
        ) from None
    finally:
        if not client.closed:
            try:
                await client.conclude(min(args.timeout, 2.0))
            except Exception:
                await client.abort()
    return result


def _print_reads(result: ProbeResult, out: TextIO) -> None:
    for name, value in result.reads.items():
        print(f"  read {name} = {point_text(value)}", file=out, flush=True)


def _print_outcome(result: ProbeResult, out: TextIO) -> None:
    """What the text format prints after the probe (the listing, reads and reports are
    printed as they come)."""
    p = print
    if result.watch:
        w = result.watch
        cleaned = "deleted" if w.get("deleted") else "NOT deleted"
        p(
            f"  {len(result.reports)} report(s) received; data set {w['data_set']} {cleaned}",
            file=out,
        )
    for c in result.controls:
        what = " ".join(str(c[k]) for k in ("action", "device", "value") if k in c)
        extra = f" check-back {c['check_back']}" if c.get("check_back") is not None else ""
        tag = c.get("tag")
        if tag:
            state = tag["state"].replace("_", "-")
            extra += f" tag {state}{' armed' if tag['armed'] else ''} {tag['reason']!r}"
        p(f"  {what}: {c.get('refusal') or c.get('outcome')}{extra}", file=out)
    if not result.tase2:
        p(
            "NOT A TASE.2 SERVER: TASE.2 objects missing: " + ", ".join(result.missing),
            file=out,
        )
    for problem in result.problems:
        p(f"problem: {problem}", file=out)


def _print_listing(result: ProbeResult, out: TextIO) -> None:
    """The server, its TASE.2 objects and every variable with its type."""
    p = print
    p(f"server {result.address}: MMS PDU size {result.pdu_size}", file=out)
    if result.identity:
        i = result.identity
        p(f"  identity: {i['vendor']} {i['model']} {i['revision']}", file=out)
    p(f"  TASE.2 version: {result.version or 'missing'}", file=out)
    feats = result.features
    p(
        "  supported features: "
        + ("missing" if feats is None else "blocks " + (", ".join(map(str, feats)) or "none")),
        file=out,
    )
    p(f"  VCC variables ({len(result.vcc_variables)}):", file=out)
    for name, t in result.vcc_variables.items():
        p(f"    {name}: {t}", file=out)
    for d, entry in result.domains.items():
        blt = entry.get("bilateral_table_id")
        p(
            f"  domain {d}" + (f" (Bilateral_Table_ID {blt})" if blt is not None else ""),
            file=out,
        )
        for name, t in entry["variables"].items():
            p(f"    {name}: {t}", file=out)


def run_probe(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """The ``probe`` command: run, print, return the exit code (see the module docstring)."""
    try:
        parse_address(args.address)
        for title in (args.ap_title, args.remote_ap_title):
            if title is not None:
                check_ap_title(title)
    except ValueError as exc:
        print(f"iccp-gateway probe: {exc}", file=err)
        return 2
    text_out = out if args.format == "text" else None
    try:
        result = asyncio.run(probe(args, text_out))
    except ProbeError as exc:
        print(f"iccp-gateway probe {args.address}: {exc}", file=err)
        return exc.code
    except KeyboardInterrupt:
        print(f"iccp-gateway probe {args.address}: interrupted", file=err)
        return EXIT_INTERRUPTED
    if args.format == "json":
        json.dump(vars(result), out, indent=2, default=str)
        out.write("\n")
    else:
        _print_outcome(result, out)
    if not result.tase2 or result.problems:
        return EXIT_NOT_TASE2
    return EXIT_OK


PROBE_EXIT_CODES = (
    "exit codes: 0 done, TASE.2 objects found; 1 done, but TASE.2 objects missing or a "
    "--read/--watch/--operate/--tag step failed; 2 usage error; 3 cannot connect (refused, "
    "unreachable); 4 association refused; 5 timeout; 6 association lost or protocol error; "
    "130 interrupted"
)


def add_probe_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `iccp-gateway probe` (found by the CLI through an entry point)."""
    probe = commands.add_parser(
        "probe",
        help="show what an ICCP/TASE.2 (or any MMS) server offers",
        description="Associate with a server and print its TASE.2 version, features, "
        "bilateral table ids, domains and variables with their types. Names are "
        "DOMAIN/Item (ICC scope) or Item (VCC scope).",
        epilog=PROBE_EXIT_CODES,
    )
    probe.add_argument("address", metavar="HOST[:PORT]", help="server address (port 102)")
    probe.add_argument("--ap-title", help="our (calling) AP-title, e.g. 1.1.1.999")
    probe.add_argument("--ae-qualifier", type=int, help="our (calling) AE-qualifier")
    probe.add_argument("--remote-ap-title", help="the server's (called) AP-title")
    probe.add_argument("--remote-ae-qualifier", type=int, help="the server's AE-qualifier")
    probe.add_argument("--read", nargs="+", metavar="NAME", help="read these variables")
    probe.add_argument(
        "--watch",
        type=float,
        metavar="SECONDS",
        help="define a data set over --point (or --read) names, start a transfer set and "
        "print each report for SECONDS",
    )
    probe.add_argument("--point", nargs="+", metavar="NAME", help="points to --watch")
    probe.add_argument("--domain", help="ICC domain for --watch (default: the first with a BLT)")
    probe.add_argument(
        "--interval", type=int, default=1, metavar="S", help="--watch report interval (1 s)"
    )
    probe.add_argument(
        "--operate",
        nargs=2,
        metavar=("DEVICE", "VALUE"),
        help="operate a device (command 0/1 or set-point) and print the outcome",
    )
    probe.add_argument("--sbo", action="store_true", help="select DEVICE_SBO before --operate")
    probe.add_argument(
        "--tag",
        nargs="+",
        metavar="ARG",
        help="DEVICE: read its tag; DEVICE STATE [REASON...]: set it "
        "(STATE none, open-close or close-only)",
    )
    probe.add_argument("--format", choices=["text", "json"], default="text")
    probe.add_argument(
        "--quiet",
        action="store_true",
        help="text format: leave out the server listing (variables and types); print only "
        "reads, reports, controls and problems",
    )
    probe.add_argument(
        "--timeout", type=float, default=5.0, metavar="S", help="connect and request timeout"
    )
    probe.add_argument(
        "--types-limit", type=int, default=2000, metavar="N", help="ask the type of at most N"
    )
    probe.set_defaults(func=run_probe)
