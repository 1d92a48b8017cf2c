"""Everything a user can see in a store, for comparing two stores (shared by bench/crash.py and the tests)."""

from __future__ import annotations

import json

from kg.store import Store


def dump(store: Store) -> dict:
    """Everything a user can see in the store, without timestamps, for comparing two stores."""
    nodes = [
        (r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7]))
        for r in store.conn.execute("SELECT id, kind, title, text, path, line, embed_key, meta FROM nodes ORDER BY id")
    ]
    edges = list(
        store.conn.execute(
            "SELECT source, target, kind, origin, round(weight, 4), label, context FROM edges "
            "ORDER BY source, target, kind, label"
        )
    )
    fts = list(
        store.conn.execute(
            "SELECT n.id, f.title, f.body, f.kind FROM nodes_fts f JOIN nodes n ON n.rowid = f.rowid ORDER BY n.id"
        )
    )
    return {"nodes": nodes, "edges": edges, "fts": fts}
