"""Environment references in a configuration: `${NAME}`, `${NAME:-default}`, `$${`."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gateway.config import ConfigError, check_config

CONFIG = """\
gateway:
  name: ${GW_NAME:-lab}
points:
  - {id: A, kind: real}
adapters:
  - name: s
    type: sim
    interval: ${GW_INTERVAL:-0.5}
    points:
      - point: A
        signal: constant
        min: 0
        max: ${GW_MAX:-10}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gw.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GW_NAME", "GW_INTERVAL", "GW_MAX", "GW_UNSET", "GW_HOST"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_apply_when_unset_or_empty(tmp_path, monkeypatch):
    monkeypatch.setenv("GW_INTERVAL", "")
    config, _ = check_config(write(tmp_path, CONFIG))
    assert config.gateway.name == "lab"
    settings = config.adapters[0].settings
    assert settings.interval == 0.5  # type: ignore[attr-defined]


def test_set_variables_replace_and_keep_their_yaml_type(tmp_path, monkeypatch):
    monkeypatch.setenv("GW_NAME", "plant")
    monkeypatch.setenv("GW_INTERVAL", "2")
    monkeypatch.setenv("GW_MAX", "1e3")
    config, _ = check_config(write(tmp_path, CONFIG))
    assert config.gateway.name == "plant"
    settings = config.adapters[0].settings
    assert settings.interval == 2.0  # type: ignore[attr-defined]
    assert settings.points[0].max == 1000.0  # type: ignore[attr-defined]


def test_a_reference_inside_a_longer_value(tmp_path, monkeypatch):
    monkeypatch.setenv("GW_HOST", "field-devices")
    text = CONFIG.replace("${GW_NAME:-lab}", "gw-${GW_HOST:-loopback}-${GW_NAME:-x}")
    config, _ = check_config(write(tmp_path, text))
    assert config.gateway.name == "gw-field-devices-x"


def test_an_unset_variable_without_default_names_its_line(tmp_path):
    text = CONFIG.replace("${GW_NAME:-lab}", "${GW_UNSET}")
    with pytest.raises(ConfigError) as caught:
        check_config(write(tmp_path, text))
    (issue,) = caught.value.issues
    assert issue.line == 2
    assert "GW_UNSET is not set" in issue.message
    assert "${GW_UNSET:-default}" in issue.message


def test_set_but_empty_without_default_is_empty(tmp_path, monkeypatch):
    monkeypatch.setenv("GW_UNSET", "")
    text = CONFIG.replace("${GW_NAME:-lab}", "'x${GW_UNSET}y'")
    config, _ = check_config(write(tmp_path, text))
    assert config.gateway.name == "xy"


def test_dollar_dollar_is_a_literal_and_quoted_values_stay_strings(tmp_path, monkeypatch):
    monkeypatch.setenv("GW_MAX", "10")
    text = CONFIG.replace("${GW_NAME:-lab}", "'$${GW_MAX}'").replace(
        "${GW_MAX:-10}", "'${GW_MAX:-10}'"
    )
    config, _ = check_config(write(tmp_path, text))
    assert config.gateway.name == "${GW_MAX}"
    assert config.adapters[0].settings.points[0].max == 10.0  # type: ignore[attr-defined]


def test_in_a_flow_mapping_a_quoted_reference_still_converts(tmp_path, monkeypatch):
    monkeypatch.setenv("GW_MAX", "12")
    text = CONFIG.replace(
        "      - point: A\n        signal: constant\n        min: 0\n        max: ${GW_MAX:-10}",
        "      - {point: A, signal: constant, min: 0, max: '${GW_MAX:-10}'}",
    )
    assert "{point: A" in text
    config, _ = check_config(write(tmp_path, text))
    assert config.adapters[0].settings.points[0].max == 12.0  # type: ignore[attr-defined]


def test_comments_and_dollar_signs_elsewhere_are_untouched(tmp_path):
    text = "# ${GW_UNSET} in a comment is not read\n" + CONFIG.replace(
        "{id: A, kind: real}", "{id: A$B, kind: real}"
    ).replace("point: A\n", "point: A$B\n")
    config, _ = check_config(write(tmp_path, text))
    assert config.points[0].id == "A$B"


@pytest.mark.parametrize("bad", ["${GW-HOST}", "${GW_HOST:?unset}", "${GW_HOST", "${}"])
def test_a_reference_that_is_not_valid_is_an_error_not_a_value(tmp_path, bad):
    text = CONFIG.replace("${GW_NAME:-lab}", f"'gw-{bad}'")
    with pytest.raises(ConfigError) as caught:
        check_config(write(tmp_path, text))
    (issue,) = caught.value.issues
    assert issue.line == 2 and "is not an environment reference" in issue.message


def test_dollar_dollar_is_a_literal_even_before_what_is_no_name(tmp_path):
    text = CONFIG.replace("${GW_NAME:-lab}", "'a$${not-a-name'")
    config, _ = check_config(write(tmp_path, text))
    assert config.gateway.name == "a${not-a-name"
