"""The `iccp-gateway` command line."""

import re
import shutil
import signal
import socket
import time
from datetime import datetime

import pytest
import yaml

from gateway.cli import build_parser, command_of, main
from gateway.runtime import SERVERS_FIRST
from tests.support import REPO, free_ports
from tests.support.gateway import read_until, start_gateway
from tests.support.tase2.demo import on_ports

DEMO = REPO / "mappings" / "demo.yaml"


def test_check_exit_codes(tmp_path, capsys):
    assert main(["check", str(DEMO)]) == 0
    assert re.search(r"OK \(\d+ points, \d+ adapters\)", capsys.readouterr().out)

    bad = tmp_path / "bad.yaml"
    bad.write_text("points:\n  - id: 9X\n")
    assert main(["check", str(bad)]) == 1
    assert f"{bad}:2: points[0].id:" in capsys.readouterr().err

    assert main(["check", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_version_and_help_on_every_command(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("iccp-gateway ")
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in commands:
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0
        assert f"usage: iccp-gateway {name}" in capsys.readouterr().out


def test_run_and_check_parse_without_the_isn_and_plug_in_commands():
    assert command_of(["--log-format", "json", "--log-level", "debug", "run", "x.yaml"]) == "run"
    assert command_of(["--version"]) is None and command_of(["probe", "h"]) == "probe"
    choices = build_parser("run")._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert sorted(choices) == ["check", "run"]
    everything = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"isn", "probe"} <= set(everything)


def demo_on_free_ports(directory):
    """The demo configuration in ``directory`` with every listening port free: its own
    ports are fixed, and another demo (a second test run) may hold them."""
    shutil.copy(DEMO.parent / "modbus-points.csv", directory)
    iccp, plant, rtu, dcs = free_ports(4)
    raw = on_ports(yaml.safe_load(DEMO.read_text()), iccp, plant, rtu, dcs)
    config = directory / "demo.yaml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    return config


LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
REFUSED = re.compile(r" WARNING .*cannot connect to (?:opc\.tcp://)?127\.0\.0\.1:(\d+)\b")


def log_time(line):
    """The time stamp of a log line of the default format, in seconds."""
    match = LOG_TIME.match(line)
    assert match, line
    return datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()


def check_start_up_warnings(lines):
    """The demo's clients start once its simulators listen, so start-up has no warning,
    except where a simulator took longer than the runtime waits for it (the OPC UA server
    builds its address space for seconds on a loaded machine): then the runtime must have
    waited its full SERVERS_FIRST, and each warning must be a refused connection to a local
    port whose server says it listens before "gateway running" (log order says nothing of
    which came first: the client logs only after asyncua's teardown of the attempt, which
    adds warnings of its own)."""
    warnings = [line for line in lines if " WARNING " in line]
    if not warnings:
        return
    assert any(REFUSED.search(line) for line in warnings), warnings
    stamped = [line for line in lines if LOG_TIME.match(line)]
    applied = [line for line in stamped if "configuration applied" in line]
    assert applied, lines
    assert log_time(applied[0]) - log_time(stamped[0]) >= SERVERS_FIRST, warnings
    for line in warnings:
        if " asyncua.client." in line:  # asyncua's own lines on tearing down that attempt
            continue
        refused = REFUSED.search(line)
        assert refused, line
        listening = f"listening on 127.0.0.1:{refused[1]}"
        assert any(listening in other for other in lines), f"{line}in:\n{''.join(lines)}"


def test_start_up_warnings_are_allowed_only_for_a_server_still_starting():
    def t(seconds: float) -> str:
        return f"2026-12-02 14:{int(seconds) // 60:02d}:{int(seconds) % 60:02d},500 "

    waited = SERVERS_FIRST
    start = t(0) + "INFO    __main__: event loop: uvloop\n"
    refused = t(waited + 1) + "WARNING x: cannot connect to opc.tcp://127.0.0.1:4711: refused\n"
    listens = t(waited + 3) + "INFO    y: opcua server opcua listening on 127.0.0.1:4711\n"
    noise = t(waited + 1) + "WARNING asyncua.client.ua_client.UaClient: connection is closed\n"
    applied = t(waited) + "INFO    gateway.runtime: configuration applied: added x\n"
    check_start_up_warnings([start, applied, refused, noise, listens])
    check_start_up_warnings([start, applied, listens])
    early = t(waited - 1) + applied.split(" ", 2)[2]  # the runtime did not wait
    for lines in (
        [start, early, refused, listens],
        [start, applied, refused.replace("4711", "4712"), listens],
        [start, applied, noise, listens],  # asyncua's lines only with a refused attempt
        [start, applied, t(waited + 1) + "WARNING z: something else\n", refused, listens],
    ):
        with pytest.raises(AssertionError):
            check_start_up_warnings(lines)


@pytest.mark.parametrize(("option", "loop"), [((), "uvloop"), (("--loop", "asyncio"), "asyncio")])
def test_run_starts_the_demo_and_sigint_stops_it_cleanly(option, loop, tmp_path):
    proc = start_gateway(demo_on_free_ports(tmp_path), run_options=option)
    try:
        # the gateway says it runs once every server listens (the OPC UA server alone
        # takes seconds on a loaded machine): wait for that line, bounded generously
        started = read_until(proc, "gateway running: ", timeout=60)
        assert any(f"event loop: {loop}" in line for line in started)
        check_start_up_warnings(started)
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=10)[1]
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert "stopped" in rest and "Traceback" not in rest


def test_run_applies_a_changed_file_and_keeps_running_on_a_bad_one(tmp_path):
    config = tmp_path / "gw.yaml"
    shutil.copy(DEMO.parent / "modbus-points.csv", tmp_path)
    config.write_text(DEMO.read_text().replace("status_log_period: 10", "status_log_period: 0.2"))
    proc = start_gateway(config, "--log-format", "json")
    try:
        read_until(proc, "gateway running")
        status = read_until(proc, '"msg": "status: ')[-1]
        assert "adapters: plant-sim=running" in status
        time.sleep(0.05)
        config.write_text(DEMO.read_text() + "  - {name: extra, type: sim}\n")
        read_until(proc, "configuration applied: added extra")
        config.write_text("points: [\n")
        read_until(proc, "keeps running the last good one")
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0


SIMS = """\
gateway: {status_log_period: 0.2}
points: [{id: A}, {id: B}]
adapters:
  - {name: sa, type: sim, interval: 0.1, points: [{point: A}]}
  - {name: sb, type: sim, interval: 0.1, points: [{point: B}]}
"""


def test_check_refuses_an_empty_file(tmp_path, capsys):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert main(["check", str(empty)]) == 1
    assert capsys.readouterr().err == f"{empty}: the file is empty\n"


def test_check_diff_prints_what_a_reload_would_change(tmp_path, capsys):
    old, new, bad = tmp_path / "old.yaml", tmp_path / "new.yaml", tmp_path / "bad.yaml"
    old.write_text(SIMS)
    new.write_text(SIMS.replace("{id: B}", "{id: C}").replace("{point: B}", "{point: C}"))
    assert main(["check", "--diff", str(old), str(new)]) == 0
    assert capsys.readouterr().out == (
        "adapters changed: sb\npoints added: 1 (C)\npoints removed: 1 (B)\n"
    )
    assert main(["check", "--diff", str(old), str(old)]) == 0
    assert capsys.readouterr().out == "no changes\n"
    bad.write_text("")
    assert main(["check", "--diff", str(old), str(bad)]) == 1
    assert "the file is empty" in capsys.readouterr().err


def test_a_truncated_file_is_refused_and_the_adapters_keep_running(tmp_path):
    config = tmp_path / "gw.yaml"
    config.write_text(SIMS)
    proc = start_gateway(config, "--log-format", "json")
    try:
        read_until(proc, "gateway running")
        config.write_text("")
        refused = read_until(proc, "keeps running the last good one")
        assert any('"level": "error"' in line and "the file is empty" in line for line in refused)
        status = read_until(proc, '"msg": "status: ')[-1]
        assert "adapters: sa=running, sb=running" in status
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0


def test_run_exits_non_zero_when_a_listening_adapter_cannot_bind(tmp_path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        config = tmp_path / "gw.yaml"
        config.write_text(
            SIMS + f"  - {{name: iccp, type: tase2-server, host: 127.0.0.1, port: {port}}}\n"
        )
        proc = start_gateway(config)
        try:
            err = proc.communicate(timeout=20)[1]
        finally:
            proc.kill()
    assert proc.returncode == 3
    assert "adapter iccp cannot listen: OSError: [Errno 98]" in err and str(port) in err
    assert "gateway not started" in err and "Traceback" not in err


def test_a_defect_exits_70_not_the_bad_configuration_codes(monkeypatch, caplog, tmp_path):
    """systemd's unit restarts on 70 but not on 1 or 2 (RestartPreventExitStatus)."""
    import gateway.cli

    def broken(args: object) -> int:
        raise RuntimeError("a defect")

    monkeypatch.setattr(gateway.cli, "cmd_check", broken)
    assert gateway.cli.main(["check", str(tmp_path / "gw.yaml")]) == gateway.cli.EXIT_CRASHED == 70
    assert "stopped by a defect" in caplog.text and "RuntimeError: a defect" in caplog.text
