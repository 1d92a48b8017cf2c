"""The layers hold: the library never imports the web app, and parsers never import the library."""

from __future__ import annotations

import ast
import re
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


# -- one store: SQL lives in kg/store/ and nowhere else ------------------------------------------------------

SQL_CALLS = {"execute", "executemany", "executescript", "query"}
# A statement's opening words, so that prose such as "Update the edges" or "with" is not taken for SQL.
SQL_START = re.compile(
    r"""\s*\(?\s*(
        select\s+(distinct\s+)?([*\d({'"]|.*?\bfrom\b)
      | insert\s+(or\s+\w+\s+)?into\b
      | replace\s+into\b
      | update\s+\S+\s+set\b
      | delete\s+from\b
      | create\s+(unique\s+|virtual\s+|temp\s+|temporary\s+)*(table|index|trigger|view)\b
      | drop\s+(table|index|trigger|view)\b
      | alter\s+table\b
      | with\s+(recursive\s+)?\w+\s*(\([^)]*\))?\s*as\b
      | pragma\s+\w+
    )""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
SQL_FREE = ("kg", "web", "ingest", "bench")


def _text(node: ast.AST) -> str | None:
    """A string constant's text; an f-string's, with `{}` for each placeholder."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def sql_in(path: Path) -> list[str]:
    """Each SQL call (`.execute(` and kin) and each string that opens an SQL statement, with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    inside_fstrings = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS:
            found.append((node.lineno, f".{node.func.attr}("))
        elif id(node) not in inside_fstrings and (text := _text(node)) is not None and SQL_START.match(text):
            found.append((node.lineno, repr(text.split(None, 1)[0])))
    return [f"{line}: {what}" for line, what in sorted(found)]


def sql_offenders() -> list[str]:
    out = []
    for package in SQL_FREE:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel.parts[:2] != ("kg", "store"):
                out += [f"{rel}:{hit}" for hit in sql_in(path)]
    return out


def test_all_sql_sits_in_the_store() -> None:
    assert sql_offenders() == []


def test_the_sql_check_catches_sql(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def f(conn, db, cols, t):\n"
        "    conn.execute(q)\n"  # 2
        "    db.query('x')\n"  # 3
        "    q = '''\n   select id\n FROM nodes'''\n"  # 4
        "    s = f'INSERT  or replace INTO {t} VALUES ({1})'\n"  # 7
        "    s = f'sElEcT {cols} ' f'FROM {t}'\n"  # 8
        "    t = ('  With x AS (SELECT 1) ' 'SELECT * FROM x')\n"  # 9
        "    p = 'pragma wal_checkpoint(TRUNCATE)'\n"  # 10
        "    u = 'Update the graph'\n"  # prose, not SQL
        "    w = ('with', 'update', 'Select a node to see its links', 'Create the vault first')\n"
        "    return 'selection'\n"
    )
    assert [int(hit.split(":")[0]) for hit in sql_in(bad)] == [2, 3, 4, 7, 8, 9, 10]


def test_the_store_is_one_package() -> None:
    """The schema and the queries live in kg/store/; no module is left behind at the old places."""
    assert (ROOT / "kg" / "store" / "__init__.py").exists() and (ROOT / "kg" / "store" / "migrations.py").exists()
    assert not (ROOT / "kg" / "store.py").exists() and not (ROOT / "kg" / "migrations.py").exists()
