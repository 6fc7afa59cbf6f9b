"""The historian's tables (SQLAlchemy Core), and their creation and migration.

Three tables, named after the configured `table` (default `history`):

* `history` - the rows: `point`, `time`, `value`, `quality` (the TASE.2 Data_Flags octet),
  `cov` (the point's COV counter), indexed by (point, time). `time` is a `timestamptz` in
  PostgreSQL and a REAL of POSIX seconds (UTC) in SQLite, which has no time type;
* `history_schema` - one row: the schema version, so a later gateway can migrate;
* `history_sent` - per historian journal, the number of its last row committed; written in
  the same transaction as the rows, so after a crash no row is sent twice or skipped.

`migrate()` creates what is missing and upgrades an older version; a database whose schema is
newer than this gateway's, or a `history` table the historian did not create, is refused
with a clear error (`SchemaError`) rather than written to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Double,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    inspect,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeEngine

SCHEMA_VERSION = 1
"""The version this gateway writes; `MIGRATIONS` upgrades older ones to it."""

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,47}")


class SchemaError(Exception):
    """The database's historian tables cannot be used (too new, or not ours)."""


def check_table_name(name: str) -> str:
    """`name` if it can name the historian's table (letters, digits, _; at most 48)."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(
            f"table name {name!r} must start with a letter or _ and use only letters, "
            "digits and _ (at most 48 characters)"
        )
    return name


@dataclass(frozen=True)
class Tables:
    """The three tables of one historian `table` name, for one kind of database."""

    metadata: MetaData
    history: Table
    schema: Table
    sent: Table
    postgres: bool

    @property
    def name(self) -> str:
        return self.history.name


def build_tables(name: str, postgres: bool) -> Tables:
    """The tables for a historian table `name` in PostgreSQL (`postgres`) or SQLite."""
    check_table_name(name)
    metadata = MetaData()
    time_type: TypeEngine[Any] = DateTime(timezone=True) if postgres else Double()
    history = Table(
        name,
        metadata,
        Column("point", String(64), nullable=False),
        Column("time", time_type, nullable=False),
        Column("value", Double(), nullable=False),
        Column("quality", SmallInteger(), nullable=False),
        Column("cov", Integer(), nullable=False),
    )
    Index(f"{name}_point_time", history.c.point, history.c.time)
    schema = Table(f"{name}_schema", metadata, Column("version", Integer(), nullable=False))
    sent = Table(
        f"{name}_sent",
        metadata,
        Column("journal", String(64), primary_key=True),
        Column("seq", BigInteger(), nullable=False),
    )
    return Tables(metadata, history, schema, sent, postgres)


MIGRATIONS: dict[int, list[str]] = {}
"""SQL statements that take the schema from version N to N + 1 (none yet: version 1 is the
first). Each runs in the migration's transaction, `{table}` replaced by the table name."""


def migrate(conn: Connection, tables: Tables) -> int:
    """Create or upgrade the historian's tables on `conn` (inside a transaction); returns
    the version found before (0: new). Raises SchemaError when they cannot be used."""
    names = set(inspect(conn).get_table_names())
    if tables.schema.name not in names:
        if tables.history.name in names:
            raise SchemaError(
                f"table {tables.history.name!r} exists but was not created by the historian "
                f"(no {tables.schema.name!r} table): choose another `table` name"
            )
        tables.metadata.create_all(conn)
        conn.execute(tables.schema.insert().values(version=SCHEMA_VERSION))
        return 0
    found = conn.execute(select(tables.schema.c.version)).scalar()
    if found is None:
        raise SchemaError(f"table {tables.schema.name!r} holds no version")
    if found > SCHEMA_VERSION:
        raise SchemaError(
            f"the historian tables are at schema version {found}, newer than this gateway's "
            f"{SCHEMA_VERSION}: upgrade the gateway or use another `table` name"
        )
    for version in range(found, SCHEMA_VERSION):
        for statement in MIGRATIONS.get(version, []):
            conn.exec_driver_sql(statement.format(table=tables.name))
    if found < SCHEMA_VERSION:
        conn.execute(tables.schema.update().values(version=SCHEMA_VERSION))
    tables.metadata.create_all(conn)  # anything still missing (an index dropped by hand)
    return int(found)
