"""`iccp-gateway status` and `iccp-gateway points` against a running gateway process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.gateway.api.conftest import OPERATOR, READER, sim_config, write_tokens
from tests.gateway.api.running import RunningGateway, gateway_process
from tests.support import REPO, free_port


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    directory = tmp_path_factory.mktemp("gw")
    tokens = write_tokens(directory / "tokens")
    data = sim_config(interval=0.1, tokens_file=str(tokens))
    with gateway_process(data, directory) as running:
        yield running


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
        env={**os.environ, **env},
    )


def test_status_prints_the_overview(gateway: RunningGateway):
    done = cli("status", "--url", gateway.url, "--token", READER)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("gateway test-gw (version ")
    assert "points: 6 total, 5 valid, 0 held, 1 suspect, 0 not valid" in done.stdout
    rows = [line.split() for line in done.stdout.splitlines()]
    assert ["plant", "sim", "running", "5", "0"] in rows
    assert ["fixed", "sim", "running", "1", "0"] in rows


def test_status_without_a_token_or_a_gateway_exits_2(gateway: RunningGateway, tmp_path: Path):
    refused = cli("status", "--url", gateway.url)
    assert refused.returncode == 2 and "401 a bearer token is needed" in refused.stderr
    token_file = tmp_path / "token"
    token_file.write_text(READER + "\n")
    assert cli("status", "--url", gateway.url, "--token-file", str(token_file)).returncode == 0
    gone = cli("status", "--url", f"http://127.0.0.1:{free_port()}")
    assert gone.returncode == 2 and "cannot reach the gateway" in gone.stderr


def test_a_health_check_takes_its_token_file_from_the_environment(
    gateway: RunningGateway, tmp_path: Path
):
    token_file = tmp_path / "health-token"
    token_file.write_text(READER + "\n")
    assert (
        cli("status", "--url", gateway.url, ICCP_GATEWAY_TOKEN_FILE=str(token_file)).returncode == 0
    )
    missing = cli("status", "--url", gateway.url, ICCP_GATEWAY_TOKEN_FILE=str(tmp_path / "none"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert f"token file {tmp_path / 'none'}" in missing.stderr


def test_points_lists_values_and_follows_changes(gateway: RunningGateway):
    done = cli("points", "GEN1*,FIXED", "--url", gateway.url, "--token", READER)
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    assert rows[0] == ["POINT", "VALUE", "UNITS", "VALIDITY", "AGE", "COV", "OWNER"]
    assert [r[0] for r in rows[1:3]] == ["FIXED", "GEN1_MW"]
    assert rows[1][2] == "suspect"  # FIXED has no units: one column fewer
    assert rows[2][3] == "valid" and rows[2][-1] == "plant"
    assert rows[-1] == ["2", "points"]

    follow = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "points",
            "GEN2_MW",
            "--follow",
            "--url",
            gateway.url,
            "--token",
            READER,
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert follow.stdout is not None
        lines = [follow.stdout.readline() for _ in range(6)]  # header, row, count, 3 changes
    finally:
        follow.kill()
        follow.wait()
    changes = [line.split() for line in lines[3:]]
    assert all(c[1] == "GEN2_MW" and c[3] == "valid" for c in changes), lines
    covs = [int(c[4].removeprefix("cov=")) for c in changes]
    assert covs == sorted(covs) and len(set(covs)) == 3


def test_a_command_and_a_config_applied_through_the_api_are_audited_and_written(
    gateway: RunningGateway,
):
    headers = {"Authorization": f"Bearer {OPERATOR}"}
    with httpx.Client(base_url=gateway.url, headers=headers, timeout=10) as http:
        text = gateway.config.read_text()
        new = text.replace("interval: 3600", "interval: 1800")
        assert new != text
        applied = http.post("/api/v1/config/apply", json={"text": new})
        assert applied.status_code == 200, applied.text
        assert applied.json()["detail"]["reconfigured"] == ["fixed"]
        assert gateway.config.read_text() == new  # the file is what runs now
        assert gateway.config.with_name("gw.yaml.bak").read_text() == text
        time.sleep(0.6)  # two watch periods: our own write is not reloaded again
        events = http.get("/api/v1/audit").json()["events"]
    configs = [e for e in events if e["kind"] == "config"]
    assert [(e["origin"], e["outcome"]) for e in configs] == [("api:alice", "ok")]
    assert "changed; reloading" not in gateway.log_text()


def test_a_posted_config_cannot_read_the_gateways_environment(gateway: RunningGateway):
    headers = {"Authorization": f"Bearer {OPERATOR}"}
    secret = os.environ.get("HOME", "/root")
    with httpx.Client(base_url=gateway.url, headers=headers, timeout=10) as http:
        text = re.sub(r"interval: \d+", "interval: ${HOME}", gateway.config.read_text())
        assert "${HOME}" in text
        checked = http.post("/api/v1/config/validate", json={"text": text})
        refused = http.post("/api/v1/config/apply", json={"text": text})
    assert checked.json()["valid"] is False
    assert "environment variable HOME is not used by the running configuration" in checked.text
    assert refused.status_code == 422
    assert secret not in checked.text and secret not in refused.text


def test_a_config_file_that_cannot_be_written_refuses_the_apply_and_says_why(
    gateway: RunningGateway,
):
    headers = {"Authorization": f"Bearer {OPERATOR}"}
    blocker = gateway.config.with_name(f".{gateway.config.name}.tmp")
    blocker.mkdir()  # the atomic replace's temporary file cannot be made
    try:
        with httpx.Client(base_url=gateway.url, headers=headers, timeout=10) as http:
            text = gateway.config.read_text()
            applied = http.post("/api/v1/config/apply", json={"text": text.replace("3600", "1200")})
            events = http.get("/api/v1/audit").json()["events"]
    finally:
        blocker.rmdir()
    assert applied.status_code == 409, applied.text
    assert "cannot be written" in applied.json()["error"]
    assert gateway.config.read_text() == text
    assert events[-1]["kind"] == "refused" and events[-1]["outcome"] == "refused"
