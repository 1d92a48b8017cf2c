"""Experiment modules: registered by ingest from their source, never imported here."""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterator

from ingest.records import NodeRecord, ParseError


def parse_experiment(text: str, path: str, name: str) -> Iterator[NodeRecord]:
    """Yield the experiment node: its docstring, default PARAMS and code hash, read with `ast`."""
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        raise ParseError(f"experiment is not valid Python ({exc.msg})", exc.lineno) from None
    except (RecursionError, MemoryError, ValueError):
        raise ParseError("experiment source is too deeply nested or malformed to read") from None
    doc = ast.get_docstring(tree) or ""
    params: dict = {}
    has_run = False
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "run":
            has_run = True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "PARAMS" for t in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                raise ParseError("PARAMS must be a literal dict of defaults", node.lineno) from None
            if not isinstance(value, dict):
                raise ParseError("PARAMS must be a dict", node.lineno)
            params = value
    if not has_run:
        raise ParseError("experiment defines no run(params, seed, outdir) function; add one", 1)
    title = doc.strip().split("\n")[0] if doc.strip() else name
    code_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
    meta = {"module": name, "file": path, "params": params, "code_hash": code_hash}
    yield NodeRecord(f"experiment:{name}", "experiment", title, doc, path, 1, meta)
