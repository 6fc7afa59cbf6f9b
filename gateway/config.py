"""The configuration model and its loaders (YAML for hand-edited files, CSV point lists).

One pydantic model, `GatewayConfig`, describes a whole gateway. `load_config()` reads a
YAML file, the point lists it names, and every adapter's own settings, and reports every
problem at once as `file:line: field: message`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError

from gateway.points import PointDef
from gateway.registry import REGISTRY, AdapterRegistry, AdapterSettings, UnknownAdapterType

Loc = tuple[str | int, ...]
ADAPTER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in a configuration: where it is and what is wrong."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ConfigError(Exception):
    """A configuration that cannot be used; `issues` says every reason found.

    `unreadable` is set when a file could not be read at all (missing, permissions, not
    UTF-8), as opposed to read but invalid.
    """

    def __init__(self, issues: Sequence[ConfigIssue], unreadable: bool = False) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = list(issues)
        self.unreadable = unreadable


class GatewaySettings(BaseModel):
    """Gateway-wide settings (the `gateway:` section)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "iccp-gateway"
    freshness_grace: float = Field(default=2.0, ge=0)
    watchdog_period: float = Field(default=1.0, gt=0)
    command_timeout: float = Field(default=10.0, gt=0)
    status_log_period: float = Field(default=60.0, gt=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"


class PointFile(BaseModel):
    """A point list file named by the config: our CSV format or a NERC ISN file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    format: Literal["csv", "isn"] = "csv"
    as_of: date | None = None


class AdapterConfig(BaseModel):
    """One configured adapter: its name, type and its type's own settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=ADAPTER_NAME.pattern + "$")
    type: str
    enabled: bool = True
    settings: SerializeAsAny[AdapterSettings] = Field(default_factory=AdapterSettings)


class GatewayConfig(BaseModel):
    """A whole gateway: settings, every point, every adapter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    points: list[PointDef] = Field(default_factory=list)
    point_files: list[PointFile] = Field(default_factory=list)
    adapters: list[AdapterConfig] = Field(default_factory=list)

    def point_map(self) -> dict[str, PointDef]:
        return {p.id: p for p in self.points}

    def adapter_map(self) -> dict[str, AdapterConfig]:
        return {a.name: a for a in self.adapters}


class _Document(BaseModel):
    """The YAML document's shape before point files and adapter settings are resolved."""

    model_config = ConfigDict(extra="forbid")

    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    points: list[PointDef] = Field(default_factory=list)
    point_files: list[PointFile] = Field(default_factory=list)
    adapters: list[dict[str, Any]] = Field(default_factory=list)


# -- YAML with line numbers -------------------------------------------------------------


def _index_lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                lines[(*loc, key.value)] = key.start_mark.line + 1
                _index_lines(value, (*loc, key.value), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*loc, i), lines)


def _read_yaml(path: Path) -> tuple[Any, dict[Loc, int]]:
    text = _read_text(path)
    loader = yaml.CSafeLoader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(
            [ConfigIssue(str(path), line, "", f"not valid YAML: {exc.problem}")]
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigIssue(str(path), None, "", f"not valid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    return data, lines


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            [ConfigIssue(str(path), None, "", f"cannot read: {reason}")], True
        ) from None


def _line_of(lines: dict[Loc, int], loc: Loc) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _field_name(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _issues_from(
    exc: ValidationError, file: str, lines: dict[Loc, int], prefix: Loc = ()
) -> Iterator[ConfigIssue]:
    for err in exc.errors(include_url=False):
        loc = (*prefix, *(p for p in err["loc"] if isinstance(p, str | int)))
        message = err["msg"].removeprefix("Value error, ")
        yield ConfigIssue(file, _line_of(lines, loc), _field_name(loc), message)


# -- CSV point lists ----------------------------------------------------------------------

CSV_COLUMNS = tuple(name for name in PointDef.model_fields if name != "isn")


def load_point_csv(path: Path) -> list[PointDef]:
    """Read a CSV point list: a header of PointDef field names, then one point per row.

    Only `id` is required; empty cells take the defaults.
    """
    text = _read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise ConfigError([ConfigIssue(str(path), 1, "", "empty point list: expected a header")])
    header = [h.strip() for h in header]
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown or "id" not in header:
        problem = f"unknown column {unknown[0]!r}" if unknown else "no 'id' column"
        raise ConfigError(
            [ConfigIssue(str(path), 1, "", f"{problem}; columns are: {', '.join(CSV_COLUMNS)}")]
        )
    points: list[PointDef] = []
    issues: list[ConfigIssue] = []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            issues.append(
                ConfigIssue(str(path), line, "", f"{len(row)} cells, header has {len(header)}")
            )
            continue
        fields = {k: v.strip() for k, v in zip(header, row, strict=False) if v.strip()}
        try:
            points.append(PointDef.model_validate(fields))
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                column = str(err["loc"][0]) if err["loc"] else ""
                message = err["msg"].removeprefix("Value error, ")
                issues.append(ConfigIssue(str(path), line, column, message))
    if issues:
        raise ConfigError(issues)
    return points


def _load_point_file(spec: PointFile, base: Path) -> list[PointDef]:
    path = Path(spec.path) if Path(spec.path).is_absolute() else base / spec.path
    if spec.format == "csv":
        return load_point_csv(path)
    from gateway import isn  # the ISN module is large: load it only when a file names it

    try:
        return isn.load_points(path, spec.as_of)
    except isn.IsnError as exc:
        raise ConfigError(
            [ConfigIssue(str(path), f.line, f.field, f.message) for f in exc.errors]
        ) from None
    except OSError as exc:
        raise ConfigError([ConfigIssue(str(path), None, "", f"cannot read: {exc}")], True) from None


# -- the whole config ---------------------------------------------------------------------


def load_config(path: str | Path, registry: AdapterRegistry = REGISTRY) -> GatewayConfig:
    """Load and fully check a gateway configuration; raise ConfigError with every issue."""
    path = Path(path)
    data, lines = _read_yaml(path)
    return build_config(data, str(path), lines, path.parent, registry)


def build_config(
    data: Any,
    file: str,
    lines: dict[Loc, int] | None = None,
    base: Path | None = None,
    registry: AdapterRegistry = REGISTRY,
) -> GatewayConfig:
    """Check a configuration given as plain data (e.g. parsed YAML or a REST body)."""
    lines = lines or {}
    base = base or Path.cwd()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(file, 1, "", "the top level must be a mapping")])
    try:
        doc = _Document.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(list(_issues_from(exc, file, lines))) from None

    issues: list[ConfigIssue] = []
    points = _collect_points(doc, file, lines, base, issues)
    adapters = _collect_adapters(doc, file, lines, base, registry, points, issues)
    if issues:
        raise ConfigError(issues)
    return GatewayConfig(
        gateway=doc.gateway,
        points=list(points.values()),
        point_files=doc.point_files,
        adapters=adapters,
    )


def _collect_points(
    doc: _Document, file: str, lines: dict[Loc, int], base: Path, issues: list[ConfigIssue]
) -> dict[str, PointDef]:
    points: dict[str, PointDef] = {}
    where: dict[str, str] = {}
    sources: list[tuple[Iterable[PointDef], str, Loc]] = [(doc.points, file, ("points",))]
    for i, spec in enumerate(doc.point_files):
        try:
            sources.append((_load_point_file(spec, base), spec.path, ("point_files", i)))
        except ConfigError as exc:
            issues.extend(exc.issues)
    for defs, origin, loc in sources:
        for j, point in enumerate(defs):
            if point.id in points:
                line = _line_of(lines, (*loc, j)) if origin == file else None
                issues.append(
                    ConfigIssue(
                        file if origin == file else origin,
                        line,
                        _field_name((*loc, j, "id")) if origin == file else "id",
                        f"point {point.id!r} is defined twice (first in {where[point.id]})",
                    )
                )
                continue
            points[point.id] = point
            where[point.id] = origin
    return points


def _collect_adapters(
    doc: _Document,
    file: str,
    lines: dict[Loc, int],
    base: Path,
    registry: AdapterRegistry,
    points: dict[str, PointDef],
    issues: list[ConfigIssue],
) -> list[AdapterConfig]:
    adapters: list[AdapterConfig] = []
    owners: dict[str, str] = {}
    for i, raw in enumerate(doc.adapters):
        loc: Loc = ("adapters", i)
        settings = {k: v for k, v in raw.items() if k not in ("name", "type", "enabled")}
        head = {k: v for k, v in raw.items() if k in ("name", "type", "enabled")}
        try:
            entry = AdapterConfig.model_validate(head)
            cls = registry.get(entry.type)
            # Adapters resolve relative file names (e.g. point lists) against `base`.
            typed = cls.Settings.model_validate(settings, context={"base": base})
        except ValidationError as exc:
            issues.extend(_issues_from(exc, file, lines, loc))
            continue
        except UnknownAdapterType as exc:
            type_loc = (*loc, "type")
            issues.append(
                ConfigIssue(file, _line_of(lines, type_loc), _field_name(type_loc), str(exc))
            )
            continue
        if any(a.name == entry.name for a in adapters):
            issues.append(
                ConfigIssue(
                    file,
                    _line_of(lines, (*loc, "name")),
                    _field_name((*loc, "name")),
                    f"adapter name {entry.name!r} is used twice",
                )
            )
            continue
        line = _line_of(lines, loc)
        for point in sorted(typed.owned_points() | typed.consumed_points()):
            if point not in points:
                issues.append(ConfigIssue(file, line, f"adapters[{i}]", f"unknown point {point!r}"))
        if entry.enabled:
            for point in sorted(typed.owned_points()):
                if point in owners:
                    issues.append(
                        ConfigIssue(
                            file,
                            line,
                            f"adapters[{i}]",
                            f"point {point!r} already has an owner ({owners[point]}); "
                            "a point has exactly one owner",
                        )
                    )
                owners.setdefault(point, entry.name)
        adapters.append(entry.model_copy(update={"settings": typed}))
    return adapters
