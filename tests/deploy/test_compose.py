"""`docker-compose.yml` checked where no container engine runs.

The Compose Specification's JSON schema (as `check-jsonschema` ships it: ``--builtin-schema
vendor.compose-spec``) checks its shape; the references are checked here: services named by
``depends_on`` exist and have health checks, named volumes are declared and used, files
mounted from the repository exist, published ports are bound to 127.0.0.1, and the gateway
configurations each service runs exist and pass ``iccp-gateway check`` with the environment
compose gives them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import REPO

COMPOSE = REPO / "docker-compose.yml"
CONFIG_DIR = "/etc/iccp-gateway"


def check_jsonschema() -> list[str]:
    """The command of the validator installed beside this Python (the test extra)."""
    program = Path(sys.executable).parent / "check-jsonschema"
    if not program.exists():
        pytest.fail("check-jsonschema is not installed: pip install -e '.[test]'")
    return [str(program), "--builtin-schema", "vendor.compose-spec"]


def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict)
    return doc


def gateway_services(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services running the gateway image (their command is ``run CONFIG``)."""
    return {
        name: service
        for name, service in doc["services"].items()
        if service.get("command", [None])[0] == "run"
    }


def test_the_compose_file_is_valid_against_the_compose_specification() -> None:
    result = subprocess.run(
        [*check_jsonschema(), str(COMPOSE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_mistake(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("    depends_on:", "    depends_upon:", 1))
    result = subprocess.run(
        [*check_jsonschema(), str(broken)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "depends_upon" in result.stdout + result.stderr


def test_the_project_has_a_name_and_the_lab_services() -> None:
    doc = compose()
    assert doc["name"] == "iccp-gateway-lab"
    assert set(doc["services"]) == {"field-devices", "plant", "rto", "mosquitto", "postgres"}
    assert set(gateway_services(doc)) == {"field-devices", "plant", "rto"}


def test_depends_on_names_services_with_health_checks() -> None:
    services = compose()["services"]
    for name, service in services.items():
        for target, condition in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown service {target}"
            assert target != name
            assert condition == {"condition": "service_healthy"}, (name, target)
            assert "healthcheck" in services[target], f"{target} has no health check"
    assert set(services["plant"]["depends_on"]) == {"field-devices", "mosquitto", "postgres"}
    assert set(services["rto"]["depends_on"]) == {"plant", "mosquitto"}


def mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for entry in service.get("volumes", []):
        source, target = entry.split(":")[:2]
        out.append((source, target))
    return out


def test_named_volumes_are_declared_and_used_and_mounted_files_exist() -> None:
    doc = compose()
    declared = set(doc.get("volumes") or {})
    used = set()
    for name, service in doc["services"].items():
        for source, _target in mounts(service):
            if source.startswith((".", "/")):
                assert (REPO / source).exists(), f"{name} mounts {source}, not in the repository"
                assert source.startswith("./"), f"{name} mounts {source} from outside the repo"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"
                used.add(source)
    assert used == declared, f"declared but unused: {declared - used}"
    # every gateway keeps its state on its own volume, where its configuration says
    for name, service in gateway_services(doc).items():
        targets = dict((t, s) for s, t in mounts(service))
        assert targets[CONFIG_DIR] == "./deploy/lab", name
        assert targets["/var/lib/iccp-gateway"] in declared, name
        assert service["environment"]["LAB_STATE_DIR"] == "/var/lib/iccp-gateway"
    assert (REPO / doc["services"]["plant"]["build"] / "Dockerfile").exists()


def test_published_ports_are_bound_to_loopback_only() -> None:
    published = 0
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), (name, port)
            published += 1
    assert published >= 4  # the two consoles, MQTT, PostgreSQL (and ICCP for the probe)


def test_gateway_services_listen_where_their_ports_and_health_checks_look() -> None:
    for name, service in gateway_services(compose()).items():
        env = service["environment"]
        api_port = env["LAB_API"].rpartition(":")[2]
        health = service["healthcheck"]["test"]
        assert health[:3] == ["CMD", "iccp-gateway", "status"], name
        assert health[-1] == f"http://127.0.0.1:{api_port}", name
        for port in service.get("ports", []):
            container = port.rsplit(":", 1)[1]
            assert container in (api_port, env["LAB_ICCP_PORT"]), (name, port)
        assert service["cap_drop"] == ["ALL"]
        assert "cap_add" not in service
        assert service["sysctls"] == {"net.ipv4.ip_unprivileged_port_start": 102}
    plant = compose()["services"]["plant"]
    assert "127.0.0.1:10102:102" in plant["ports"]  # ICCP on 102, bound without root


@pytest.mark.parametrize("service", ["field-devices", "plant", "rto"])
def test_each_gateway_configuration_exists_and_passes_check(service: str) -> None:
    spec = compose()["services"][service]
    config = spec["command"][1]
    assert config.startswith(CONFIG_DIR + "/")
    path = REPO / "deploy" / "lab" / config.removeprefix(CONFIG_DIR + "/")
    assert path.is_file(), f"{service} runs {config}: {path} does not exist"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAB_")}
    env.update({k: str(v) for k, v in spec["environment"].items()})
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning" not in (result.stdout + result.stderr).lower()


def strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*strings(k), *strings(v))]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return []


def test_no_value_is_interpolated_by_compose_by_mistake() -> None:
    """Compose replaces $NAME and ${NAME} in every value: a literal $ is written $$."""
    unescaped = [s for s in strings(compose()) if "$" in s.replace("$$", "")]
    assert unescaped == []
