"""The design's rules on who imports whom, checked on the source tree.

* the core (``gateway/``) imports no adapter, and an adapter imports only the core,
  ``adapters.base`` and its own package;
* product code never imports the GPL test peer (pyiec61850);
* the sans-IO layers of ``adapters/tase2`` stay sans-IO: ``asn1/``, ``iso/``, ``mms/`` outside
  ``mms/aio/``, ``model/``, the engine modules of ``server/`` and ``client/`` (and the package's
  own top-level modules, and the tools' text and result modules) import no event loop, socket,
  TLS, clock or randomness, and none of the modules that do. A module of ``adapters/tase2`` is
  sans-IO unless it is in ``mms/aio/`` or ``tools/`` (but for the tools named below) or is one
  of the shells named below.

Every import counts: at the top of a module, inside a function, or under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.support import REPO

ROOT = REPO
TASE2 = ROOT / "adapters" / "tase2"

IO_MODULES = frozenset({"asyncio", "socket", "ssl", "time", "random"})
"""Standard modules a sans-IO module never imports (time comes in as a clock argument)."""

SANS_IO_PACKAGES = ("asn1", "iso", "mms", "model", "server", "client")
"""The layers the design names sans-IO (checked to exist below)."""

IO_PACKAGES = ("mms/aio", "tools")
"""Packages of I/O: every asyncio piece of MMS, and the command-line tools (but for
``SANS_IO_TOOLS``)."""

SANS_IO_TOOLS = {
    "tools/reasons.py": "refusals, access errors and ACSE diagnostics in words",
    "tools/render.py": "types, values and reports as text and JSON",
    "tools/result.py": "what a probe run found and learnt",
}
"""The modules of ``tools/`` that are sans-IO, checked like the engines."""

SHELLS = {
    "server/adapter.py": "the tase2-server adapter: its task, the bus and the clock",
    "server/shell.py": "the asyncio server: scheduling and association hooks",
    "server/outbox.py": "report sending: one asyncio queue per peer",
    "client/adapter.py": "the tase2-client adapter: the link loop, polling and the clock",
    "client/session.py": "the steps that start a transfer set, awaited on an MmsClient",
    "client/reporting.py": "one data set started, kept and stopped over an MmsClient",
    "client/devices.py": "select, operate and tag steps, awaited on an MmsClient",
    "client/failures.py": "an MmsClient call's exceptions as typed command failures",
}
"""The I/O modules of ``server/`` and ``client/``; every other module there is an engine."""


def module_name(path: Path) -> str:
    """The dotted name of the module at ``path`` (a package's ``__init__`` is the package)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, by absolute name (``from a import b`` gives ``a`` and,
    when ``b`` is a module of ``a``, ``a.b``)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
            for alias in node.names:
                if module_path(f"{module}.{alias.name}") is not None:
                    names.add(f"{module}.{alias.name}")
    return names


def module_path(name: str) -> Path | None:
    """The file of product or test module ``name``, or None (not ours, or not a module)."""
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def tase2_rel(path: Path) -> str:
    return path.relative_to(TASE2).as_posix()


def is_io_module(rel: str) -> bool:
    """True for the asyncio side of ``adapters/tase2`` (``rel`` relative to it)."""
    if rel in SANS_IO_TOOLS:
        return False
    return rel in SHELLS or any(rel.startswith(f"{p}/") for p in IO_PACKAGES)


def sans_io_modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(TASE2.rglob("*.py")):
        rel = tase2_rel(path)
        if not is_io_module(rel):
            yield rel, path


def io_imports(path: Path) -> set[str]:
    """What ``path`` imports that a sans-IO module must not: the standard I/O modules, and
    the I/O modules of ``adapters/tase2`` (through which it would get them)."""
    bad = set()
    for name in imported_modules(path):
        if name.split(".")[0] in IO_MODULES:
            bad.add(name)
        elif name.startswith("adapters.tase2."):
            target = module_path(name)
            if target is not None and is_io_module(tase2_rel(target)):
                bad.add(name)
    return bad


def test_the_core_imports_no_adapter():
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in imported_modules(path) if m.startswith("adapters")
        )
        for path in (ROOT / "gateway").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_adapters_import_only_the_core_their_own_package_and_base():
    offenders = {}
    for path in (ROOT / "adapters").rglob("*.py"):
        rel = path.relative_to(ROOT / "adapters")
        own = rel.parts[0].removesuffix(".py")
        bad = sorted(
            m
            for m in imported_modules(path)
            if m.startswith("adapters.") and m != "adapters.base" and m.split(".")[1] != own
        )
        if bad:
            offenders[str(rel)] = bad
    assert offenders == {}


def test_product_code_never_imports_the_gpl_test_peer():
    for path in [*(ROOT / "gateway").rglob("*.py"), *(ROOT / "adapters").rglob("*.py")]:
        assert not any(m.startswith("pyiec61850") for m in imported_modules(path)), path


def test_product_code_never_imports_the_opendnp3_test_peer():
    for path in [*(ROOT / "gateway").rglob("*.py"), *(ROOT / "adapters").rglob("*.py")]:
        assert not any(m.startswith("opendnp3") for m in imported_modules(path)), path


DNP3 = ROOT / "adapters" / "dnp3"
DNP3_SHELLS = {"master/adapter.py", "outstation/adapter.py", "outstation/shell.py"}
"""The asyncio side of ``adapters/dnp3``; every other module there is sans-IO."""


def test_the_dnp3_sans_io_modules_import_no_io_and_no_shell():
    shells = {f"adapters.dnp3.{rel.removesuffix('.py').replace('/', '.')}" for rel in DNP3_SHELLS}
    offenders = {}
    for path in sorted(DNP3.rglob("*.py")):
        rel = path.relative_to(DNP3).as_posix()
        if rel in DNP3_SHELLS:
            continue
        bad = {m for m in imported_modules(path) if m.split(".")[0] in IO_MODULES or m in shells}
        if bad:
            offenders[rel] = sorted(bad)
    assert offenders == {}
    assert all((DNP3 / rel).is_file() for rel in DNP3_SHELLS)


def test_sans_io_layers_import_no_event_loop_socket_tls_clock_or_randomness():
    offenders = {}
    for rel, path in sans_io_modules():
        bad = {m for m in io_imports(path) if m.split(".")[0] in IO_MODULES}
        if bad:
            offenders[rel] = sorted(bad)
    assert offenders == {}, "pass clocks and randomness in, or move the module to a shell"


def test_sans_io_layers_import_none_of_the_asyncio_modules():
    offenders = {}
    for rel, path in sans_io_modules():
        bad = {m for m in io_imports(path) if m.split(".")[0] not in IO_MODULES}
        if bad:
            offenders[rel] = sorted(bad)
    assert offenders == {}, "a sans-IO module that imports a shell gets its asyncio too"


def test_the_sans_io_layers_are_the_ones_the_design_names():
    assert {p.name for p in TASE2.iterdir() if (p / "__init__.py").is_file()} >= {
        *SANS_IO_PACKAGES,
        "tools",
    }
    engines = {rel for rel, _ in sans_io_modules()}
    for package in SANS_IO_PACKAGES:
        assert f"{package}/__init__.py" in engines, package
    assert {"asn1/ber.py", "iso/acse.py", "mms/association.py", "model/points.py"} <= engines
    assert {"server/transfer.py", "server/handler.py", "client/plan.py"} <= engines
    assert not any(rel.startswith("mms/aio/") for rel in engines)
    assert {rel for rel in engines if rel.startswith("tools/")} == set(SANS_IO_TOOLS)
    assert not engines & set(SHELLS)


def test_every_named_shell_exists():
    for rel in SHELLS:
        assert (TASE2 / rel).is_file(), f"{rel} is gone: drop it from SHELLS"
