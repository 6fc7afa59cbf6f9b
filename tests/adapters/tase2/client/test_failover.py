"""Link failover of the `tase2-client`: two `tase2-server` instances as primary and backup.

Stop the primary: at the moment of loss every client point turns not valid (stamped with
the time of loss), the client re-associates to the backup within its back-off and data
flows again; restore the primary: nothing breaks (the client stays on the backup until its
next fail-back check, 60 s by default). With a short ``failback_interval`` the client
returns to the restored primary; with ``failback: false`` it stays on the backup.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from adapters.tase2.model.points import PointType
from gateway.points import GOOD, Validity
from tests.support import eventually, free_ports
from tests.support.tase2.client import (
    client_point,
    client_settings,
    make_client_bus,
    running_client,
)
from tests.support.tase2.server import make_bus, running_server, settings, type_point

pytestmark = pytest.mark.timeout(60)

REAL = PointType.DATA_REALQ_TIMETAG
STATE = PointType.DATA_STATEQ_TIMETAG


def points() -> list[dict[str, object]]:
    return [
        {"remote": type_point(t), "point": client_point(t), "type": t.value} for t in (REAL, STATE)
    ]


async def test_failover_to_the_backup_and_back_without_breaking() -> None:
    primary_port, backup_port = free_ports(2)
    primary_bus, _ = make_bus()
    backup_bus, _ = make_bus()
    backup_bus.update(type_point(REAL), 222.0, GOOD, 1_700_001_000.0)
    bus = make_client_bus()
    cfg = client_settings(
        [primary_port, backup_port],
        data_sets=[{"name": "FAST", "integrity": 1, "rbe": True, "critical": True}],
        points=points(),
        backoff_initial=0.3,
        backoff_max=1.0,
    )
    real = client_point(REAL)
    async with running_server(settings(port=backup_port), backup_bus):
        primary = running_server(settings(port=primary_port), primary_bus)
        await primary.__aenter__()
        primary_up = True
        try:
            async with running_client(cfg, bus) as client:
                await eventually(lambda: client.link.state == "running", what="running")
                assert client.link.address == f"127.0.0.1:{primary_port}"
                value = primary_bus.get(type_point(REAL)).value
                await eventually(lambda: bus.get(real).value == value, 3.0, "primary data")
                assert bus.get(real).quality.validity is Validity.VALID
                sub = bus.subscribe([real], every=True)

                # stop the primary: not valid at once, stamped with the time of loss
                stopped_at = time.time()
                primary_up = False
                await primary.__aexit__(None, None, None)
                await eventually(
                    lambda: bus.get(real).quality.validity is Validity.NOT_VALID, 2.0, "loss"
                )
                lost = bus.get(real)
                assert stopped_at - 0.01 <= lost.ts <= time.time()
                assert lost.value == value  # the last value is kept, flagged not valid
                assert bus.get(client_point(STATE)).quality.validity is Validity.NOT_VALID

                # the backup takes over after one back-off (0.3 s +-10%; the planner's
                # delays are tested in test_client_plan.py), on its first attempt
                await eventually(
                    lambda: (
                        bus.get(real).value == 222.0
                        and bus.get(real).quality.validity is Validity.VALID
                    ),
                    3.0,
                    "backup data",
                )
                # primary, then the backup at the first attempt after the loss
                assert client.link.associations == 2
                assert client.link.addresses[f"127.0.0.1:{backup_port}"].failures == 0
                history = [(pv.value, pv.quality.validity) for pv in sub.drain()]
                assert history[0] == (value, Validity.NOT_VALID)  # in between: not valid
                assert history[-1] == (222.0, Validity.VALID)
                assert client.link.address == f"127.0.0.1:{backup_port}"
                assert client.status()["errors"]["lost"] == 1

                # restore the primary: nothing breaks, the client stays on the backup
                async with running_server(settings(port=primary_port), primary_bus):
                    await asyncio.sleep(1.2)  # longer than the back-off cap
                    assert client.link.state == "running"
                    assert client.link.address == f"127.0.0.1:{backup_port}"
                    backup_bus.update(type_point(REAL), 333.0, GOOD, 1_700_002_000.0)
                    await eventually(lambda: bus.get(real).value == 333.0, 3.0, "data flows")
                    assert bus.get(real).quality.validity is Validity.VALID
                    assert client.status()["errors"]["lost"] == 1
        finally:
            if primary_up:
                await primary.__aexit__(None, None, None)


async def test_a_primary_down_at_start_is_skipped_and_its_return_breaks_nothing() -> None:
    primary_port, backup_port = free_ports(2)
    primary_bus, _ = make_bus()
    backup_bus, _ = make_bus()
    bus = make_client_bus()
    cfg = client_settings(
        [primary_port, backup_port],
        data_sets=[{"name": "FAST", "integrity": 1, "rbe": True}],
        points=points(),
        backoff_initial=0.2,
        backoff_max=0.5,
    )
    real = client_point(REAL)
    async with (
        running_server(settings(port=backup_port), backup_bus),
        running_client(cfg, bus) as client,
    ):
        # the primary is down at start: the client settles on the backup
        await eventually(lambda: client.link.state == "running", 5.0, "running on backup")
        assert client.link.address == f"127.0.0.1:{backup_port}"
        assert client.link.addresses[f"127.0.0.1:{primary_port}"].failures >= 1
        async with running_server(settings(port=primary_port), primary_bus):
            await asyncio.sleep(1.0)  # longer than the back-off cap
            assert client.link.address == f"127.0.0.1:{backup_port}"
            assert client.link.state == "running"
            backup_bus.update(type_point(REAL), 333.0, GOOD, 1_700_002_000.0)
            await eventually(lambda: bus.get(real).value == 333.0, 3.0, "data after restore")
            assert bus.get(real).quality.validity is Validity.VALID


async def test_fail_back_to_the_primary_when_it_returns(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="adapters.tase2.client.adapter")
    primary_port, backup_port = free_ports(2)
    primary_bus, _ = make_bus()
    backup_bus, _ = make_bus()
    backup_bus.update(type_point(REAL), 222.0, GOOD, 1_700_001_000.0)
    bus = make_client_bus()
    cfg = client_settings(
        [primary_port, backup_port],
        data_sets=[{"name": "FAST", "integrity": 1, "rbe": True}],
        points=points(),
        backoff_initial=0.3,
        backoff_max=1.0,
        failback_interval=0.3,
    )
    real = client_point(REAL)
    primary_at = f"127.0.0.1:{primary_port}"
    backup_at = f"127.0.0.1:{backup_port}"

    def on(address: str, value: float) -> bool:
        pv = bus.get(real)
        return (
            client.link.state == "running"
            and client.link.address == address
            and pv.value == value
            and pv.quality.validity is Validity.VALID
        )

    async with running_server(settings(port=backup_port), backup_bus):
        primary = running_server(settings(port=primary_port), primary_bus)
        await primary.__aenter__()
        primary_up = True
        primary_bus.update(type_point(REAL), 111.0, GOOD, 1_700_001_000.0)
        try:
            async with running_client(cfg, bus) as client:
                await eventually(lambda: on(primary_at, 111.0), 5.0, "data from the primary")
                assert client.link.failback.checks == 0  # no checks while on the primary

                primary_up = False
                await primary.__aexit__(None, None, None)
                await eventually(lambda: on(backup_at, 222.0), 5.0, "data from the backup")
                # the primary is still down: its checks fail quietly, the link stays up
                await eventually(lambda: client.link.failback.failed_in_row >= 2, 5.0, "checks")
                assert client.link.state == "running"
                assert client.link.address == backup_at
                assert client.link.associations == 2
                failed = client.status()["failback"]
                assert failed["enabled"] is True
                assert failed["failbacks"] == 0
                assert failed["last_result"]  # why the primary is not used
                assert not [
                    r
                    for r in caplog.records
                    if "fail-back" in r.getMessage() and r.levelno > logging.INFO
                ]

                # the primary returns on the same port: the client leaves the backup for it
                primary_bus.update(type_point(REAL), 333.0, GOOD, 1_700_002_000.0)
                async with running_server(settings(port=primary_port), primary_bus):
                    await eventually(lambda: on(primary_at, 333.0), 5.0, "back on the primary")
                    status = client.status()
                    assert status["failback"]["failbacks"] == 1
                    assert status["failback"]["last_result"] == "passed"
                    assert status["errors"]["lost"] == 1  # leaving the backup is no loss
                    assert client.link.associations == 3
                    lines = [
                        r for r in caplog.records if "failing back to primary" in r.getMessage()
                    ]
                    assert len(lines) == 1
                    assert lines[0].levelno == logging.INFO
                    assert f"failing back to primary {primary_at}" in lines[0].getMessage()
                    # data keeps flowing from the primary
                    primary_bus.update(type_point(REAL), 444.0, GOOD, 1_700_003_000.0)
                    await eventually(lambda: on(primary_at, 444.0), 5.0, "data after fail-back")
        finally:
            if primary_up:
                await primary.__aexit__(None, None, None)


async def test_no_fail_back_with_failback_false() -> None:
    primary_port, backup_port = free_ports(2)
    primary_bus, _ = make_bus()
    backup_bus, _ = make_bus()
    bus = make_client_bus()
    cfg = client_settings(
        [primary_port, backup_port],
        data_sets=[{"name": "FAST", "integrity": 1, "rbe": True}],
        points=points(),
        backoff_initial=0.2,
        backoff_max=0.5,
        failback=False,
        failback_interval=0.2,
    )
    real = client_point(REAL)
    async with (
        running_server(settings(port=backup_port), backup_bus),
        running_client(cfg, bus) as client,
    ):
        # the primary is down at start: the client settles on the backup
        await eventually(lambda: client.link.state == "running", 5.0, "running on backup")
        assert client.link.address == f"127.0.0.1:{backup_port}"
        async with running_server(settings(port=primary_port), primary_bus):
            await asyncio.sleep(1.5)  # several fail-back intervals
            assert client.link.address == f"127.0.0.1:{backup_port}"
            assert client.link.state == "running"
            assert client.link.associations == 1
            assert client.status()["failback"] == {
                **client.status()["failback"],
                "enabled": False,
                "checks": 0,
                "failbacks": 0,
            }
            backup_bus.update(type_point(REAL), 333.0, GOOD, 1_700_002_000.0)
            await eventually(lambda: bus.get(real).value == 333.0, 3.0, "data from the backup")
