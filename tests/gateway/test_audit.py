"""The audit log: a peer refused in a loop cannot push the operators' events out."""

from __future__ import annotations

import pytest

from gateway import audit
from gateway.audit import AuditLog


def test_a_flood_of_refusals_from_one_origin_keeps_the_other_events(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(audit.time, "time", lambda: clock[0])
    log = AuditLog(size=100)
    log.record("tag", "tase2:BLT:10.0.0.9:BRK1", "BRK1", outcome="ok")
    log.record("command", "api:alice", "GEN1_SETPOINT", 50.0)
    for _ in range(1100):
        log.record("write refused", "tase2:BLT:10.0.0.5:4000", "X", outcome="object-access-denied")
    kinds = [e.kind for e in log.events()]
    assert kinds[:2] == ["tag", "command"]  # still there
    assert kinds.count("write refused") == audit.QUOTA
    assert log.suppressed == 1100 - audit.QUOTA
    for _ in range(5):  # commands are never left out
        log.record("command", "tase2:BLT:10.0.0.5:4000:GEN1", "GEN1_SETPOINT", 1.0)
    assert kinds.count("command") + 5 == [e.kind for e in log.events()].count("command")

    clock[0] += audit.QUOTA_WINDOW
    summary = log.events()[-1]
    assert (summary.kind, summary.origin) == ("suppressed", "tase2:BLT:10.0.0.5:4000")
    assert summary.detail.startswith(f"{1100 - audit.QUOTA} more events of this origin")
    assert log.record("write refused", "tase2:BLT:10.0.0.5:4000", "X") is not None  # new window


@pytest.mark.parametrize("kind", ["command", "config"])
def test_commands_and_configuration_changes_have_no_quota(kind):
    log = AuditLog(size=1000)
    for _ in range(audit.QUOTA * 3):
        assert log.record(kind, "api:alice") is not None
    assert log.suppressed == 0
