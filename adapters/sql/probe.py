"""Which setting a database's objection is about, and a look into an SQLite file at check time.

`blame()` turns a database error message ("no such column: valu", `column "valu" does not
exist`, "near "FORM": syntax error"...) into the name of the setting that caused it (`value`,
`query`...), so that both `iccp-gateway check` and the running adapter say which field to
fix. `read_only()` opens an existing SQLite file without writing to it (no journal, no
creation): `iccp-gateway check` and a reload ask SQLite itself to compile the statements of an
SQL adapter, so a missing table or column or a syntax error is refused before the adapter
runs. A PostgreSQL server is not contacted at check time: the adapter checks its statements
at the first connection and names the field there.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.engine import URL

_COLUMN = (
    re.compile(r"no such column: (\S+)"),
    re.compile(r'column "?([^"\s]+)"? does not exist'),
    re.compile(r"has no column named (\S+)"),
)
_TABLE = (
    re.compile(r"no such table: (\S+)"),
    re.compile(r'relation "([^"]+)" does not exist'),
)


def sqlite_file(url: URL) -> Path | None:
    """The file of an SQLite URL when it exists (else None, also for other databases)."""
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    path = Path(url.database)
    return path if path.is_file() else None


def read_only(path: Path) -> sqlite3.Connection:
    """`path` opened read-only (sqlite3.Error when it is not an SQLite database)."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=1.0)
    try:
        conn.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def busy(exc: sqlite3.Error) -> bool:
    """Whether `exc` only says that another connection holds the database for now (then the
    check is left to the adapter, rather than a good configuration refused)."""
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )


def objection(conn: sqlite3.Connection, sql: str, params: Mapping[str, object]) -> str | None:
    """SQLite's objection to compiling `sql` (EXPLAIN: nothing is run), None when it has none
    (or when the database is busy: see `busy`)."""
    try:
        conn.execute(f"EXPLAIN {sql}", dict(params)).fetchall()
    except sqlite3.Error as exc:
        if busy(exc):
            return None
        return " ".join(str(exc).split()) or type(exc).__name__
    return None


def table_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    """The columns of `table` in an SQLite database ([] when there is no such table)."""
    schema, _, name = table.rpartition(".")
    pragma = f'PRAGMA "{schema}".table_info("{name}")' if schema else f'PRAGMA table_info("{name}")'
    try:
        return [row[1] for row in conn.execute(pragma)]
    except sqlite3.Error:
        return []


def blame(message: str, columns: Mapping[str, str], table_field: str) -> str:
    """The setting a database `message` is about: the field naming the missing column (of
    `columns`, setting -> column name), else `table_field` (`table` or `query`)."""
    for pattern in _COLUMN:
        found = pattern.search(message)
        if found:
            missing = found.group(1).strip("\"'`").rsplit(".", 1)[-1].lower()
            for field, name in columns.items():
                if name.rsplit(".", 1)[-1].lower() == missing:
                    return field
            return table_field
    return table_field


def missing_table(message: str) -> bool:
    """Whether a database `message` says that a table does not exist."""
    return any(pattern.search(message) for pattern in _TABLE)
