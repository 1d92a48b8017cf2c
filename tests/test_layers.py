"""The layers hold: the library never imports the web app, and parsers never import the library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports included).

    `kg serve` loads the app with importlib by name, which is the sanctioned way up the stack."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


# The vocabulary is pure data that every layer shares; parsers may name kinds from it.
SHARED = {"kg.model"}


def offenders(package: str, forbidden: str) -> list[str]:
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for mod in imported_modules(path):
            if mod in SHARED:
                continue
            if mod == forbidden or mod.startswith(forbidden + "."):
                out.append(f"{path.relative_to(ROOT)} imports {mod}")
    return out


@pytest.mark.parametrize("package,forbidden", [("kg", "web"), ("ingest", "kg")])
def test_lower_layer_never_imports_upper(package: str, forbidden: str) -> None:
    assert offenders(package, forbidden) == []


def test_the_check_catches_an_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from web.views import node_view\n    import web\n")
    assert imported_modules(bad) == {"web.views", "web"}


def test_no_page_modules_left_in_kg() -> None:
    for name in ("views", "fullgraph", "vis", "layout", "render"):
        assert not (ROOT / "kg" / f"{name}.py").exists(), name
