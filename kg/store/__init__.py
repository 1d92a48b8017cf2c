"""The store: one SQLite file (WAL) opened through sqlite-utils. It owns the schema; it never parses."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from kg.store.migrations import migrate

DEFAULT_DB = "data/kg.db"


def default_db_path() -> str:
    """`$KG_DB`, else data/kg.db."""
    return os.environ.get("KG_DB") or DEFAULT_DB


class StoreError(Exception):
    """A store that cannot be opened or used; the message says what to do."""


def _row(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    if isinstance(row.get("meta"), str):
        row["meta"] = json.loads(row["meta"])
    return row


class Store:
    """A knowledge-graph database. Open one per thread or request; close it when done."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = str(path)
        if not create and not Path(self.path).exists():
            raise StoreError(f"no knowledge graph at {self.path}; run `kg ingest data/` first or pass --db")
        if create:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            migrate(conn)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a usable knowledge graph ({exc}); remove it and re-ingest") from None
        self.conn = conn
        self.db = sqlite_utils.Database(conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: all of it lands or none of it does."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- reading ---------------------------------------------------------------------------------

    def node(self, node_id: str) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM nodes WHERE id = ?", [node_id]))
        return _row(rows[0]) if rows else None

    def nodes(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            q = f"SELECT * FROM nodes WHERE id IN ({','.join('?' * len(chunk))})"
            out.update({r["id"]: _row(r) for r in self.db.query(q, chunk)})
        return out

    def nodes_of_kind(self, kind: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM nodes" + (" WHERE kind = ?" if kind else "") + " ORDER BY id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_row(r) for r in self.db.query(sql, [kind] if kind else [])]

    def edges(self, node_id: str, direction: str = "out", kinds: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        col = "source" if direction == "out" else "target"
        sql = f"SELECT * FROM edges WHERE {col} = ?"
        args: list[Any] = [node_id]
        if kinds:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            args += list(kinds)
        return list(self.db.query(sql + " ORDER BY kind, weight DESC, target, source", args))

    def stats(self) -> dict[str, dict[str, int]]:
        """Counts of nodes and edges by kind."""
        nodes = {r["kind"]: r["n"] for r in self.db.query("SELECT kind, count(*) n FROM nodes GROUP BY kind")}
        edges = {r["kind"]: r["n"] for r in self.db.query("SELECT kind, count(*) n FROM edges GROUP BY kind")}
        return {
            "nodes": dict(sorted(nodes.items())),
            "edges": dict(sorted(edges.items())),
        }

    def setting(self, key: str, default: str | None = None) -> str | None:
        rows = list(self.db.query("SELECT value FROM settings WHERE key = ?", [key]))
        return rows[0]["value"] if rows else default

    def set_setting(self, key: str, value: str) -> None:
        """Write a setting; call inside a transaction or on its own."""
        self.conn.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, value))

    def delete_settings(self, prefix: str) -> None:
        """Remove every setting whose key starts with `prefix` (no `%` or `_` in it); call as `set_setting`."""
        self.conn.execute("DELETE FROM settings WHERE key LIKE ?", (prefix + "%",))

    def generation(self) -> int:
        """A number that changes whenever an ingest changes the graph, for caches keyed on it."""
        return int(self.setting("generation", "0") or 0)

    def vectors(self, kinds: tuple[str, ...] = ()) -> tuple[list[str], list[str], np.ndarray]:
        """(ids, kinds, unit vectors as a float32 matrix) of every embedded node, optionally of some kinds."""
        sql = "SELECT n.id, n.kind, e.vector, e.dim FROM nodes n JOIN embeddings e ON e.key = n.embed_key"
        args: list[Any] = []
        if kinds:
            sql += f" WHERE n.kind IN ({','.join('?' * len(kinds))})"
            args = list(kinds)
        ids, ks, vecs = [], [], []
        for nid, kind, blob, _dim in self.conn.execute(sql + " ORDER BY n.id", args):
            ids.append(nid)
            ks.append(kind)
            vecs.append(np.frombuffer(blob, dtype=np.float32))
        mat = np.vstack(vecs) if vecs else np.zeros((0, 0), dtype=np.float32)
        return ids, ks, mat

    def vector(self, node_id: str) -> np.ndarray | None:
        row = self.conn.execute(
            "SELECT e.vector FROM nodes n JOIN embeddings e ON e.key = n.embed_key WHERE n.id = ?",
            (node_id,),
        ).fetchone()
        return np.frombuffer(row[0], dtype=np.float32) if row else None
