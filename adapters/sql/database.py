"""Where an SQL adapter's database is: URL checking and engines for SQLite and PostgreSQL.

A URL is `sqlite:///PATH` (relative paths are relative to the configuration file that names
them; the embedded default) or `postgresql://user[:password]@host[:port]/database`. The
async drivers (aiosqlite, asyncpg) are chosen here, so a user writes the plain dialect name;
`sqlite+aiosqlite://` and `postgresql+asyncpg://` are accepted as they are.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def database_url(text: str, base: Path | None = None) -> URL:
    """The async-driver URL of `text`; a relative SQLite path is taken from `base`.

    Raises ValueError saying what is wrong (the password is never repeated in it).
    """
    try:
        url = make_url(text.strip())
    except ArgumentError:
        raise ValueError(
            "not a database URL: write sqlite:///PATH or postgresql://user@host:port/database"
        ) from None
    driver = _DRIVERS.get(url.drivername)
    if driver is None:
        raise ValueError(
            f"database {url.drivername!r} is not supported: use sqlite:///PATH or "
            "postgresql://user@host:port/database"
        )
    url = url.set(drivername=driver)
    if driver.startswith("sqlite"):
        if not url.database or url.database == ":memory:":
            raise ValueError("an SQLite URL names a file: sqlite:///PATH (not in memory)")
        path = Path(url.database)
        if not path.is_absolute() and base is not None:
            url = url.set(database=str(base / path))
    elif not url.database:
        raise ValueError("a PostgreSQL URL names its database: postgresql://user@host/database")
    return url


def is_postgres(url: URL) -> bool:
    """Whether `url` is a PostgreSQL database (COPY, LISTEN/NOTIFY available)."""
    return url.get_backend_name() == "postgresql"


def asyncpg_dsn(url: URL) -> str:
    """The plain `postgresql://` DSN of a PostgreSQL URL, for a raw asyncpg connection."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine(url: URL) -> AsyncEngine:
    """An engine for `url` whose connections are checked before use (a restarted server's
    stale connections are replaced, not handed out)."""
    return create_async_engine(url, pool_pre_ping=True)


class DatabaseSettings(BaseModel):
    """The database of an SQL adapter (a mixin for its settings)."""

    database: str = Field(description="sqlite:///PATH or postgresql://user@host:port/database")

    @field_validator("database")
    @classmethod
    def _check_database(cls, value: str, info: ValidationInfo) -> str:
        database_url(value)
        return value

    def database_url(self, base: Path | None = None) -> URL:
        """The checked URL (relative SQLite paths from `base`)."""
        return database_url(self.database, base)
