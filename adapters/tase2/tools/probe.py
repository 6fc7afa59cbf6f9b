"""`iccp-gateway probe HOST[:PORT]`: what an ICCP (or any MMS) server offers, for onboarding.

Connects as the given AP-title / AE-qualifier, then prints the server's identity, TASE.2
version, supported features (conformance blocks), each domain's Bilateral_Table_ID, and
every variable with its type (and the TASE.2 point type it matches). ``--read NAME...``
reads values; ``--watch SECONDS`` defines a data set over the given points, starts a DS
transfer set and prints each report. ``--operate DEVICE VALUE [--sbo]`` operates a Block 5
device (selecting it first with ``--sbo``); ``--tag DEVICE [STATE [REASON]]`` reads a
device's tag, or sets it (STATE none, open-close or close-only). Against a server without the
TASE.2 objects it lists what is there and says so. Names are written ``DOMAIN/Item`` (ICC
scope) or ``Item`` (VCC).

Exit codes (also in ``--help``): 0 done, TASE.2 objects found; 1 done, but TASE.2 objects
are missing or a read/watch/operate/tag step failed; 2 usage error; 3 cannot connect (refused,
unreachable); 4 association refused by the server; 5 timeout; 6 association lost or protocol
error during the probe.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from adapters.tase2.asn1.ber import code_name
from adapters.tase2.client.devices import DeviceError, get_tag, operate_device, set_tag
from adapters.tase2.client.plan import (
    SPECIAL_MEMBERS,
    check_startup,
    features_blocks,
)
from adapters.tase2.client.session import (
    SetupError,
    define_data_set,
    reserve_transfer_set,
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
from adapters.tase2.model.devices import DeviceKind, TagState, TagValue
from adapters.tase2.model.objects import (
    BILATERAL_TABLE_ID,
    REPORT_ONLY_NAMES,
    SUPPORTED_FEATURES,
    TASE2_VERSION,
    DSConditions,
    DSTransferSetError,
    ds_conditions_from_data,
)
from adapters.tase2.model.points import PointDecodeError, PointType, decode_point
from adapters.tase2.model.transfer_set import DSTransferSetValue

__all__ = [
    "EXIT_ASSOCIATION",
    "EXIT_CONNECT",
    "EXIT_NOT_TASE2",
    "EXIT_OK",
    "EXIT_PROTOCOL",
    "EXIT_TIMEOUT",
    "run_probe",
    "type_text",
]

EXIT_OK, EXIT_NOT_TASE2, EXIT_CONNECT, EXIT_ASSOCIATION, EXIT_TIMEOUT, EXIT_PROTOCOL = (
    0,
    1,
    3,
    4,
    5,
    6,
)
WATCH_DATA_SET = "GW_PROBE_DS"


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
        return {"error": code_name(data)}
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


def point_json(data: AccessResult) -> Any:
    """A value decoded as a TASE.2 point when its shape is one, else :func:`data_json`."""
    if isinstance(data, DataAccessError):
        return data_json(data)
    try:
        d = decode_point(data)
    except PointDecodeError:
        return data_json(data)
    out: dict[str, Any] = {"value": d.value, "quality": d.quality.to_dict()}
    if d.ts is not None:
        out["ts"] = d.ts
    return out


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
    reports: list[dict[str, Any]] = field(default_factory=list)
    controls: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


async def _types(
    client: MmsClient, names: Sequence[ObjectName], limit: int
) -> dict[ObjectName, str]:
    out: dict[ObjectName, str] = {}

    async def one(name: ObjectName) -> None:
        try:
            spec = await client.get_variable_access_attributes(name)
            out[name] = type_text(spec, name.item)
        except (MmsServiceError, MmsRejected) as exc:
            out[name] = f"? ({exc})"

    await asyncio.gather(*(one(n) for n in names[:limit]))
    return out


async def _names(
    client: MmsClient, result: ProbeResult, object_class: int, scope: Scope, domain: str | None
) -> list[str]:
    """GetNameList, or [] with a noted problem when the server refuses it."""
    try:
        return await client.get_name_list(object_class, scope, domain)
    except (MmsServiceError, MmsRejected) as exc:
        where = domain or "VMD"
        result.problems.append(f"GetNameList of {ObjectClass(object_class).name} in {where}: {exc}")
        return []


async def _read_or_error(client: MmsClient, *names: ObjectName) -> tuple[AccessResult, ...]:
    """Read; a refused request gives object-non-existent for each name."""
    try:
        return await client.read(*names)
    except (MmsServiceError, MmsRejected):
        return tuple(DataAccessError.OBJECT_NON_EXISTENT for _ in names)


async def _discover(client: MmsClient, result: ProbeResult, limit: int) -> None:
    try:
        ident = await client.identify()
        result.identity = {"vendor": ident.vendor, "model": ident.model, "revision": ident.revision}
    except (MmsServiceError, MmsRejected):
        result.identity = None
    result.pdu_size = client.parameters.max_pdu_size
    domains = await _names(client, result, ObjectClass.DOMAIN, Scope.VMD, None)
    vcc = await _names(client, result, ObjectClass.NAMED_VARIABLE, Scope.VMD, None)
    vcc_types = await _types(client, [ObjectName.vmd(n) for n in vcc], limit)
    result.vcc_variables = {n.item: t for n, t in vcc_types.items()}
    budget = max(0, limit - len(vcc_types))
    for d in domains:
        names = await _names(client, result, ObjectClass.NAMED_VARIABLE, Scope.DOMAIN, d)
        types = await _types(client, [ObjectName.dom(d, n) for n in names], budget)
        budget = max(0, budget - len(types))
        entry: dict[str, Any] = {
            "variables": {n: types.get(ObjectName.dom(d, n), "(not asked)") for n in names}
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


async def _read(client: MmsClient, names: Sequence[str], result: ProbeResult) -> None:
    objects = [parse_name(n) for n in names]
    try:
        values = await client.read(*objects)
    except (MmsServiceError, MmsRejected) as exc:
        result.problems.append(f"read: {exc}")
        return
    for text, value in zip(names, values, strict=True):
        result.reads[text] = point_json(value)
        if isinstance(value, DataAccessError):
            result.problems.append(f"read {text}: {value.name.lower()}")


async def _watch(
    client: MmsClient,
    points: Sequence[str],
    domain: str,
    seconds: float,
    interval: int,
    result: ProbeResult,
    out: TextIO | None,
) -> None:
    ds = ObjectName.dom(domain, WATCH_DATA_SET)
    members = [ObjectName.dom(domain, s) for s in SPECIAL_MEMBERS] + [parse_name(p) for p in points]
    await define_data_set(client, ds, members)
    reserved = await reserve_transfer_set(client, domain)
    value = DSTransferSetValue(
        data_set=ds,
        interval=interval,
        integrity_check=interval,
        conditions=DSConditions.INTERVAL_TIMEOUT | DSConditions.OBJECT_CHANGE,
        status=True,
    )
    await write_transfer_set(client, reserved, value)
    names = [str(m) for m in members]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    reports = client.reports()
    while (left := deadline - loop.time()) > 0:
        try:
            report = await asyncio.wait_for(reports.__anext__(), left)
        except (TimeoutError, StopAsyncIteration):
            break
        entry = _report_json(report, names, loop.time() - (deadline - seconds))
        result.reports.append(entry)
        if out is not None:
            print(f"report +{entry['t']:.1f}s {json.dumps(entry['values'])}", file=out, flush=True)
    stop = DSTransferSetValue(data_set=ds, interval=interval, status=False)
    try:
        await write_transfer_set(client, reserved, stop)
        await client.delete_named_variable_list(ds)
    except (MmsServiceError, MmsRejected, SetupError):
        pass


def _report_json(report: InformationReport, names: Sequence[str], t: float) -> dict[str, Any]:
    spec = report.spec
    if isinstance(spec, VariableListName):
        labels = list(names) if len(names) == len(report.results) else []
        kind = "full"
    else:
        labels = [str(e.name) for e in spec.items]
        kind = "changes"
    labels += [f"#{i}" for i in range(len(labels), len(report.results))]
    values: dict[str, Any] = {}
    for label, value in zip(labels, report.results, strict=False):
        item = label.rsplit("/", 1)[-1]
        if item == "DSConditions_Detected" and isinstance(value, BitString):
            values[item] = ds_conditions_from_data(value).name
        elif item in SPECIAL_MEMBERS:
            values[item] = data_json(value)
        else:
            values[label] = point_json(value)
    return {"t": round(t, 3), "kind": kind, "values": values}


_TAG_STATES = {
    "none": TagState.NONE,
    "0": TagState.NONE,
    "open-close": TagState.OPEN_AND_CLOSE_INHIBIT,
    "1": TagState.OPEN_AND_CLOSE_INHIBIT,
    "close-only": TagState.CLOSE_ONLY_INHIBIT,
    "2": TagState.CLOSE_ONLY_INHIBIT,
}


def _number(text: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        return float(text)


async def _operate(
    client: MmsClient, device: str, value_text: str, sbo: bool, result: ProbeResult
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
        entry["outcome"] = code_name(exc.error) if exc.error else "failed"
        entry["detail"] = exc.detail
        result.problems.append(f"operate {device}: {exc.detail}")
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
        entry["detail"] = exc.detail
        result.problems.append(f"tag {device}: {exc.detail}")
    result.controls.append(entry)


def _classify(exc: MmsAssociationError) -> ProbeError:
    cause = exc.__cause__
    text = str(exc)
    if isinstance(cause, TimeoutError) or "within" in text:
        return ProbeError(f"timeout: {text}", EXIT_TIMEOUT)
    if isinstance(cause, OSError):
        return ProbeError(f"cannot connect: {text}", EXIT_CONNECT)
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
    try:
        client = await MmsClient.connect(
            addr["host"],
            addr["port"],
            config=config,
            connect_timeout=args.timeout,
            request_timeout=args.timeout,
        )
    except MmsAssociationError as exc:
        raise _classify(exc) from None
    try:
        await _discover(client, result, args.types_limit)
        if args.read:
            await _read(client, args.read, result)
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
                    await _watch(client, points, domain, args.watch, args.interval, result, out)
                except (MmsServiceError, MmsRejected, DSTransferSetError, SetupError) as exc:
                    result.problems.append(f"watch: {exc}")
        if args.tag:
            await _tag(client, args.tag, result)
        if args.operate:
            await _operate(client, args.operate[0], args.operate[1], args.sbo, result)
    except MmsRequestTimeout as exc:
        raise ProbeError(f"timeout: {exc}", EXIT_TIMEOUT) from None
    except (MmsConnectionLost, MmsRejected) as exc:
        raise ProbeError(f"association lost: {exc}", EXIT_PROTOCOL) from None
    except MmsServiceError as exc:
        raise ProbeError(f"server refused a request: {exc}", EXIT_PROTOCOL) from None
    finally:
        if not client.closed:
            try:
                await client.conclude(min(args.timeout, 2.0))
            except Exception:
                await client.abort()
    return result


def _print_text(result: ProbeResult, out: TextIO) -> None:
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
    for name, value in result.reads.items():
        p(f"  read {name} = {json.dumps(value)}", file=out)
    if result.reports:
        p(f"  {len(result.reports)} report(s) received", file=out)
    for c in result.controls:
        what = " ".join(str(c[k]) for k in ("action", "device", "value") if k in c)
        extra = f" check-back {c['check_back']}" if c.get("check_back") is not None else ""
        tag = c.get("tag")
        if tag:
            extra += f" tag {tag['state']}{' armed' if tag['armed'] else ''} {tag['reason']!r}"
        p(f"  {what}: {c.get('outcome')}{extra}", file=out)
    if not result.tase2:
        p(
            "NOT A TASE.2 SERVER: TASE.2 objects missing: " + ", ".join(result.missing),
            file=out,
        )
    for problem in result.problems:
        p(f"problem: {problem}", file=out)


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
    if args.format == "json":
        json.dump(vars(result), out, indent=2, default=str)
        out.write("\n")
    else:
        _print_text(result, out)
    if not result.tase2 or result.problems:
        return EXIT_NOT_TASE2
    return EXIT_OK


PROBE_EXIT_CODES = (
    "exit codes: 0 done, TASE.2 objects found; 1 done, but TASE.2 objects missing or a "
    "--read/--watch/--operate/--tag step failed; 2 usage error; 3 cannot connect (refused, "
    "unreachable); 4 association refused; 5 timeout; 6 association lost or protocol error"
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
        "--timeout", type=float, default=5.0, metavar="S", help="connect and request timeout"
    )
    probe.add_argument(
        "--types-limit", type=int, default=2000, metavar="N", help="ask the type of at most N"
    )
    probe.set_defaults(func=run_probe)
