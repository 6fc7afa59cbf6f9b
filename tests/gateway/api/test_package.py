"""The console ships in the wheel: every file under gateway/api/static is package data."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import REPO

STATIC = REPO / "gateway" / "api" / "static"


def test_the_built_wheel_holds_every_console_file(tmp_path: Path) -> None:
    pytest.importorskip("setuptools", minversion="77")  # the build backend pyproject names
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for package in ("gateway", "adapters"):
        shutil.copytree(REPO / package, source / package, ignore=ignore)
    offline = ("--no-deps", "--no-build-isolation", "--no-index")
    dist = tmp_path / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", *offline, "-w", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    [wheel] = dist.glob("iccp_gateway-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {n for n in archive.namelist() if n.startswith("gateway/api/static/")}
    wanted = {
        f"gateway/api/static/{p.relative_to(STATIC).as_posix()}"
        for p in STATIC.rglob("*")
        if p.is_file()
    }
    assert {"index.html", "console.js", "console.css"} <= {n.rsplit("/", 1)[1] for n in wanted}
    assert shipped == wanted  # a file in a subfolder needs its glob in package-data too
