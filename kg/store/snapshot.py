"""The store as a whole: what a user can see in it (to compare two stores), its integrity, its WAL, its columns."""

from __future__ import annotations

import json
from typing import Any

from kg.store import Store


def snapshot(store: Store) -> dict[str, list[Any]]:
    """Everything a user can see in the store, without timestamps: nodes, edges and full-text rows, sorted."""
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


def integrity_ok(store: Store) -> bool:
    """SQLite's own integrity check of the whole file."""
    return store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def checkpoint(store: Store) -> None:
    """Fold the write-ahead log into the database file and empty it, so the file can be copied alone."""
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def columns(store: Store, table: str) -> set[str]:
    """The column names of a table."""
    return {r[1] for r in store.conn.execute(f"PRAGMA table_info({table})")}
