"""The configuration model and its loaders (YAML for hand-edited files, CSV point lists).

One pydantic model, `GatewayConfig`, describes a whole gateway. `load_config()` reads a
YAML file, the point lists it names, and every adapter's own settings, and reports every
problem at once as `file:line: field: message`. A value may take an environment variable:
`${NAME}` (an error when unset) or `${NAME:-default}` (the default when unset or empty);
`$${` writes a literal `${`. So one file runs on loopback and in a container.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)

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
    UTF-8), as opposed to read but invalid; `warnings` are found in the same run.
    """

    def __init__(
        self,
        issues: Sequence[ConfigIssue],
        unreadable: bool = False,
        warnings: Sequence[ConfigIssue] = (),
    ) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = list(issues)
        self.unreadable = unreadable
        self.warnings = list(warnings)


class ApiCommands(BaseModel):
    """Bus commands over the REST API (`gateway.api.commands`): off unless enabled, and then
    only for the points matching one of `allow` (globs of point ids), by an operator token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    allow: list[str] = Field(default_factory=list)


class ApiSettings(BaseModel):
    """The operations surface (the `gateway.api:` section): REST API, web console, metrics.

    Present means on. `listen` is HOST:PORT (127.0.0.1 unless said otherwise); `tokens_file`
    holds the bearer tokens (read-only and operator roles; without it reads are open and
    writes refused); `certfile` and `keyfile` turn on HTTPS. Relative paths are taken from
    the configuration file's directory.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    listen: str = "127.0.0.1:8080"
    tokens_file: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    commands: ApiCommands = Field(default_factory=ApiCommands)
    audit_size: int = Field(default=1000, ge=10, le=1_000_000)

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"listen must be HOST:PORT (e.g. 127.0.0.1:8080), not {value!r}")
        return value

    @model_validator(mode="after")
    def _check_tls(self) -> ApiSettings:
        if (self.certfile is None) != (self.keyfile is None):
            raise ValueError("HTTPS needs both certfile and keyfile")
        return self

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    def resolved(self, base: Path) -> ApiSettings:
        """A copy with relative file names taken from `base` (the config file's directory)."""
        files = {
            key: base / path
            for key in ("tokens_file", "certfile", "keyfile")
            if (path := getattr(self, key)) is not None and not path.is_absolute()
        }
        return self.model_copy(update=files) if files else self


class GatewaySettings(BaseModel):
    """Gateway-wide settings (the `gateway:` section)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "iccp-gateway"
    freshness_grace: float = Field(default=2.0, ge=0)
    watchdog_period: float = Field(default=1.0, gt=0)
    command_timeout: float = Field(default=10.0, gt=0)
    status_log_period: float = Field(default=60.0, gt=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    api: ApiSettings | None = None


class PointFile(BaseModel):
    """A point list file named by the config: our CSV format or a NERC ISN file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    format: Literal["csv", "isn"] = "csv"
    as_of: date | None = None


class AdapterConfig(BaseModel):
    """One configured adapter: its name, type and its type's own settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=f"^{ADAPTER_NAME.pattern}$")  # pydantic searches: anchor both
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
    return _parse_yaml(_read_text(path), path)


# `${NAME}` or `${NAME:-default}` in a scalar; `$${` writes a literal `${`; any other `${`
# is an error (group 4), so that a typo never becomes a host name.
ENV_REFERENCE = re.compile(r"\$(\$)\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|(\$\{[^}]*\}?)")


def _substitute(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """`text` with its environment references replaced, and what is wrong with it: the
    unset variables referenced without a default, and references that are not valid."""
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        escaped, name, default, bad = match.groups()
        if escaped:
            return "${"
        if bad:
            missing.append(
                f"{bad!r} is not an environment reference: write ${{NAME}} or "
                "${NAME:-default} (NAME of letters, digits and _), or $${ for a literal ${"
            )
            return bad
        value = env.get(name)
        if default is not None:
            return value or default  # `:-`: unset or empty takes the default
        if value is None:
            missing.append(
                f"environment variable {name} is not set "
                f"(write ${{{name}:-default}} to give a default)"
            )
            return ""
        return value

    return ENV_REFERENCE.sub(replace, text), missing


def _expand_env(
    loader: yaml.CSafeLoader, node: yaml.Node, file: str, env: Mapping[str, str]
) -> list[ConfigIssue]:
    """Replace the environment references in every scalar of `node` in place (before the
    document is constructed, so that `port: ${PORT:-102}` is still a number); an unset
    variable without a default is an issue at its line."""
    issues: list[ConfigIssue] = []
    stack = [node]
    seen: set[int] = set()  # an aliased node is expanded once
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, yaml.ScalarNode):
            if "${" not in item.value:
                continue
            value, problems = _substitute(item.value, env)
            line = item.start_mark.line + 1
            issues.extend(ConfigIssue(file, line, "", problem) for problem in problems)
            item.value = value
            if item.style is None:  # a plain scalar: typed by what it now says
                item.tag = loader.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
        elif isinstance(item, yaml.MappingNode):
            for key, value in item.value:
                stack.extend((key, value))
        elif isinstance(item, yaml.SequenceNode):
            stack.extend(item.value)
    return issues


def _parse_yaml(
    text: str, path: str | Path, env: Mapping[str, str] | None = None
) -> tuple[Any, dict[Loc, int]]:
    """Parse a configuration's YAML with its line numbers; `${NAME:-default}` in a value
    takes the environment's `NAME` (`env`, default `os.environ`)."""
    loader = yaml.CSafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None and "${" in text:
            issues = _expand_env(loader, node, str(path), os.environ if env is None else env)
            if issues:
                raise ConfigError(issues)
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

M = TypeVar("M", bound=BaseModel)

SECTIONS = ("gateway", "points", "point_files", "adapters")


def load_config(path: str | Path, registry: AdapterRegistry = REGISTRY) -> GatewayConfig:
    """Load and check a configuration's model (e.g. for its points); raise ConfigError
    with every issue. A configuration to *run* is loaded with `check_config`."""
    path = Path(path)
    data, lines = _read_yaml(path)
    return _build(data, str(path), lines, path.parent, registry, runnable=False)[0]


def check_config(
    path: str | Path, registry: AdapterRegistry = REGISTRY
) -> tuple[GatewayConfig, list[ConfigIssue]]:
    """Load a configuration to run: besides `load_config`'s checks it needs an adapter and
    an owner for every point; returns it with the warnings (settings that cannot work)."""
    path = Path(path)
    data, lines = _read_yaml(path)
    return _build(data, str(path), lines, path.parent, registry, runnable=True)


def env_references(text: str) -> set[str]:
    """The environment variables `text` refers to (`${NAME}`, not the escaped `$${`)."""
    return {m.group(2) for m in ENV_REFERENCE.finditer(text) if m.group(2)}


def check_config_text(
    text: str,
    file: str | Path,
    base: Path,
    registry: AdapterRegistry = REGISTRY,
    env_allowed: Collection[str] = (),
) -> tuple[GatewayConfig, list[ConfigIssue]]:
    """`check_config` of a configuration given as YAML text (a proposed one, e.g. posted to
    the REST API); `file` names it in the issues, `base` resolves its relative paths. Such a
    text may refer only to the environment variables of `env_allowed` (those the running
    file already uses): it must not be a way to read the gateway's environment."""
    refused = [
        ConfigIssue(
            str(file),
            text.count("\n", 0, m.start()) + 1,
            "",
            f"environment variable {m.group(2)} is not used by the running configuration "
            "file; a configuration given over the API may use only the variables it does",
        )
        for m in ENV_REFERENCE.finditer(text)
        if m.group(2) and m.group(2) not in env_allowed
    ]
    if refused:
        raise ConfigError(refused)
    data, lines = _parse_yaml(text, file)
    return _build(data, str(file), lines, base, registry, runnable=True)


def build_config(
    data: Any,
    file: str,
    lines: dict[Loc, int] | None = None,
    base: Path | None = None,
    registry: AdapterRegistry = REGISTRY,
) -> GatewayConfig:
    """Check a configuration given as plain data (e.g. parsed YAML or a REST body)."""
    return _build(data, file, lines or {}, base or Path.cwd(), registry, runnable=False)[0]


def _build(
    data: Any,
    file: str,
    lines: dict[Loc, int],
    base: Path,
    registry: AdapterRegistry,
    runnable: bool,
) -> tuple[GatewayConfig, list[ConfigIssue]]:
    """Every check in one pass: schema of each section, point and adapter, references,
    unknown types (and when `runnable`, adapters and owners); raises ConfigError with all
    errors (and the warnings)."""
    if data is None:
        if runnable:
            raise ConfigError([ConfigIssue(file, None, "", "the file is empty")])
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(file, 1, "", "the top level must be a mapping")])
    issues: list[ConfigIssue] = []
    warnings: list[ConfigIssue] = []
    for key in data:
        if key not in SECTIONS:
            loc: Loc = (str(key),)
            issues.append(
                ConfigIssue(file, _line_of(lines, loc), str(key), "Extra inputs are not permitted")
            )
    gateway = _validated(GatewaySettings, data, "gateway", file, lines, issues)
    if gateway is not None and gateway.api is not None:
        gateway = _checked_api(gateway, gateway.api.resolved(base), file, lines, issues)
    point_defs, broken = _validated_points(data, file, lines, issues)
    point_files = [
        spec
        for spec in _validated_list(PointFile, data, "point_files", file, lines, issues)
        if spec is not None
    ]
    raw_adapters = _raw_adapters(data, file, lines, issues)
    points, from_isn = _collect_points(point_defs, point_files, file, lines, base, issues)
    known = points.keys() | broken
    adapters, complete = _collect_adapters(raw_adapters, file, lines, base, registry, known, issues)
    if runnable and not data.get("adapters"):  # absent, null or []
        line = _line_of(lines, ("adapters",)) if "adapters" in data else None
        issues.append(
            ConfigIssue(file, line, "adapters", "no adapters: a gateway runs at least one")
        )
    if runnable and complete:
        _check_owners(points, point_defs, from_isn, adapters, file, lines, issues, warnings)
    for i, entry in adapters:
        line = _line_of(lines, ("adapters", i))
        for message in entry.settings.check(points):
            warnings.append(ConfigIssue(file, line, f"adapters[{i}]", message))
    if issues:
        raise ConfigError(issues, warnings=warnings)
    config = GatewayConfig(
        gateway=gateway or GatewaySettings(),
        points=list(points.values()),
        point_files=point_files,
        adapters=[entry for _, entry in adapters],
    )
    return config, warnings


def _checked_api(
    gateway: GatewaySettings,
    api: ApiSettings,
    file: str,
    lines: dict[Loc, int],
    issues: list[ConfigIssue],
) -> GatewaySettings:
    """The settings with the API's file names resolved; a tokens file that cannot be read
    or has a bad line, and a missing certificate or key, are issues of the config."""
    from gateway.api.tokens import TokenFileError, load_tokens  # no web framework imported

    loc: Loc = ("gateway", "api")
    if api.tokens_file is not None:
        try:
            load_tokens(api.tokens_file)
        except TokenFileError as exc:
            field = _field_name((*loc, "tokens_file"))
            issues.append(
                ConfigIssue(file, _line_of(lines, (*loc, "tokens_file")), field, str(exc))
            )
    for key in ("certfile", "keyfile"):
        path = getattr(api, key)
        if path is not None and not path.is_file():
            issues.append(
                ConfigIssue(
                    file,
                    _line_of(lines, (*loc, key)),
                    _field_name((*loc, key)),
                    f"{path} is not a readable file",
                )
            )
    return gateway.model_copy(update={"api": api})


def _validated(
    model: type[M],
    data: dict[str, Any],
    key: str,
    file: str,
    lines: dict[Loc, int],
    issues: list[ConfigIssue],
) -> M | None:
    if key not in data:
        return None
    try:
        return model.model_validate(data[key])
    except ValidationError as exc:
        issues.extend(_issues_from(exc, file, lines, (key,)))
        return None


def _items(
    data: dict[str, Any], key: str, file: str, lines: dict[Loc, int], issues: list[ConfigIssue]
) -> list[Any]:
    value = data.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        issues.append(ConfigIssue(file, _line_of(lines, (key,)), key, "Input should be a list"))
        return []
    return value


def _validated_list(
    model: type[M],
    data: dict[str, Any],
    key: str,
    file: str,
    lines: dict[Loc, int],
    issues: list[ConfigIssue],
) -> list[M | None]:
    """Each item of the list under `key` as a `model` (None where it is invalid: its
    issues are added)."""
    out: list[M | None] = []
    for i, item in enumerate(_items(data, key, file, lines, issues)):
        try:
            out.append(model.model_validate(item))
        except ValidationError as exc:
            issues.extend(_issues_from(exc, file, lines, (key, i)))
            out.append(None)
    return out


def _validated_points(
    data: dict[str, Any], file: str, lines: dict[Loc, int], issues: list[ConfigIssue]
) -> tuple[dict[int, PointDef], set[str]]:
    """The valid points of the `points:` section by position, and the ids of the invalid
    ones (so that adapters naming them are not also reported as naming unknown points)."""
    checked = _validated_list(PointDef, data, "points", file, lines, issues)
    points = {j: point for j, point in enumerate(checked) if point is not None}
    raw = data["points"] if isinstance(data.get("points"), list) else []
    broken = {
        item["id"]
        for item, point in zip(raw, checked, strict=False)
        if point is None and isinstance(item, dict) and isinstance(item.get("id"), str)
    }
    return points, broken


def _raw_adapters(
    data: dict[str, Any], file: str, lines: dict[Loc, int], issues: list[ConfigIssue]
) -> list[tuple[int, dict[str, Any]]]:
    out: list[tuple[int, dict[str, Any]]] = []
    for i, item in enumerate(_items(data, "adapters", file, lines, issues)):
        if isinstance(item, dict):
            out.append((i, item))
        else:
            loc: Loc = ("adapters", i)
            issues.append(
                ConfigIssue(
                    file, _line_of(lines, loc), _field_name(loc), "Input should be a mapping"
                )
            )
    return out


def _collect_points(
    point_defs: dict[int, PointDef],
    point_files: list[PointFile],
    file: str,
    lines: dict[Loc, int],
    base: Path,
    issues: list[ConfigIssue],
) -> tuple[dict[str, PointDef], dict[str, str]]:
    """Every point by id, and the ISN file each point of an ISN file came from."""
    points: dict[str, PointDef] = {}
    where: dict[str, str] = {}
    from_isn: dict[str, str] = {}
    sources: list[tuple[Iterable[tuple[int, PointDef]], str, Loc]] = [
        (point_defs.items(), file, ("points",))
    ]
    for i, spec in enumerate(point_files):
        try:
            loaded = _load_point_file(spec, base)
        except ConfigError as exc:
            issues.extend(exc.issues)
            continue
        sources.append((enumerate(loaded), spec.path, ("point_files", i)))
        if spec.format == "isn":
            from_isn.update((p.id, spec.path) for p in loaded)
    for defs, origin, loc in sources:
        for j, point in defs:
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
    return points, from_isn


def _collect_adapters(
    raw_adapters: list[tuple[int, dict[str, Any]]],
    file: str,
    lines: dict[Loc, int],
    base: Path,
    registry: AdapterRegistry,
    points: Collection[str],
    issues: list[ConfigIssue],
) -> tuple[list[tuple[int, AdapterConfig]], bool]:
    """The valid adapters (with their index in the file), and whether every one was."""
    adapters: list[tuple[int, AdapterConfig]] = []
    owners: dict[str, str] = {}
    complete = True
    for i, raw in raw_adapters:
        loc: Loc = ("adapters", i)
        settings = {k: v for k, v in raw.items() if k not in ("name", "type", "enabled")}
        head = {k: v for k, v in raw.items() if k in ("name", "type", "enabled")}
        entry: AdapterConfig | None = None
        typed: AdapterSettings | None = None
        try:
            entry = AdapterConfig.model_validate(head)
        except ValidationError as exc:
            issues.extend(_issues_from(exc, file, lines, loc))
        type_name = head.get("type")
        if isinstance(type_name, str):
            try:
                cls = registry.get(type_name)
                # Adapters resolve relative file names (e.g. point lists) against `base`.
                typed = cls.Settings.model_validate(settings, context={"base": base})
            except ValidationError as exc:
                issues.extend(_issues_from(exc, file, lines, loc))
            except UnknownAdapterType as exc:
                type_loc = (*loc, "type")
                issues.append(
                    ConfigIssue(file, _line_of(lines, type_loc), _field_name(type_loc), str(exc))
                )
        if entry is None or typed is None:
            complete = False
            continue
        if any(a.name == entry.name for _, a in adapters):
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
        adapters.append((i, entry.model_copy(update={"settings": typed})))
    return adapters, complete


def _check_owners(
    points: dict[str, PointDef],
    point_defs: dict[int, PointDef],
    from_isn: dict[str, str],
    adapters: list[tuple[int, AdapterConfig]],
    file: str,
    lines: dict[Loc, int],
    issues: list[ConfigIssue],
    warnings: list[ConfigIssue],
) -> None:
    """A point of our own lists that no adapter owns (a disabled one counts) can never be
    valid: an error. An ISN file lists the whole exchange, of which a gateway may feed only
    part: its unowned points are one warning per file."""
    owned: set[str] = set()
    for _, entry in adapters:
        owned |= entry.settings.owned_points()
    in_file = {p.id: j for j, p in point_defs.items()}
    unfed: dict[str, list[str]] = {}
    for point in points:
        if point in owned:
            continue
        if point in from_isn:
            unfed.setdefault(from_isn[point], []).append(point)
            continue
        j = in_file.get(point)
        if j is None:
            where, line, field = file, None, "points"
        else:
            where, line, field = file, _line_of(lines, ("points", j)), f"points[{j}].id"
        issues.append(
            ConfigIssue(
                where, line, field, f"point {point!r} has no owner: no adapter publishes it"
            )
        )
    for path, ids in unfed.items():
        shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        warnings.append(
            ConfigIssue(
                path, None, "", f"{len(ids)} points have no owner and stay not valid: {shown}"
            )
        )


# -- what a reload changes ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigDiff:
    """What going from one configuration to another changes (running adapters only).

    `parts_removed` are (adapter, kind, id) of named parts such as bilateral tables, from
    `AdapterSettings.parts()`, including those of removed adapters.
    """

    adapters_added: list[str]
    adapters_removed: list[str]
    adapters_changed: list[str]
    points_added: list[str]
    points_removed: list[str]
    points_changed: list[str]
    parts_removed: list[tuple[str, str, str]]

    def lines(self) -> list[str]:
        """One line per kind of change, for people; empty when nothing changes."""
        out = [
            f"{label}: {', '.join(names)}"
            for label, names in (
                ("adapters added", self.adapters_added),
                ("adapters removed", self.adapters_removed),
                ("adapters changed", self.adapters_changed),
            )
            if names
        ]
        for label, names in (
            ("points added", self.points_added),
            ("points removed", self.points_removed),
            ("points changed", self.points_changed),
        ):
            if names:
                more = f" and {len(names) - 10} more" if len(names) > 10 else ""
                out.append(f"{label}: {len(names)} ({', '.join(names[:10])}{more})")
        kinds = sorted({kind for _, kind, _ in self.parts_removed})
        for kind in kinds:
            names = [f"{a}/{i}" for a, k, i in self.parts_removed if k == kind]
            out.append(f"{kind}s removed: {', '.join(names)}")
        return out


def diff_configs(old: GatewayConfig, new: GatewayConfig) -> ConfigDiff:
    """What a reload from `old` to `new` would change."""
    before = {a.name: a for a in old.adapters if a.enabled}
    after = {a.name: a for a in new.adapters if a.enabled}
    old_points, new_points = old.point_map(), new.point_map()
    parts: list[tuple[str, str, str]] = []
    for name, cfg in before.items():
        kept = after[name].settings.parts() if name in after else {}
        for kind, ids in cfg.settings.parts().items():
            parts.extend((name, kind, i) for i in sorted(ids - kept.get(kind, set())))
    return ConfigDiff(
        adapters_added=[n for n in after if n not in before],
        adapters_removed=[n for n in before if n not in after],
        adapters_changed=[n for n in after if n in before and after[n] != before[n]],
        points_added=[p for p in new_points if p not in old_points],
        points_removed=[p for p in old_points if p not in new_points],
        points_changed=[
            p for p in new_points if p in old_points and old_points[p] != new_points[p]
        ],
        parts_removed=parts,
    )
