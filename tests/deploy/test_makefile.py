"""`make run` uses a runtime-only venv; `make test` keeps the one with the test extra."""

from __future__ import annotations

import re

from tests.support import REPO


def recipe(target: str) -> str:
    """The lines of ``target``'s rule (its prerequisites and its recipe) in the Makefile."""
    text = (REPO / "Makefile").read_text().replace("\\\n", " ")
    found = re.search(rf"^{re.escape(target)}:(.*?)(?=^\S|\Z)", text, re.M | re.S)
    assert found is not None, target
    return found.group(1)


def test_make_run_installs_the_product_without_the_test_extra() -> None:
    run = recipe("run")
    assert "$(RUN_VENV)/.installed" in run
    assert "$(RUN_VENV)/bin/iccp-gateway run $(CONFIG)" in run
    install = recipe("$(RUN_VENV)/.installed")
    assert "install --quiet -e ." in install
    assert "[test]" not in install
    assert re.search(r"^RUN_VENV := \.venv-run$", (REPO / "Makefile").read_text(), re.M)


def test_make_test_keeps_the_test_extra() -> None:
    assert "-e '.[test]'" in recipe("$(VENV)/.installed")
    assert "lint" in recipe("test")
