"""The sync's reads and writes: the store's index for a plan, the file list, the parse cache, and the statements
that apply a change set. Writes run on the caller's connection, inside the caller's one transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from kg.store import Store
from kg.store.stash import text_of

if TYPE_CHECKING:
    from ingest.records import NodeRecord

EdgeRow = tuple[str, str, str, str, str, float, str, str, str, str, int, str]
# id, source, target, kind, origin, weight, label, context, root, path, line, ref
FileEntry = tuple[str, str, str, str, str]  # root, rel, hash, ingested_at, fmt


def index_rows(store: Store) -> tuple[dict[str, tuple[Any, ...]], dict[str, tuple[Any, ...]]]:
    """The store's index for a plan: node id → (hash, root, path, embed key), and edge id → (root, path, weight,
    origin, context, line, ref) of every edge but the `similar` ones."""
    conn = store.conn
    nodes = {r[0]: (r[1], r[2], r[3], r[4]) for r in conn.execute("SELECT id, hash, root, path, embed_key FROM nodes")}
    edges = {
        r[0]: tuple(r[1:])
        for r in conn.execute(
            "SELECT id, root, path, weight, origin, context, line, ref FROM edges WHERE kind != 'similar'"
        )
    }
    return nodes, edges


def file_hashes(store: Store) -> dict[tuple[str, str], tuple[str, str]]:
    """(root, rel) → (hash, format) of every file the store has read."""
    return {(r[0], r[1]): (r[2], r[3]) for r in store.conn.execute("SELECT root, rel, hash, fmt FROM files")}


def cached_records(store: Store, digest: str) -> Any | None:
    """The parse cache's records for a file hash (as decoded JSON), or None when that hash was never parsed."""
    row = store.conn.execute("SELECT records FROM parse_cache WHERE hash = ?", (digest,)).fetchone()
    return json.loads(row[0]) if row else None


def cache_records(conn: sqlite3.Connection, rows: list[tuple[str, str]]) -> None:
    """Add (hash, records as JSON text) rows to the parse cache; a hash already there keeps its row."""
    conn.executemany("INSERT OR IGNORE INTO parse_cache VALUES (?, ?)", rows)


def upsert_node(
    conn: sqlite3.Connection,
    node: NodeRecord,
    h: str,
    ekey: str | None,
    root: str,
    now: str,
    body: Callable[[NodeRecord, str], str],
) -> None:
    """Write a node (created_at kept when it exists) and its full-text row: the title and `body(node, text)`.
    Tags and attachments get no full-text row."""
    text = text_of(node.text)  # read once: the body may wait on disk during the ingest (kg/store/stash.py)
    conn.execute(
        """INSERT INTO nodes (id, kind, title, text, root, path, line, hash, embed_key, meta, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET kind=excluded.kind, title=excluded.title, text=excluded.text,
           root=excluded.root, path=excluded.path, line=excluded.line, hash=excluded.hash,
           embed_key=excluded.embed_key, meta=excluded.meta, updated_at=excluded.updated_at""",
        (
            node.id,
            node.kind,
            node.title,
            text,
            root,
            node.path,
            node.line,
            h,
            ekey,
            json.dumps(node.meta, ensure_ascii=False, sort_keys=True),
            now,
            now,
        ),
    )
    conn.execute("DELETE FROM nodes_fts WHERE rowid = (SELECT rowid FROM nodes WHERE id = ?)", (node.id,))
    if node.kind not in ("tag", "attachment"):
        conn.execute(
            "INSERT INTO nodes_fts (rowid, title, body, kind) VALUES ((SELECT rowid FROM nodes WHERE id = ?), ?, ?, ?)",
            (node.id, node.title, body(node, text), node.kind),
        )


def delete_nodes(conn: Any, ids: list[str]) -> None:
    """Remove nodes, their full-text rows and every edge from or to them."""
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        conn.execute(f"DELETE FROM nodes_fts WHERE rowid IN (SELECT rowid FROM nodes WHERE id IN ({marks}))", chunk)
        conn.execute(f"DELETE FROM nodes WHERE id IN ({marks})", chunk)
        conn.execute(f"DELETE FROM edges WHERE source IN ({marks}) OR target IN ({marks})", chunk + chunk)


def delete_edges(conn: sqlite3.Connection, ids: Iterable[str]) -> None:
    conn.executemany("DELETE FROM edges WHERE id = ?", [(e,) for e in ids])


def upsert_edges(conn: sqlite3.Connection, rows: Iterable[EdgeRow]) -> None:
    """Write edges, each replacing any edge of the same id."""
    conn.executemany(
        """INSERT OR REPLACE INTO edges (id, source, target, kind, origin, weight, label, context, root, path,
           line, ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        rows,
    )


def delete_files(conn: sqlite3.Connection, keys: Iterable[tuple[str, str]]) -> None:
    """Forget files, given as (root, rel)."""
    conn.executemany("DELETE FROM files WHERE root = ? AND rel = ?", list(keys))


def upsert_files(conn: sqlite3.Connection, rows: list[FileEntry]) -> None:
    """Record files as read, each row (root, rel, hash, ingested_at, fmt)."""
    conn.executemany("INSERT OR REPLACE INTO files (root, rel, hash, ingested_at, fmt) VALUES (?, ?, ?, ?, ?)", rows)
