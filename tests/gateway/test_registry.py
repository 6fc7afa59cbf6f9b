"""The adapter registry: a type's package is imported only when a config names the type."""

import json
import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint

import pytest

from adapters.sim import SimAdapter
from gateway import registry as registry_module
from gateway.registry import AdapterRegistry, UnknownAdapterType
from tests.support import REPO

GROUP = "iccp_gateway.test_adapters"


@pytest.fixture
def declared(monkeypatch):
    """Entry points of GROUP: `sim` (importable), `broken` (its module does not exist)."""
    points = [
        EntryPoint("sim", "adapters.sim:SimAdapter", GROUP),
        EntryPoint("broken", "adapters.no_such_adapter:Adapter", GROUP),
    ]
    loads: list[str] = []
    real_load = EntryPoint.load

    def load(self: EntryPoint) -> object:
        loads.append(self.name)
        return real_load(self)

    monkeypatch.setattr(EntryPoint, "load", load)
    monkeypatch.setattr(
        registry_module, "entry_points", lambda group: [p for p in points if p.group == group]
    )
    return loads


def test_names_and_unknown_types_load_no_entry_point(declared):
    registry = AdapterRegistry(GROUP)
    assert registry.names() == ["broken", "sim"]
    with pytest.raises(UnknownAdapterType, match=r"'nope' \(known: broken, sim\)"):
        registry.get("nope")
    assert declared == []


def test_get_loads_only_the_type_asked_for_and_once(declared):
    registry = AdapterRegistry(GROUP)
    assert registry.get("sim") is SimAdapter
    assert registry.get("sim") is SimAdapter
    assert declared == ["sim"]


def test_a_type_whose_package_cannot_be_imported_is_a_clear_error(declared):
    registry = AdapterRegistry(GROUP)
    with pytest.raises(UnknownAdapterType, match=r"'broken' cannot be loaded from adapters\.no_"):
        registry.get("broken")


def test_a_registered_class_wins_over_its_entry_point(declared):
    class Other(SimAdapter):
        pass

    registry = AdapterRegistry(GROUP)
    registry.register(Other)
    assert registry.get("sim") is Other and declared == []
    assert registry.names() == ["broken", "sim"]


SIM_ONLY = """\
points:
  - {id: A, kind: real}
adapters:
  - {name: sa, type: sim, interval: 0.05, points: [{point: A}]}
"""

CHECK_AND_RUN = """\
import asyncio, json, sys
from gateway import cli
from gateway.config import load_config
from gateway.runtime import Runtime

path = sys.argv[1]
assert cli.main(["check", path]) == 0
cli.build_parser(cli.command_of(["--log-level", "info", "run", path]))

async def run() -> None:
    runtime = Runtime(load_config(path))
    await runtime.start()
    await asyncio.sleep(0.1)
    await runtime.stop()

asyncio.run(run())
heavy = tuple(sys.argv[2:])
print(json.dumps(sorted(m for m in sys.modules if m.startswith(heavy))))
"""


ICCP_ONLY = """\
points:
  - {id: A, kind: real}
adapters:
  - {name: sa, type: sim, interval: 0.05, points: [{point: A}]}
  - name: iccp
    type: tase2-server
    port: 0
    tables: [{id: BLT, domain: ICC1, peer: {ap_title: 1.1.1.999}, points: [{match: A}]}]
"""


def modules_loaded(tmp_path, config: str, *heavy: str) -> list[str]:
    """The modules starting with one of `heavy` that checking and running `config` for a
    moment imported (in a new interpreter)."""
    path = tmp_path / "gw.yaml"
    path.write_text(config)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHECK_AND_RUN), str(path), *heavy],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_sim_only_gateway_imports_no_other_adapter_library(tmp_path):
    heavy = ("pymodbus", "paho", "adapters.modbus", "adapters.mqtt", "adapters.tase2")
    assert modules_loaded(tmp_path, SIM_ONLY, *heavy, "gateway.isn") == []


def test_an_iccp_server_without_tls_loads_no_tls_opc_ua_or_sql_library(tmp_path):
    heavy = ("cryptography", "asyncua", "sqlalchemy", "pymodbus", "adapters.opcua")
    assert modules_loaded(tmp_path, ICCP_ONLY, *heavy) == []
