"""The sans-IO fail-back and keep-alive decisions of the `tase2-client`, on a fake clock:
when the primary is checked, what a pass and a failure do, when a keep-alive is due, what
the status shows, and the settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from adapters.tase2.client.failover import LinkPlanner, LinkStatus, keepalive_due
from tests.support.tase2.client import client_settings


def on_backup(interval: float = 60.0) -> LinkPlanner[str]:
    """A planner whose link went from the primary to the backup and is up there at t=100."""
    planner = LinkPlanner(
        ["primary", "backup"], initial=1.0, maximum=8.0, jitter=0.0, failback_interval=interval
    )
    assert planner.next_attempt() == ("primary", 0.0)
    planner.up(0.0)
    planner.lost(50.0)
    assert planner.next_attempt() == ("backup", 1.0)
    planner.up(100.0)
    return planner


def test_no_check_on_the_primary_or_with_failback_off() -> None:
    planner = LinkPlanner(["primary", "backup"], 1.0, 8.0, failback_interval=60.0)
    planner.next_attempt()
    planner.up(0.0)
    assert planner.failback_due(1000.0) is None  # already on the primary
    off = LinkPlanner(["primary", "backup"], 1.0, 8.0, jitter=0.0)
    off.next_attempt()
    off.failed("refused")
    off.next_attempt()
    off.up(0.0)
    assert off.address == "backup"
    assert off.failback_due(1000.0) is None  # failback_interval 0: never
    with pytest.raises(ValueError):
        LinkPlanner(["a"], 1.0, 8.0, failback_interval=-1.0)


def test_the_first_check_is_due_one_interval_after_the_link_is_up() -> None:
    planner = on_backup(60.0)
    assert planner.failback_due(100.0) == 60.0
    assert planner.failback_due(130.0) == 30.0
    assert planner.failback_due(170.0) == 0.0


def test_a_failed_check_schedules_the_next_and_counts_and_throttles() -> None:
    planner = on_backup(10.0)
    logged = []
    t = 110.0
    for _ in range(9):
        assert planner.failback_due(t) == 0.0
        logged.append(planner.failback_failed(t, "connection refused"))
        assert planner.failback_due(t) == 10.0
        t += 10.0
    assert planner.failback_checks == 9
    assert planner.failback_failures == 9
    assert logged == [True, True, False, True, False, False, False, True, False]
    assert planner.address == "backup"  # a failed check changes nothing else
    # a different error is always worth a line
    assert planner.failback_failed(t, "Bilateral_Table_ID is 'X'")


def test_a_passed_check_goes_to_the_primary_at_once_without_backoff() -> None:
    planner = on_backup(10.0)
    planner.failback_failed(110.0, "refused")
    assert planner.failback_passed() == "primary"
    assert planner.failback_checks == 2
    assert planner.failback_due(200.0) is None
    assert planner.next_attempt() == ("primary", 0.0)
    planner.up(130.0)
    assert planner.failback_due(1000.0) is None  # on the primary: no more checks
    # the primary failing again at once: back-off from the start, to the backup
    planner.lost(131.0)
    assert planner.next_attempt() == ("backup", 1.0)


def test_a_primary_that_fails_right_after_the_check_counts_as_a_failed_attempt() -> None:
    planner = on_backup(10.0)
    planner.failback_passed()
    assert planner.next_attempt() == ("primary", 0.0)
    planner.failed("refused")
    address, delay = planner.next_attempt()
    assert (address, delay) == ("backup", 1.0)
    planner.up(200.0)
    assert planner.failback_due(200.0) == 20.0  # the checks start again, less often
    assert planner.failback_failures == 0


def test_a_primary_that_passes_checks_but_fails_sessions_is_checked_less_often() -> None:
    planner = on_backup(10.0)
    t = 200.0
    waits = []
    for _ in range(6):
        planner.failback_passed()
        assert planner.next_attempt() == ("primary", 0.0)
        planner.failed("data set refused")  # the session on the primary does not come up
        assert planner.next_attempt()[0] == "backup"
        planner.up(t)
        waits.append(planner.failback_due(t))
        t += 1000.0
    assert waits == [20.0, 40.0, 80.0, 160.0, 160.0, 160.0]
    # the primary comes up once: the interval is back to normal
    planner.failback_passed()
    planner.next_attempt()
    planner.up(t)
    planner.lost(t + 100.0)
    assert planner.next_attempt()[0] == "backup"
    planner.up(t + 101.0)
    assert planner.failback_due(t + 101.0) == 10.0


def test_no_check_while_the_link_is_down() -> None:
    planner = on_backup(10.0)
    planner.lost(105.0)
    assert planner.failback_due(200.0) is None
    planner.failback_failed(200.0, "late answer of a check")  # does not restart the checks
    assert planner.failback_due(200.0) is None


def test_keepalive_is_due_after_the_interval_of_silence() -> None:
    assert keepalive_due(30.0, 100.0, 100.0) == 30.0
    assert keepalive_due(30.0, 100.0, 125.0) == 5.0
    assert keepalive_due(30.0, 100.0, 200.0) == 0.0
    assert keepalive_due(0.0, 100.0, 1e9) is None


def test_link_status_shows_failback_and_keepalive_and_keeps_the_other_keys() -> None:
    status = LinkStatus()
    status.failback.checks = 3
    status.failback.last_result = "connection refused"
    status.keepalive.sent = 2
    status.keepalive.last_result = "answered"
    out = status.to_dict()
    assert {
        "state",
        "address",
        "reason",
        "since",
        "associations",
        "last_report",
        "reports_per_s",
        "errors",
        "addresses",
    } < set(out)  # the keys operators had before are all still there
    assert out["failback"]["checks"] == 3
    assert out["failback"]["last_result"] == "connection refused"
    assert out["keepalive"]["sent"] == 2
    assert out["keepalive"]["last_result"] == "answered"


def test_settings_defaults_and_limits() -> None:
    cfg = client_settings([10102, 10103])
    assert (cfg.failback, cfg.failback_interval, cfg.keepalive_interval) == (True, 60.0, 30.0)
    off = client_settings([10102], failback=False, keepalive_interval=0)
    assert not off.failback and off.keepalive_interval == 0
    for bad in ({"failback_interval": 0}, {"keepalive_interval": -1}):
        with pytest.raises(ValidationError):
            client_settings([10102], **bad)
