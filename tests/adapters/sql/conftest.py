"""The SQL adapters' tests share one throwaway PostgreSQL cluster per module."""

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
