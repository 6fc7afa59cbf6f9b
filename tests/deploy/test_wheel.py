"""The runtime-only install, as the container image does it, in a clean virtual environment.

A wheel is built (``pip wheel --no-deps``), installed with its dependencies into a new venv,
and what got installed is listed: no package of the test extra is among them (unless the
product itself needs it). ``iccp-gateway check mappings/demo.yaml`` passes there, and the
web console's files are in the wheel.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

from tests.support import REPO

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


def normalized(requirement: str) -> str:
    """The distribution name of a requirement, normalized as PEP 503 says."""
    name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert name is not None, requirement
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


def test_the_wheel_installs_only_runtime_packages_and_checks_the_demo(tmp_path: Path) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime = {normalized(r) for r in project["dependencies"]}
    test_only = {normalized(r) for r in project["optional-dependencies"]["test"]} - runtime
    assert {"pytest", "hypothesis", "ruff", "mypy", "pyiec61850-ng"} <= test_only

    # the build stage's context: what the Dockerfile copies (the tree is left untouched)
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    for name in ("gateway", "adapters"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(dist),
            str(source),
        ],
        check=True,
        timeout=180,
    )
    (wheel,) = dist.glob("iccp_gateway-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    static = REPO / "gateway" / "api" / "static"
    console = {f"gateway/api/{p.relative_to(static.parent).as_posix()}" for p in static.rglob("*")}
    assert {"gateway/api/static/index.html", "gateway/api/static/console.js"} <= console
    # every console file, subfolders too (a new one needs its glob in package-data)
    assert {n for n in names if n.startswith("gateway/api/static/")} == {
        n for n in console if (REPO / n).is_file()
    }
    assert not [n for n in names if n.startswith("tests/")]

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True,
        env=clean,
        timeout=240,
    )
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
    )
    installed = {normalized(p["name"]): p["version"] for p in json.loads(listed.stdout)}
    print("installed:", " ".join(f"{n}=={v}" for n, v in sorted(installed.items())))
    assert "iccp-gateway" in installed
    assert runtime - {"uvloop"} <= installed.keys()
    assert sorted(test_only & installed.keys()) == []

    check = subprocess.run(
        [str(env_dir / "bin" / "iccp-gateway"), "check", str(REPO / "mappings" / "demo.yaml")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "OK" in check.stdout
