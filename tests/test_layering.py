"""The design's rules on who imports whom, checked on the source tree."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


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
