"""An active ``tase2-server`` (it calls its clients): what goes wrong while calling is
logged thinned out and the calls go on; a caller that dies fails the adapter; host
names are checked in the configuration."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.tase2.errors import LocalError
from adapters.tase2.mms.aio.server import MmsServer, OutboundCall, UnsupportedHandler
from adapters.tase2.mms.association import AssociationConfig
from adapters.tase2.security.endpoint import RemoteAddress
from adapters.tase2.server.adapter import Tase2ServerAdapter
from adapters.tase2.server.settings import CallTarget, OsiSelectors, Tase2ServerSettings
from tests.support import eventually, free_port, running
from tests.support.tase2.server import make_bus, settings, table

pytestmark = [pytest.mark.timeout(60), pytest.mark.both_loops]


def active(addresses: list[str], **extra: Any) -> Tase2ServerSettings:
    connect = {
        "mode": "active",
        "call": [{"table": "BLT_ICC1", "addresses": addresses}],
        "backoff_initial": 0.05,
        "backoff_max": 0.1,
        "connect_timeout": 1.0,
        **extra,
    }
    return settings(tables=[table()], connect=connect)


def test_host_syntax_is_checked() -> None:
    for bad in ("rto..example.com", "-x.example", "a b", "x" * 64 + ".example"):
        with pytest.raises(ValidationError, match="neither an IP address nor a host name"):
            RemoteAddress.model_validate(f"{bad}:102")
    for good in ("rto.example.com", "127.0.0.1", "[::1]", "localhost", "a-1.example."):
        RemoteAddress.model_validate(f"{good}:102")
    with pytest.raises(ValidationError, match=r"connect\.call\.0\.addresses\.0"):
        active(["rto..example.com:102"])


async def test_a_call_that_cannot_even_resolve_returns_a_result() -> None:
    """A host the resolver chokes on (idna UnicodeError, not OSError) is a CallResult."""
    server = MmsServer(UnsupportedHandler(), port=0)
    result = await server.call("rto..example.com", 102, OutboundCall(AssociationConfig()))
    assert not result.established
    assert "rto..example.com" in result.detail


async def test_failures_are_throttled_over_alternating_addresses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="adapters.tase2.server.shell")
    bus, _ = make_bus()
    two = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    adapter = Tase2ServerAdapter("tase2", active(two), bus)
    async with running(adapter) as task:
        await eventually(lambda: adapter.server is not None, 5.0, "the server to start")
        assert adapter.server is not None
        state = adapter.server.calls
        await eventually(lambda: state["BLT_ICC1"].failures >= 16, 20.0, "16 failed calls")
        assert not task.done()
    lines = [r for r in caplog.records if "calling 127.0.0.1" in r.getMessage()]
    assert 1 <= len(lines) <= 6, [r.getMessage() for r in lines]


async def test_a_caller_that_ends_fails_the_adapter() -> None:
    """A bug that ends a caller task (here: its address list emptied under it) is not
    silent: the adapter fails, naming the task, and the supervisor restarts it."""
    bus, _ = make_bus()
    s = active([f"127.0.0.1:{free_port()}"])
    addresses = list(s.connect.call[0].addresses)
    broken = CallTarget.model_construct(
        table="BLT_ICC1", addresses=addresses, remote_selectors=OsiSelectors()
    )
    s = s.model_copy(update={"connect": s.connect.model_copy(update={"call": (broken,)})})
    adapter = Tase2ServerAdapter("tase2", s, bus)
    async with running(adapter) as task:
        await eventually(lambda: adapter.server is not None, 5.0, "the server to start")
        addresses.clear()
        with pytest.raises(LocalError, match="tase2-call-BLT_ICC1 ended"):
            await asyncio.wait_for(task, 10.0)


async def test_an_active_servers_status_shows_its_calls() -> None:
    bus, _ = make_bus()
    adapter = Tase2ServerAdapter("tase2", active([f"127.0.0.1:{free_port()}"]), bus)
    async with running(adapter):
        await eventually(lambda: adapter.server is not None, 5.0, "the server to start")
        assert adapter.server is not None
        await eventually(lambda: adapter.server is not None and adapter.server.calls, 5.0, "a call")
        status = adapter.status()
        assert status["listening"] is False and "port" not in status, status
        assert status["connect"]["mode"] == "active"
        call = status["connect"]["calls"]["BLT_ICC1"]
        assert call["attempts"] >= 1 and call["address"].startswith("127.0.0.1:"), call
        assert "peers" in status


async def test_a_passive_servers_status_says_where_it_listens() -> None:
    bus, _ = make_bus()
    adapter = Tase2ServerAdapter("tase2", settings(), bus)
    async with running(adapter):
        await eventually(lambda: adapter.server is not None, 5.0, "the server to start")
        status = adapter.status()
        assert status["listening"] is True and status["port"] > 0
        assert status["connect"] == {"mode": "passive"}


async def test_a_reload_restarts_only_the_changed_callers() -> None:
    bus, _ = make_bus()
    a, b, c = (f"127.0.0.1:{free_port()}" for _ in range(3))

    def two(second: str, backoff_max: float) -> Tase2ServerSettings:
        connect = {
            "mode": "active",
            "call": [
                {"table": "BLT_ICC1", "addresses": [a]},
                {"table": "BLT_ICC2", "addresses": [second]},
            ],
            "backoff_initial": 0.05,
            "backoff_max": backoff_max,
            "connect_timeout": 1.0,
        }
        return settings(connect=connect)

    adapter = Tase2ServerAdapter("tase2", two(b, 0.1), bus)
    async with running(adapter) as task:
        await eventually(lambda: adapter.server is not None, 5.0, "the server to start")
        server = adapter.server
        assert server is not None
        await eventually(lambda: len(server.calls) == 2, 5.0, "both calling")
        first, second = server._callers["BLT_ICC1"], server._callers["BLT_ICC2"]
        assert adapter.reconfigure(two(c, 0.2)) is True  # in place, no restart
        assert adapter.server is server and server.connect.backoff_max == 0.2
        assert server._callers["BLT_ICC1"] is first and not first.done()
        assert server._callers["BLT_ICC2"] is not second
        await eventually(lambda: second.done(), 5.0, "the old caller to end")
        await eventually(
            lambda: (
                server.calls.get("BLT_ICC2") is not None and server.calls["BLT_ICC2"].address == c
            ),
            5.0,
            "the new target called",
        )
        # another mode is a restart
        assert adapter.reconfigure(settings()) is False
        assert not task.done()
