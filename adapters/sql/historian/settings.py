"""Settings of an `sql-historian` adapter, as written inline in a config's `adapters:` entry."""

from __future__ import annotations

import fnmatch
import re
import sqlite3
from collections.abc import Mapping
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
from adapters.sql.historian.schema import SCHEMA_VERSION, check_table_name
from adapters.sql.probe import busy, read_only, sqlite_file
from gateway.backoff import BackoffSettings
from gateway.points import PointDef
from gateway.registry import AdapterSettings

MIB = 1024 * 1024


def is_pattern(text: str) -> bool:
    """True when a `points` entry is a glob pattern (`*`, `?` or `[...]`)."""
    return any(c in text for c in "*?[")


class HistorianPoint(BaseModel):
    """A bus point id or glob pattern to store, with its own `interval` if it differs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    match: str = Field(min_length=1, description="point id or glob pattern (*, ?, [...])")
    interval: float | None = Field(
        default=None, ge=0, description="at most one row per this many seconds (0: every change)"
    )

    @field_validator("match")
    @classmethod
    def _check_match(cls, value: str) -> str:
        if is_pattern(value):
            try:
                re.compile(fnmatch.translate(value))
            except re.error as exc:
                raise ValueError(f"{value!r} is not a valid pattern: {exc}") from None
        return value

    def matches(self, point: str) -> bool:
        if is_pattern(self.match):
            return fnmatch.fnmatchcase(point, self.match)
        return point == self.match


class RetentionSettings(BaseModel):
    """What happens to rows older than `days`: deleted (`drop`), or thinned to the first row
    of each point in each `downsample_interval` (`downsample`); checked every `period` s."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: float = Field(gt=0, description="rows older than this are dropped or downsampled")
    mode: Literal["drop", "downsample"] = "drop"
    downsample_interval: float = Field(
        default=3600.0, gt=0, description="downsample: keep one row per point per this many s"
    )
    period: float = Field(default=3600.0, gt=0, description="seconds between retention runs")


class HistorianSettings(AdapterSettings, DatabaseSettings, BackoffSettings):
    """Settings of an `sql-historian` adapter: database, points, rates, journal, retention.

    `points` are bus point ids or glob patterns; patterns are matched against the bus again
    every `refresh_period` seconds. `interval` (s) is the least time between two rows of one
    point (0: every change; a change within it is held and the latest one written when the
    interval ends). Rows wait in the journal (`journal_dir`, by default `state/` beside the
    configuration file) until the database has committed them; the journal holds at most
    `journal_max_bytes`, beyond which the oldest unsent rows are dropped and counted.
    """

    table: str = Field(default="history", description="table name (and prefix of its helpers)")
    points: list[HistorianPoint] = Field(min_length=1)
    interval: float = Field(default=0.0, ge=0, description="default least seconds between rows")
    batch_size: int = Field(default=10_000, ge=1, le=1_000_000, description="rows per write")
    write_timeout: float = Field(default=30.0, gt=0, description="seconds for one write")
    connect_timeout: float = Field(default=10.0, gt=0)
    queue_size: int = Field(
        default=1_000_000, ge=1000, description="changes the bus keeps for the historian"
    )
    journal_dir: str | None = Field(default=None, description="default: state/<adapter name>")
    journal_max_bytes: int = Field(default=256 * MIB, ge=MIB, description="the journal's bound")
    journal_segment_bytes: int = Field(default=16 * MIB, ge=64 * 1024)
    journal_sync: bool = Field(default=False, description="fsync each append (power loss)")
    retention: RetentionSettings | None = None
    refresh_period: float = Field(default=5.0, gt=0, description="re-match patterns every s")

    _base: Path | None = PrivateAttr(default=None)

    @field_validator("table")
    @classmethod
    def _check_table(cls, value: str) -> str:
        return check_table_name(value)

    @field_validator("points", mode="before")
    @classmethod
    def _bare_patterns(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"match": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _remember_base(self, info: ValidationInfo) -> HistorianSettings:
        context = info.context if isinstance(info.context, dict) else {}
        base = context.get("base")
        self._base = None if base is None else Path(base)
        seen: set[str] = set()
        for entry in self.points:
            if entry.match in seen:
                raise ValueError(f"points: {entry.match!r} is listed twice")
            seen.add(entry.match)
        if base is not None:  # a configuration file: look into its SQLite file, if any
            self._probe()
        return self

    def _probe(self) -> None:
        """An existing SQLite file must be a database whose `table` is the historian's own
        (or absent: it is created); ValueError naming the field otherwise. The same checks
        are made by the adapter on every database when it connects."""
        path = sqlite_file(self.url())
        if path is None:
            return
        history, schema = self.table, f"{self.table}_schema"
        try:
            conn = read_only(path)
            try:
                names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
                version = None
                if schema in names:
                    version = conn.execute(f'SELECT max(version) FROM "{schema}"').fetchone()[0]
            finally:
                conn.close()
        except sqlite3.Error as exc:
            if busy(exc):
                return  # held by a writer now: the adapter checks when it connects
            raise ValueError(f"database: {path} cannot be read: {exc}") from None
        if history in names and schema not in names:
            raise ValueError(
                f"table: table {history!r} in {path} was not created by the historian (no "
                f"{schema!r} table): choose another table name"
            )
        if version is not None and version > SCHEMA_VERSION:
            raise ValueError(
                f"table: the historian tables {history!r} in {path} are at schema version "
                f"{version}, newer than this gateway's {SCHEMA_VERSION}"
            )

    @property
    def base(self) -> Path:
        """The directory relative paths are taken from (the configuration file's)."""
        return self._base if self._base is not None else Path.cwd()

    def url(self) -> URL:
        """The database URL, a relative SQLite path taken from the configuration's directory."""
        return self.database_url(self.base)

    def journal_path(self, adapter: str) -> Path:
        """The journal directory of the adapter named `adapter`."""
        if self.journal_dir is None:
            return self.base / "state" / f"journal-{adapter}"
        path = Path(self.journal_dir)
        return path if path.is_absolute() else self.base / path

    def select(self, points: Mapping[str, object] | set[str] | list[str]) -> dict[str, float]:
        """The points of `points` to store, each with its interval."""
        out: dict[str, float] = {}
        exact = {e.match: e for e in self.points if not is_pattern(e.match)}
        patterns = [e for e in self.points if is_pattern(e.match)]
        for point in points:
            entry = exact.get(point)
            if entry is None:
                entry = next((e for e in patterns if e.matches(point)), None)
            if entry is not None:
                out[point] = self.interval if entry.interval is None else entry.interval
        return out

    def consumed_points(self) -> set[str]:
        """The points named exactly (patterns are matched against the bus at run time)."""
        return {e.match for e in self.points if not is_pattern(e.match)}

    def check(self, points: Mapping[str, PointDef]) -> list[str]:
        """A warning for each pattern that selects no configured point."""
        return [
            f"points: pattern {e.match!r} selects no point"
            for e in self.points
            if is_pattern(e.match) and not any(e.matches(p) for p in points)
        ]

    def same_storage(self, other: HistorianSettings) -> bool:
        """Whether `other` writes to the same database, table and journal (only points,
        intervals and rates differ): then a running adapter can take it in place."""
        keys = ("database", "table", "journal_dir", "journal_max_bytes", "journal_sync")
        return self.base == other.base and all(
            getattr(self, k) == getattr(other, k) for k in (*keys, "journal_segment_bytes")
        )
