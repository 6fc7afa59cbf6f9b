"""Settings for every test. The shared helpers are the package ``tests.support``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvloop
from hypothesis import settings

# These machines are shared and noisy: a per-example deadline only makes property tests
# flaky. Speed is measured by `make bench`, never asserted in tests.
settings.register_profile("gateway", deadline=None)
settings.load_profile("gateway")


def pytest_asyncio_loop_factories(config: object, item: pytest.Item) -> dict[str, Any]:
    """Tests marked ``both_loops`` run on asyncio's loop and on uvloop (the gateway's);
    every other asynchronous test on asyncio's loop."""
    if item.get_closest_marker("both_loops") is None:
        return {"asyncio": asyncio.new_event_loop}
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
