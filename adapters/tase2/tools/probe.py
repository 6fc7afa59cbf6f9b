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

This module is the command and the discovery; the rest of the probe is beside it:
:mod:`~adapters.tase2.tools.watch` (``--watch``), :mod:`~adapters.tase2.tools.devices`
(``--operate``, ``--tag``), :mod:`~adapters.tase2.tools.render` (types, values and reports as
text and JSON) and :mod:`~adapters.tase2.tools.result` (what a run found).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from adapters.tase2.client.plan import check_startup, features_blocks
from adapters.tase2.client.session import declared_types
from adapters.tase2.client.settings import parse_address
from adapters.tase2.errors import Tase2Error
from adapters.tase2.iso.acse import check_ap_title
from adapters.tase2.mms.aio.client import (
    MmsAssociationError,
    MmsClient,
    MmsConnectionLost,
    MmsRejected,
    MmsRequestTimeout,
)
from adapters.tase2.mms.association import AssociationConfig, CloseReason
from adapters.tase2.mms.data import AccessResult, DataAccessError
from adapters.tase2.mms.names import ObjectName, Scope
from adapters.tase2.mms.service_error import MmsServiceError
from adapters.tase2.mms.services import ObjectClass
from adapters.tase2.model.objects import (
    BILATERAL_TABLE_ID,
    SUPPORTED_FEATURES,
    TASE2_VERSION,
    DSTransferSetError,
)
from adapters.tase2.tools.devices import operate, tag
from adapters.tase2.tools.reasons import (
    AssociationIdentity,
    access_reason,
    association_reason,
    explain_access,
    service_reason,
)
from adapters.tase2.tools.render import data_json, parse_name, point_json, point_text, type_text
from adapters.tase2.tools.result import Known, ProbeResult, Types, declared_type
from adapters.tase2.tools.watch import WatchError, watch

__all__ = [
    "EXIT_ASSOCIATION",
    "EXIT_CONNECT",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_TASE2",
    "EXIT_OK",
    "EXIT_PROTOCOL",
    "EXIT_TIMEOUT",
    "ProbeError",
    "add_probe_command",
    "probe",
    "run_probe",
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


class ProbeError(Tase2Error):
    """A probe that cannot go on; ``code`` is the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


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
        result.reads[text] = point_json(value, declared_type(types, obj))
        if isinstance(value, DataAccessError):
            result.problems.append(f"read {text}: {access_reason(value)}")


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
                names = [parse_name(p) for p in points]
                await _ask_types(client, names, known)
                try:
                    await watch(
                        client, domain, names, args.watch, args.interval, result, known.types, out
                    )
                except WatchError as exc:
                    result.problems.append(f"watch: {exc}")
                except (MmsServiceError, MmsRejected) as exc:
                    result.problems.append(f"watch: {_refusal(exc)}")
                except DSTransferSetError as exc:
                    result.problems.append(f"watch: {exc} ({explain_access(exc.error)})")
        if args.tag:
            await tag(client, args.tag, result)
        if args.operate:
            await operate(client, args.operate[0], args.operate[1], args.sbo, result, known)
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
