"""Fixtures of the SQL adapters' tests: a throwaway PostgreSQL cluster per test module."""

import pytest

from tests.support.peers.postgres import Postgres, require_postgres


@pytest.fixture(scope="module")
def postgres():
    """A started PostgreSQL cluster on a free loopback port, removed after the module."""
    require_postgres()
    server = Postgres()
    server.start()
    yield server
    server.remove()
