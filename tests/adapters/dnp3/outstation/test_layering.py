"""The outstation's engines stay sans-IO, and product code never imports the test peer."""

from __future__ import annotations

from tests.support import REPO
from tests.test_layering import IO_MODULES, imported_modules

PACKAGE = REPO / "adapters" / "dnp3" / "outstation"
SANS_IO = ("settings.py", "database.py", "controls.py")
"""The modules that take time as an argument and touch no socket or event loop."""
SHELLS = frozenset({"adapters.dnp3.outstation.shell", "adapters.dnp3.outstation.adapter"})


def test_the_engines_import_no_event_loop_socket_clock_or_shell() -> None:
    offenders = {}
    for name in SANS_IO:
        bad = {
            m
            for m in imported_modules(PACKAGE / name)
            if m.split(".")[0] in IO_MODULES or m in SHELLS
        }
        if bad:
            offenders[name] = sorted(bad)
    assert offenders == {}


def test_product_code_never_imports_yadnp3() -> None:
    for path in [*(REPO / "gateway").rglob("*.py"), *(REPO / "adapters").rglob("*.py")]:
        assert not any(m.startswith("opendnp3") for m in imported_modules(path)), path
