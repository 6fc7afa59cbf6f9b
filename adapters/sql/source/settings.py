"""Settings of the `sql-source` adapter: where the rows are, how columns map to points.

The adapter polls a `table` (or a `query`, one SELECT) for the rows after its high-water
`mark` column (a sequence number, or a time for `mark_kind: time`). Rows are either *long*
(a `key` column names the point, `value` holds its value) or *wide* (no `key`: each bound
point has its own `column`). A `quality` column is mapped to TASE.2 quality by
`quality_map` (text or integer codes) or `quality_bits` (flag masks); a `time` column is
the source time stamp (else the receive time, with the timestamp-quality bit). Commands
for `writable` points run the point's `command` statement, or the adapter's.
Bindings come from `points:` and/or a CSV `points_file` with the same columns.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import URL

from adapters.sql.database import DatabaseSettings
from adapters.sql.probe import blame, busy, objection, read_only, sqlite_file, table_columns
from adapters.sql.source.query import (
    COMMAND_PARAMETERS,
    CommandStatement,
    PollStatements,
    check_identifier,
    command_statement,
    poll_statements,
)
from gateway.backoff import BackoffSettings
from gateway.mapping import StateTable, parse_states, state_name
from gateway.pointfiles import load_points_csv, resolve_path
from gateway.points import PointDef, PointKind, Quality, Source, State, Validity
from gateway.registry import AdapterSettings

__all__ = [
    "DEFAULT_QUALITY_MAP",
    "DEFAULT_STATE_DIR",
    "QualitySpec",
    "SourcePoint",
    "SqlSourceSettings",
    "parse_quality",
]

StateName = Literal["between", "off", "on", "invalid"]
DEFAULT_STATE_DIR = "state"
"""The state directory, relative to the configuration file, when `state_dir` is not set."""

_VALIDITY_WORDS = {
    "valid": Validity.VALID,
    "good": Validity.VALID,
    "held": Validity.HELD,
    "suspect": Validity.SUSPECT,
    "not-valid": Validity.NOT_VALID,
    "not_valid": Validity.NOT_VALID,
    "invalid": Validity.NOT_VALID,
}
_SOURCE_WORDS = {s.name.lower(): s for s in Source}
_SPLIT = re.compile(r"[\s,+|]+")


@dataclass(frozen=True, slots=True)
class QualitySpec:
    """What a quality code says: a validity and/or a source, the off-normal and the
    timestamp-quality bits (None/False: says nothing about it)."""

    validity: Validity | None = None
    source: Source | None = None
    abnormal: bool = False
    time_invalid: bool = False

    def quality(self) -> Quality:
        """The quality of this code on its own (valid and telemetered unless it says)."""
        return Quality(
            Validity.VALID if self.validity is None else self.validity,
            Source.TELEMETERED if self.source is None else self.source,
            self.abnormal,
            self.time_invalid,
        )

    def merge(self, other: QualitySpec) -> QualitySpec:
        """Both at once: the worse validity, `other`'s source if it names one."""
        validity = self.validity
        if other.validity is not None and (validity is None or other.validity > validity):
            validity = other.validity
        return QualitySpec(
            validity,
            other.source if other.source is not None else self.source,
            self.abnormal or other.abnormal,
            self.time_invalid or other.time_invalid,
        )


def parse_quality(text: object) -> QualitySpec:
    """A quality spec: words among valid/held/suspect/not-valid, telemetered/calculated/
    entered/estimated, abnormal, time-invalid (e.g. `suspect estimated`)."""
    if isinstance(text, QualitySpec):
        return text
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"a quality is words like 'valid', 'suspect estimated', not {text!r}")
    spec = QualitySpec()
    flat = text.strip().lower().replace("not valid", "not-valid")
    flat = flat.replace("time invalid", "time-invalid")
    for word in _SPLIT.split(flat):
        if word in _VALIDITY_WORDS:
            spec = spec.merge(QualitySpec(validity=_VALIDITY_WORDS[word]))
        elif word in _SOURCE_WORDS:
            spec = QualitySpec(spec.validity, _SOURCE_WORDS[word], spec.abnormal, spec.time_invalid)
        elif word in ("abnormal", "off-normal"):
            spec = spec.merge(QualitySpec(abnormal=True))
        elif word in ("time-invalid", "timestamp-invalid"):
            spec = spec.merge(QualitySpec(time_invalid=True))
        elif word:
            raise ValueError(
                f"unknown quality word {word!r}: use valid, held, suspect, not-valid, "
                "telemetered, calculated, entered, estimated, abnormal, time-invalid"
            )
    return spec


DEFAULT_QUALITY_MAP: dict[str, str] = {
    "good": "valid",
    "valid": "valid",
    "ok": "valid",
    "held": "held",
    "suspect": "suspect",
    "uncertain": "suspect",
    "questionable": "suspect",
    "bad": "not-valid",
    "invalid": "not-valid",
    "not-valid": "not-valid",
    "not valid": "not-valid",
    "estimated": "valid estimated",
    "calculated": "valid calculated",
    "entered": "valid entered",
    "manual": "valid entered",
}
"""The quality column's codes when neither `quality_map` nor `quality_bits` is given."""


def quality_code(value: object) -> str:
    """How a quality cell is looked up in a `quality_map`: trimmed lower-case text; a whole
    number as its digits (2.0 -> '2')."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().lower()


class SourcePoint(BaseModel):
    """A point read (and, when `writable`, commanded) by an `sql-source` adapter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    point: str
    key: str | None = Field(
        default=None, description="long rows: the key column's value for it (default: point id)"
    )
    column: str | None = Field(default=None, description="wide rows: the column of its value")
    scale: float = 1.0
    offset: float = 0.0
    states: dict[int, StateName] | None = Field(
        default=None, description="raw state code -> state; default 0:off;1:on"
    )
    normal: StateName | None = None
    writable: bool = False
    command: str | None = Field(default=None, description="its own command statement")

    @model_validator(mode="before")
    @classmethod
    def _lower(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if "states" in data:
                data["states"] = parse_states(data["states"])
            if "normal" in data:
                data["normal"] = state_name(data["normal"])
            if isinstance(data.get("key"), int | float):
                data["key"] = quality_code(data["key"])
        return data

    @model_validator(mode="after")
    def _check(self) -> SourcePoint:
        if self.scale == 0:
            raise ValueError("scale must not be 0")
        if self.column is not None:
            check_identifier(self.column, "column")
        if self.command is not None:
            command_statement(self.command, f"the command of {self.point}")
            if not self.writable:
                raise ValueError(f"{self.point} has a command but is not writable")
        return self

    @property
    def key_value(self) -> str:
        """The key column's value that names this point."""
        return self.point if self.key is None else self.key

    @property
    def state_table(self) -> StateTable:
        """Raw state code -> bus state (default 0 off, 1 on)."""
        normal = None if self.normal is None else State[self.normal.upper()]
        if self.states is not None:
            codes = {code: State[name.upper()] for code, name in self.states.items()}
        else:
            codes = {0: State.OFF, 1: State.ON}
        return StateTable(codes, normal=normal)


class SqlSourceSettings(AdapterSettings, DatabaseSettings, BackoffSettings):
    """Settings of an `sql-source` adapter (see the module's description).

    `overlap` is how far back each poll re-reads below the mark (sequence numbers, or
    seconds for `mark_kind: time`; default 1000 or 10 s): a row that commits late with a
    mark inside it is still read, rows already applied are recognised by (key, mark) and
    not applied again. `state_dir` keeps the mark across restarts (relative to the
    configuration file; `state/` there by default).
    """

    table: str | None = None
    query: str | None = None
    mark: str = "seq"
    mark_kind: Literal["sequence", "time"] = "sequence"
    overlap: float | None = Field(default=None, ge=0)
    key: str | None = Field(default=None, description="column naming the point (long rows)")
    value: str = "value"
    quality: str | None = None
    time: str | None = None
    time_unit: Literal["s", "ms"] = Field(default="s", description="a numeric time column's unit")
    quality_map: dict[str, str] | None = None
    quality_bits: dict[int, str] | None = None
    poll_interval: float = Field(default=1.0, gt=0)
    batch_size: int = Field(default=10_000, ge=1, le=1_000_000)
    listen: str | None = Field(default=None, description="PostgreSQL NOTIFY channel: poll at once")
    command: str | None = Field(default=None, description="command statement of writable points")
    command_timeout: float = Field(default=5.0, gt=0)
    connect_timeout: float = Field(default=5.0, gt=0)
    state_dir: Path | None = Field(default=None, validate_default=True)
    state_interval: float = Field(
        default=1.0, ge=0, description="seconds between two saves of the mark (0: every poll)"
    )
    points: list[SourcePoint] = Field(default_factory=list)
    points_file: str | None = None

    _file_points: list[SourcePoint] = PrivateAttr(default_factory=list)
    _statements: PollStatements | None = PrivateAttr(default=None)
    _base: Path | None = PrivateAttr(default=None)

    @field_validator("state_dir")
    @classmethod
    def _resolve_state_dir(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        context = info.context if isinstance(info.context, dict) else {}
        base = context.get("base")
        if value is None:
            return None if base is None else Path(base) / DEFAULT_STATE_DIR
        return value if value.is_absolute() or base is None else Path(base) / value

    @field_validator("quality_map", mode="before")
    @classmethod
    def _codes(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {quality_code(k): v for k, v in value.items()}
        return value

    @field_validator("quality_map", "quality_bits")
    @classmethod
    def _specs(cls, value: dict[Any, str] | None) -> dict[Any, str] | None:
        for code, text in (value or {}).items():
            try:
                parse_quality(text)
            except ValueError as exc:
                raise ValueError(f"{code}: {exc}") from None
        return value

    @field_validator("listen")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        return None if value is None else check_identifier(value, "listen channel")

    @model_validator(mode="after")
    def _load_and_check(self, info: ValidationInfo) -> SqlSourceSettings:
        context = info.context if isinstance(info.context, dict) else {}
        if context.get("base") is not None:
            self._base = Path(context["base"])
        if self.points_file:
            self._file_points = load_points_csv(resolve_path(self.points_file, info), SourcePoint)
        if self.quality_map is not None and self.quality_bits is not None:
            raise ValueError("give quality_map or quality_bits, not both")
        if (self.quality_map is not None or self.quality_bits is not None) and not self.quality:
            raise ValueError("quality_map/quality_bits need a quality column (quality: NAME)")
        for mask in self.quality_bits or {}:
            if mask <= 0:
                raise ValueError(f"quality_bits: {mask}: a mask is a positive integer")
        if self.listen is not None and not self.database_url().get_backend_name().startswith(
            "postgresql"
        ):
            raise ValueError("listen (LISTEN/NOTIFY) needs a PostgreSQL database")
        problems: list[str] = []
        seen: set[str] = set()
        keys: dict[str, str] = {}
        for p in self.bindings:
            if p.point in seen:
                problems.append(f"point {p.point!r} is bound twice")
            seen.add(p.point)
            if self.key is not None:
                if p.column is not None:
                    problems.append(f"{p.point}: column is for wide rows (no key column)")
                other = keys.setdefault(p.key_value, p.point)
                if other != p.point:
                    problems.append(f"key {p.key_value!r} is bound to both {other} and {p.point}")
            elif p.column is None and not (p.writable and p.command is not None):
                problems.append(f"{p.point}: wide rows (no key column): give its column")
            if p.writable and p.command is None and self.command is None:
                problems.append(f"{p.point} is writable: give it a command, or the adapter one")
        if problems:
            raise ValueError("; ".join(problems[:20]))
        if self.command is not None:
            command_statement(self.command, "the adapter's command")
        self._statements = poll_statements(
            table=self.table,
            query=self.query,
            mark=self.mark,
            key=self.key,
            value=self.value,
            quality=self.quality,
            time=self.time,
            point_columns=[p.column for p in self.bindings if p.column is not None],
        )
        if context.get("base") is not None:  # a configuration file: look into its SQLite file
            self._probe()
        return self

    def column_fields(self) -> dict[str, str]:
        """Each setting that names a column, with the column it names (for messages)."""
        fields = {"mark": self.mark, "value": self.value}
        for name in ("key", "quality", "time"):
            column = getattr(self, name)
            if column is not None:
                fields[name] = column
        for i, p in enumerate(self.points):
            if p.column is not None:
                fields[f"points[{i}].column"] = p.column
        for p in self._file_points:
            if p.column is not None:
                fields.setdefault(f"points_file ({p.point})", p.column)
        return fields

    @property
    def source_field(self) -> str:
        """The setting that names where the rows are: `query` or `table`."""
        return "query" if self.query is not None else "table"

    def blame(self, message: str) -> str:
        """The setting a database's objection to the poll statement is about."""
        return blame(message, self.column_fields(), self.source_field)

    def _probe(self) -> None:
        """Have SQLite compile the poll and command statements when the database is an
        existing SQLite file: a missing table or column, or a syntax error, is an error of
        the configuration naming its field (ValueError). Other databases: see the adapter."""
        path = sqlite_file(self.url())
        if path is None:
            return
        try:
            conn = read_only(path)
        except sqlite3.Error as exc:
            if busy(exc):
                return  # held by a writer now: the adapter checks when it connects
            raise ValueError(f"database: {path} cannot be opened: {exc}") from None
        try:
            statements = self.statements
            problem = objection(conn, statements.first.text, {"limit": 0})
            if problem is not None:
                field = self.blame(problem)
                hint = ""
                if field != self.source_field and self.table is not None:
                    found = table_columns(conn, self.table)
                    hint = f" (the columns of {self.table}: {', '.join(found)})" if found else ""
                raise ValueError(f"{field}: SQLite refuses the poll statement: {problem}{hint}")
            commands = [("command", self.command)] + [
                (f"points[{i}].command", p.command) for i, p in enumerate(self.points)
            ]
            nones = {name: None for name in COMMAND_PARAMETERS}
            for field, sql in commands:
                if sql is None:
                    continue
                problem = objection(conn, command_statement(sql, field).clause.text, nones)
                if problem is not None:
                    raise ValueError(f"{field}: SQLite refuses the command statement: {problem}")
        finally:
            conn.close()

    def url(self) -> URL:
        """The database URL (a relative SQLite path from the configuration's directory)."""
        return self.database_url(self._base)

    @property
    def window(self) -> float:
        """The overlap in the mark's unit (its default when not set)."""
        if self.overlap is not None:
            return self.overlap
        return 1000.0 if self.mark_kind == "sequence" else 10.0

    @property
    def statements(self) -> PollStatements:
        """The checked poll statements."""
        assert self._statements is not None
        return self._statements

    @property
    def bindings(self) -> list[SourcePoint]:
        """Every binding: the YAML `points` then the `points_file` rows."""
        return [*self.points, *self._file_points]

    def command_of(self, binding: SourcePoint) -> CommandStatement | None:
        """The command statement of a writable binding (its own, else the adapter's)."""
        if not binding.writable:
            return None
        sql = binding.command or self.command
        return None if sql is None else command_statement(sql)

    def source_identity(self) -> str:
        """What the saved mark belongs to: the database (without password), the statement
        and the mark; another one starts from the beginning."""
        url = self.url().render_as_string(hide_password=True)
        return f"{url} {self.statements.sql} {self.mark_kind}"

    def owned_points(self) -> set[str]:
        return {p.point for p in self.bindings}

    def check(self, points: Mapping[str, PointDef]) -> list[str]:
        """Warnings about state tables on points that are not state points."""
        return [
            f"{p.point} has a state table but is a {points[p.point].kind} point"
            for p in self.bindings
            if p.states is not None
            and p.point in points
            and points[p.point].kind is not PointKind.STATE
        ]
