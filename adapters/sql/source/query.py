"""The statements of an `sql-source` adapter: built from its settings and checked (sans-IO).

The poll statement reads the rows after the high-water mark, in mark order, a page at a
time: `SELECT <mark>, <key or point columns>, <value>, <quality>, <time> FROM <table or
(query) AS q> WHERE <mark> > :since ORDER BY <mark> LIMIT :limit` (the first poll, with no
mark yet, has no WHERE). Names are checked to be plain SQL identifiers (optionally
`schema.name`), so nothing from a configuration is spliced into SQL but names and the
user's own query, which must be one SELECT (or WITH) taking no parameters.

Command statements are the user's INSERT/UPDATE/...; they may use the bind parameters
`:point`, `:key`, `:value` and `:time` and no others. Checks here read the text only
(SQLAlchemy's `text()` finds the bind parameters); the database itself checks the rest at
the first connection (see the adapter).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import TextClause, text

__all__ = [
    "COMMAND_PARAMETERS",
    "Columns",
    "CommandStatement",
    "PollStatements",
    "check_identifier",
    "check_query",
    "command_statement",
    "poll_statements",
]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.DOTALL)
_FIRST_WORD = re.compile(r"^\s*\(?\s*([A-Za-z]+)")

COMMAND_PARAMETERS = ("point", "key", "value", "time")
"""The bind parameters a command statement may use: the bus point id, the point's key in
the table, the raw value (after the inverse of a*x+b) and the command's time (UTC)."""
COMMAND_VERBS = ("INSERT", "UPDATE", "DELETE", "MERGE", "WITH", "CALL", "SELECT", "REPLACE")
"""What a command statement may start with (SELECT: a function that applies it)."""
QUERY_VERBS = ("SELECT", "WITH")


def check_identifier(name: str, what: str) -> str:
    """`name` if it is a plain SQL identifier (or schema.identifier), else ValueError."""
    if not _IDENTIFIER.match(name):
        raise ValueError(
            f"{what} {name!r} is not a plain SQL name (letters, digits, _ and $, "
            "optionally schema.name)"
        )
    return name


def _code(sql: str) -> str:
    """The statement with its quoted strings, quoted names and comments blanked out."""
    return _QUOTED.sub(lambda m: " " * len(m.group(0)), sql)


def _one_statement(sql: str, what: str, verbs: Sequence[str]) -> str:
    """The statement without a trailing `;`; ValueError for an empty one, several, or one
    that does not start with one of `verbs`."""
    stripped = sql.strip().rstrip(";").strip()
    if not stripped:
        raise ValueError(f"{what} is empty")
    code = _code(stripped)
    if ";" in code:
        raise ValueError(f"{what} holds more than one statement: {_short(sql)}")
    word = _FIRST_WORD.match(code)
    if word is None or word.group(1).upper() not in verbs:
        raise ValueError(f"{what} must start with {' or '.join(verbs)}: {_short(sql)}")
    return stripped


def _short(sql: str, limit: int = 120) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _parameters(sql: str, what: str) -> set[str]:
    try:
        clause = text(sql)
    except Exception as exc:  # text() raises little, but never let it escape as a traceback
        raise ValueError(f"{what} cannot be read: {exc}: {_short(sql)}") from None
    return set(clause._bindparams)


def check_query(sql: str) -> str:
    """A source query: one SELECT/WITH without bind parameters (the adapter adds the mark
    condition around it). Returns it without a trailing `;`; ValueError otherwise."""
    query = _one_statement(sql, "the query", QUERY_VERBS)
    params = _parameters(query, "the query")
    if params:
        raise ValueError(
            f"the query takes no parameters (found :{', :'.join(sorted(params))}); the adapter "
            f"reads the rows after the mark itself: {_short(sql)}"
        )
    return query


@dataclass(frozen=True, slots=True)
class CommandStatement:
    """A checked command statement and the bind parameters it uses."""

    sql: str
    parameters: frozenset[str]
    clause: TextClause

    def bind(self, point: str, key: str, value: object, time: object) -> dict[str, object]:
        """The parameter values for one command."""
        every = {"point": point, "key": key, "value": value, "time": time}
        return {name: every[name] for name in self.parameters}

    @property
    def short(self) -> str:
        """The statement on one line, shortened, for messages."""
        return _short(self.sql)


def command_statement(sql: str, what: str = "the command statement") -> CommandStatement:
    """Check a command statement (one INSERT/UPDATE/..., bind parameters among
    COMMAND_PARAMETERS); ValueError naming `what` and the statement otherwise."""
    statement = _one_statement(sql, what, COMMAND_VERBS)
    params = _parameters(statement, what)
    unknown = sorted(params - set(COMMAND_PARAMETERS))
    if unknown:
        raise ValueError(
            f"{what} uses :{', :'.join(unknown)}; it may use :{', :'.join(COMMAND_PARAMETERS)}: "
            f"{_short(sql)}"
        )
    if "value" not in params:
        raise ValueError(f"{what} does not use :value: {_short(sql)}")
    return CommandStatement(statement, frozenset(params), text(statement))


@dataclass(frozen=True, slots=True)
class Columns:
    """Where each field is in a poll row: positions in the SELECT list."""

    mark: int
    key: int | None
    value: int | None
    quality: int | None
    time: int | None
    points: dict[str, int]
    """Wide rows (no key column): the position of each bound point's column."""


@dataclass(frozen=True, slots=True)
class PollStatements:
    """The poll statement with and without the mark condition, and its row layout."""

    first: TextClause
    after: TextClause
    columns: Columns
    sql: str
    """The statement after the mark, for messages."""


def poll_statements(
    *,
    table: str | None,
    query: str | None,
    mark: str,
    key: str | None,
    value: str | None,
    quality: str | None,
    time: str | None,
    point_columns: Sequence[str] = (),
) -> PollStatements:
    """Build the poll statements for a table or a query (exactly one of the two).

    With a `key` column each row is one value of the point whose key it holds (in
    `value`); without, each row holds the values of several points, one per column of
    `point_columns`. Identifiers are checked (ValueError).
    """
    if (table is None) == (query is None):
        raise ValueError("give either table or query")
    names = {"mark": mark, "key": key, "value": value, "quality": quality, "time": time}
    for field, name in names.items():
        if name is not None:
            check_identifier(name, f"{field} column")
    for name in point_columns:
        check_identifier(name, "point column")
    if table is not None:
        source, prefix = check_identifier(table, "table"), ""
    else:
        assert query is not None
        source, prefix = f"(\n{check_query(query)}\n) AS q", "q."
    listed: list[str] = []

    def position(name: str | None) -> int | None:
        if name is None:
            return None
        if name not in listed:
            listed.append(name)
        return listed.index(name)

    mark_at = position(mark)
    assert mark_at is not None
    columns = Columns(
        mark=mark_at,
        key=position(key),
        value=position(value) if key is not None else None,
        quality=position(quality),
        time=position(time),
        points={}
        if key is not None
        else {c: p for c in point_columns if (p := position(c)) is not None},
    )
    select = ", ".join(f"{prefix}{name}" for name in listed)
    base = f"SELECT {select} FROM {source}"
    order = f" ORDER BY {prefix}{mark} LIMIT :limit"
    after = f"{base} WHERE {prefix}{mark} > :since{order}"
    return PollStatements(text(base + order), text(after), columns, after)
