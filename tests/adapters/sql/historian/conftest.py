"""The `db` fixture of the historian's tests: each test runs on SQLite and on PostgreSQL."""

import pytest

from tests.adapters.sql.historian.helpers import Db


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path):
    if request.param == "sqlite":
        yield Db("sqlite", tmp_path)
        return
    postgres = request.getfixturevalue("postgres")
    yield Db("postgres", tmp_path, postgres)
    if postgres._pid() is None:  # a test that took it down and failed must not leave it down
        postgres.start()
