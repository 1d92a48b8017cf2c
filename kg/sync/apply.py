"""Apply: write one change set in one transaction, with the files it came from and the similar edges."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ingest.records import NodeRecord
from kg.embeddings import EMBED_KINDS
from kg.similarity import update_similar
from kg.store import Store
from kg.sync.plan import ChangeSet, Stored

FileRow = tuple[str, str, str, str]  # root, rel, hash, fmt


def stored_index(store: Store, preserve: set[tuple[str, str]]) -> Stored:
    """The store's index of nodes and non-similar edges, for a plan."""
    conn = store.conn
    nodes = {r[0]: (r[1], r[2], r[3], r[4]) for r in conn.execute("SELECT id, hash, root, path, embed_key FROM nodes")}
    edges = {
        r[0]: tuple(r[1:])
        for r in conn.execute(
            "SELECT id, root, path, weight, origin, context, line, ref FROM edges WHERE kind != 'similar'"
        )
    }
    return Stored(nodes, edges, preserve)


def fts_body(node: NodeRecord) -> str:
    """What keyword search reads for a node beside its title."""
    m = node.meta
    extra = [str(m.get("dek") or ""), str(m.get("claim") or ""), " ".join(m.get("aliases") or [])]
    if node.kind == "paper":
        extra += [
            " ".join(m.get("authors") or []),
            str(m.get("venue") or ""),
            str(m.get("year") or ""),
            " ".join(m.get("cited_in") or []),
        ]
    return "\n".join([*filter(None, extra), node.text])


def apply(
    store: Store,
    cs: ChangeSet,
    roots: dict[str, str],
    files: tuple[list[FileRow], Iterable[tuple[str, str]]],
    settings: dict[str, str],
) -> None:
    """Write the change set, the file rows (new or changed, and gone) and settings in one transaction.

    The graph lands first, so pages, links and keyword search work while vectors are still being made;
    `finish_vectors` then adds the `similar` edges."""
    conn = store.conn
    now = datetime.now(UTC).isoformat(timespec="seconds")
    file_rows, gone = files
    with store.transaction():
        for node, h, ekey in cs.upserts:
            _upsert_node(conn, node, h, ekey, roots[node.id], now)
        delete_nodes(conn, cs.removed)
        conn.executemany("DELETE FROM edges WHERE id = ?", [(e,) for e in cs.edge_removed])
        conn.executemany(
            """INSERT OR REPLACE INTO edges (id, source, target, kind, origin, weight, label, context, root, path,
               line, ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (eid, e.source, e.target, e.kind, e.origin, e.weight, e.label, e.context, root, e.path, e.line, e.ref)
                for eid, e, root in cs.edge_upserts
            ],
        )
        conn.executemany("DELETE FROM files WHERE root = ? AND rel = ?", list(gone))
        conn.executemany(
            "INSERT OR REPLACE INTO files (root, rel, hash, ingested_at, fmt) VALUES (?, ?, ?, ?, ?)",
            [(r, p, h, now, f) for r, p, h, f in file_rows],
        )
        generation = store.generation() + (0 if cs.empty() and not file_rows else 1)
        for key, value in {**settings, "generation": str(generation)}.items():
            store.set_setting(key, value.replace("{generation}", str(generation)))


def finish_vectors(store: Store, changed: set[str], similar: tuple[int, float, bool], settings: dict[str, str]) -> None:
    """Update the `similar` edges the changed vectors affect, then record the settings (in one transaction)."""
    k, threshold, full = similar
    with store.transaction() as conn:
        if changed or full:
            ids, _kinds, mat = store.vectors(EMBED_KINDS)
            update_similar(conn, ids, mat, changed, k, threshold, full=full)
        generation = store.generation() + (1 if changed or full else 0)
        for key, value in {**settings, "generation": str(generation)}.items():
            store.set_setting(key, value.replace("{generation}", str(generation)))


def _upsert_node(conn: sqlite3.Connection, node: NodeRecord, h: str, ekey: str | None, root: str, now: str) -> None:
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
            node.text,
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
            (node.id, node.title, fts_body(node), node.kind),
        )


def delete_nodes(conn: Any, ids: list[str]) -> None:
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        conn.execute(f"DELETE FROM nodes_fts WHERE rowid IN (SELECT rowid FROM nodes WHERE id IN ({marks}))", chunk)
        conn.execute(f"DELETE FROM nodes WHERE id IN ({marks})", chunk)
        conn.execute(f"DELETE FROM edges WHERE source IN ({marks}) OR target IN ({marks})", chunk + chunk)
