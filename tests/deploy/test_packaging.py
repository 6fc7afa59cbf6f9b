"""The systemd unit and the sample `/etc/iccp-gateway` of `packaging/`.

``systemd-analyze verify`` checks the unit where systemd's tools are installed (its
executables pointed at this Python's ``iccp-gateway``, which exists here); the hardening
asked of it is checked key by key everywhere.
"""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.api.tokens import load_tokens
from tests.support import REPO, require_program

UNIT = REPO / "packaging" / "iccp-gateway.service"
ETC = REPO / "packaging" / "etc" / "iccp-gateway"
INSTALLED = "/opt/iccp-gateway/bin/iccp-gateway"


def unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser


def systemd_analyze() -> str:
    """systemd-analyze (Debian package systemd, which .ci/run installs)."""
    return require_program("systemd-analyze", "systemd")


def local_copy(tmp_path: Path, text: str | None = None) -> Path:
    """The unit with its executable replaced by the one installed here."""
    program = Path(sys.executable).parent / "iccp-gateway"
    copy = tmp_path / UNIT.name
    copy.write_text((text or UNIT.read_text()).replace(INSTALLED, str(program)))
    return copy


def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    result = subprocess.run(
        [systemd_analyze(), "verify", str(local_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""


def test_systemd_analyze_verify_would_report_a_bad_setting(tmp_path: Path) -> None:
    bad = UNIT.read_text().replace("ProtectSystem=strict", "ProtectSystem=sometimes")
    result = subprocess.run(
        [systemd_analyze(), "verify", str(local_copy(tmp_path, bad))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "ProtectSystem" in result.stdout + result.stderr or "protect system" in (
        result.stdout + result.stderr
    )


def test_the_exposure_rating_is_low(tmp_path: Path) -> None:
    result = subprocess.run(
        [systemd_analyze(), "security", "--offline=yes", str(local_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout + result.stderr)
    if found is None:
        pytest.skip(f"this systemd-analyze has no offline security rating: {result.stderr}")
    assert float(found.group(1)) <= 3.0, result.stdout


def test_the_unit_has_the_hardening_asked_of_it() -> None:
    service = unit()["Service"]
    assert service["User"] == service["Group"] == "iccp-gateway"
    assert service["ProtectSystem"] == "strict"
    assert service["AmbientCapabilities"] == "CAP_NET_BIND_SERVICE"
    assert service["CapabilityBoundingSet"] == "CAP_NET_BIND_SERVICE"
    assert service["NoNewPrivileges"] == "yes"
    assert service["Restart"] == "on-failure"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["StateDirectory"] == service["LogsDirectory"] == "iccp-gateway"
    assert service["ExecStart"].startswith(f"{INSTALLED} run /etc/iccp-gateway/gateway.yaml")
    assert service["ExecStartPre"] == f"{INSTALLED} check /etc/iccp-gateway/gateway.yaml"
    assert unit()["Install"]["WantedBy"] == "multi-user.target"
    sysusers = (REPO / "packaging" / "iccp-gateway.sysusers.conf").read_text()
    assert re.search(r"^u iccp-gateway - ", sysusers, re.M)


def test_the_sample_configuration_passes_check_and_its_tokens_file_parses() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check", str(ETC / "gateway.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert load_tokens(ETC / "tokens") == []  # a template: no token until one is written
    assert (ETC / "tls" / "README.md").is_file()
