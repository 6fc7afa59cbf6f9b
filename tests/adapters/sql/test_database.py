"""The SQL adapters' database URL rules: SQLite by default, PostgreSQL through asyncpg."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from adapters.sql.database import (
    DatabaseSettings,
    asyncpg_dsn,
    create_engine,
    database_url,
    is_postgres,
)


def test_sqlite_gets_the_async_driver_and_relative_paths_the_base():
    url = database_url("sqlite:///data/h.db", Path("/etc/gateway"))
    assert url.drivername == "sqlite+aiosqlite"
    assert url.database == "/etc/gateway/data/h.db"
    assert not is_postgres(url)


def test_absolute_sqlite_paths_stay_and_no_base_keeps_relative():
    assert database_url("sqlite:////var/h.db", Path("/etc")).database == "/var/h.db"
    assert database_url("sqlite:///h.db").database == "h.db"
    assert database_url("sqlite+aiosqlite:///h.db").drivername == "sqlite+aiosqlite"


@pytest.mark.parametrize("text", ["sqlite://", "sqlite:///:memory:"])
def test_sqlite_must_name_a_file(text):
    with pytest.raises(ValueError, match="names a file"):
        database_url(text)


@pytest.mark.parametrize(
    "text", ["postgresql://u@h/db", "postgres://u@h:5433/db", "postgresql+asyncpg://u@h/db"]
)
def test_postgres_goes_through_asyncpg(text):
    url = database_url(text)
    assert url.drivername == "postgresql+asyncpg"
    assert is_postgres(url)


def test_postgres_must_name_its_database():
    with pytest.raises(ValueError, match="names its database"):
        database_url("postgresql://user@host:5432")


@pytest.mark.parametrize("text", ["mysql://u@h/db", "oracle://u:secret@h/db"])
def test_other_databases_are_refused_without_repeating_the_password(text):
    with pytest.raises(ValueError, match="not supported") as info:
        database_url(text)
    assert "secret" not in str(info.value)


def test_garbage_is_not_a_url():
    with pytest.raises(ValueError, match="not a database URL"):
        database_url("just some words")


def test_asyncpg_dsn_is_plain_postgresql_with_the_password():
    url = database_url("postgresql://user:pw@127.0.0.1:5433/db")
    assert asyncpg_dsn(url) == "postgresql://user:pw@127.0.0.1:5433/db"


def test_settings_mixin_checks_the_url_and_resolves_relative_paths():
    settings = DatabaseSettings(database="sqlite:///h.db")
    assert settings.database_url(Path("/srv")).database == "/srv/h.db"
    with pytest.raises(ValidationError, match="not supported"):
        DatabaseSettings(database="mssql://u@h/db")


async def test_engine_pings_before_use(tmp_path):
    engine = create_engine(database_url(f"sqlite:///{tmp_path / 'e.db'}"))
    try:
        assert engine.pool._pre_ping
        async with engine.connect() as conn:
            assert (await conn.exec_driver_sql("select 1")).scalar() == 1
    finally:
        await engine.dispose()
