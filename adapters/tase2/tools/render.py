"""The probe's findings for people and as JSON, sans-IO: MMS types as one line (with the
TASE.2 point type each matches), values decoded by their declared type (state names, ISO 8601
UTC time stamps, quality in words), and information reports. Names are written
``DOMAIN/Item`` (ICC scope) or ``Item`` (VCC).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from adapters.tase2.asn1.ber import code_name
from adapters.tase2.client.plan import SPECIAL_MEMBERS
from adapters.tase2.mms.access import VariableListName
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
from adapters.tase2.mms.names import ObjectName
from adapters.tase2.mms.services import InformationReport
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
from adapters.tase2.model.layout import PointLayout, layout_of, standard_layout
from adapters.tase2.model.objects import (
    DS_CONDITIONS_DETECTED,
    REPORT_ONLY_NAMES,
    TRANSFER_SET_NAME,
    TRANSFER_SET_TIME_STAMP,
    DSConditions,
    DSTransferSetError,
    ds_conditions_from_data,
    transfer_set_reference,
)
from adapters.tase2.model.points import PointDecodeError, PointType, Role, identify_point_type
from adapters.tase2.tools.reasons import explain_access
from adapters.tase2.tools.result import Types, declared_type
from gateway.points import Quality, State

__all__ = [
    "STATE_NAMES",
    "conditions_text",
    "data_json",
    "iso_time",
    "parse_name",
    "point_json",
    "point_text",
    "quality_text",
    "report_json",
    "report_text",
    "type_text",
]


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
        return data_json(data)
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


def conditions_text(conditions: DSConditions) -> str:
    """The conditions a report was sent for, in words: ``interval-timeout, object-change``."""
    names = [code_name(c) for c in DSConditions if c and c in conditions]
    return ", ".join(names) or "none"


def report_json(
    report: InformationReport, members: Sequence[ObjectName], t: float, types: Types
) -> dict[str, Any]:
    """A report received ``t`` seconds into the watch of the data set over ``members``: its
    kind (``full`` or ``changes``), each value (a point by its declared type in ``types``), and
    the transfer set, conditions and time it names."""
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
            conditions = ds_conditions_from_data(value)
            values[item] = conditions.name
            entry["conditions"] = conditions_text(conditions)
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
            values[label] = point_json(value, declared_type(types, name) if name else None)
    return entry


def report_text(entry: Mapping[str, Any]) -> str:
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
