"""Tests of the `isn` CLI commands (gateway.isn_cli), run through an argparse parser."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.isn import parse_isn
from gateway.isn_cli import add_isn_commands
from tests.support import REPO

FILES = Path(__file__).parent / "isn" / "isn_files"
DEMO = REPO / "mappings" / "isn" / "DEMO01may2025.csv"
VALID = FILES / "valid" / "base_lf.csv"


def run(*argv: str | Path) -> int:
    parser = argparse.ArgumentParser(prog="iccp-gateway")
    add_isn_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(a) for a in argv])
    code: int = args.func(args)
    return code


def test_validate_valid_file_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("isn", "validate", VALID, DEMO) == 0
    assert capsys.readouterr().out == ""


def test_validate_warnings_only_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    path = FILES / "spec_sample.csv"
    assert run("isn", "validate", path) == 0
    assert capsys.readouterr().out.startswith(f"{path}:8: warning: DecommDate: 10/1/1998")


def test_validate_error_exits_1_with_file_line_field(capsys: pytest.CaptureFixture[str]) -> None:
    path = FILES / "invalid" / "units_unknown.csv"
    assert run("isn", "validate", VALID, path) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{path}:4: error: Units: unknown Units 'KV'")


def test_validate_unreadable_file_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "missing.csv"
    assert run("isn", "validate", FILES / "invalid" / "units_unknown.csv", missing) == 2
    assert f"{missing}: cannot read" in capsys.readouterr().err


def test_validate_undecodable_file_is_an_error_finding(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("isn", "validate", FILES / "invalid" / "not_utf8.csv") == 1
    assert ":4: error: file: the file is not ASCII text" in capsys.readouterr().out


def test_validate_json(capsys: pytest.CaptureFixture[str]) -> None:
    path = FILES / "invalid" / "id_duplicate.csv"
    assert run("isn", "validate", "--format", "json", path) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["errors"] == 1 and document["warnings"] == 0
    assert document["findings"][0] == {
        "file": str(path),
        "severity": "error",
        "line": 6,
        "field": "ICCPObjectID",
        "message": document["findings"][0]["message"],
    }


def test_diff_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run("isn", "diff", DEMO, DEMO) == 0
    changed = tmp_path / "DEMO02may2025.csv"
    changed.write_bytes(
        DEMO.read_bytes().replace(
            b"DEMO_ET230_MW,ET230.MW,4S,-1.0", b"DEMO_ET230_MW,ET230.MW,4S,1.0"
        )
    )
    capsys.readouterr()
    assert run("isn", "diff", DEMO, changed) == 1
    assert (
        "changed DEMO_ET230_MW (line 9): UsageMultiplier '-1.0' -> '1.0'" in capsys.readouterr().out
    )
    assert run("isn", "diff", "--format", "json", DEMO, changed) == 1
    assert json.loads(capsys.readouterr().out)["changed"][0]["key"] == "DEMO_ET230_MW"
    assert run("isn", "diff", DEMO, FILES / "spec_sample.csv") == 2
    assert "different sites" in capsys.readouterr().err
    assert run("isn", "diff", DEMO, tmp_path / "missing.csv") == 2
    assert run("isn", "diff", DEMO, FILES / "invalid" / "empty.csv") == 2


def test_show_points_in_force(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("isn", "show", DEMO, "--as-of", "07/01/2025") == 0
    out = capsys.readouterr().out
    assert "DEMO_SOU_BUS2_KV" in out and "replaces DEMO_SOU_V2" in out
    assert "DEMO_SOU_V2 " not in out
    assert run("isn", "show", DEMO, "--as-of", "06/01/2025", "--format", "json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["as_of"] == "06/01/2025"
    assert "DEMO_SOU_V2" in {p["id"] for p in document["points"]}


def test_show_errors_and_bad_dates(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run("isn", "show", FILES / "invalid" / "units_unknown.csv") == 1
    assert "error: Units" in capsys.readouterr().err
    assert run("isn", "show", tmp_path / "missing.csv") == 2
    with pytest.raises(SystemExit) as caught:
        run("isn", "show", DEMO, "--as-of", "2025-06-01")
    assert caught.value.code == 2


@pytest.mark.parametrize("command", ["validate", "diff", "show", "export"])
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        run("isn", command, "--help")
    assert caught.value.code == 0
    assert "usage: iccp-gateway isn " + command in capsys.readouterr().out


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"point_files:\n  - path: {DEMO}\n    format: isn\n    as_of: 2025-07-01\n",
        encoding="utf-8",
    )
    return config


def test_export_writes_the_configured_points(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("gateway.config")
    config = write_config(tmp_path)
    assert run("isn", "export", config, "--date", "07/01/2025", "-o", tmp_path) == 0
    written = tmp_path / "DEMO01jul2025.csv"
    result = parse_isn(written.read_bytes())
    assert result.findings == []
    ids = {r.iccp_object_id for r in result.file_or_raise().records}
    assert "DEMO_SOU_BUS2_KV" in ids and "DEMO_SOU_V2" not in ids
    assert run("isn", "export", config, "--site", "DEMO", "--date", "07/01/2025") == 0
    assert capsys.readouterr().out.encode() == written.read_bytes()


def test_export_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("gateway.config")
    assert run("isn", "export", tmp_path / "missing.yaml") == 2
    assert run("isn", "export", write_config(tmp_path), "--site", "XY") == 1
    assert "must begin with the SiteID XY" in capsys.readouterr().err


def test_module_imports_in_a_fresh_interpreter() -> None:
    code = (
        "import argparse; from gateway.isn_cli import add_isn_commands; "
        "p = argparse.ArgumentParser(); add_isn_commands(p.add_subparsers()); "
        f"a = p.parse_args(['isn', 'validate', {str(VALID)!r}]); raise SystemExit(a.func(a))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
