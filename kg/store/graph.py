"""Reads of the graph: nodes and edges in bulk, a few nodes' edges, link maps, and the home page's counts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from kg.store import Store

CHUNK = 400  # ids per `IN (…)` list, under SQLite's 999 variables even when the list is given twice


def _chunks(ids: list[str], size: int = CHUNK) -> Iterator[tuple[list[str], str]]:
    for i in range(0, len(ids), size):
        chunk = ids[i : i + size]
        yield chunk, ",".join("?" * len(chunk))


def _not_similar(similar: bool) -> str:
    return "" if similar else " AND kind != 'similar'"


def node_rows(store: Store) -> Iterator[tuple[str, str, str, str]]:
    """(id, kind, title, meta as JSON text) of every node, streamed."""
    yield from store.conn.execute("SELECT id, kind, title, meta FROM nodes")


def node_places(store: Store) -> Iterator[tuple[str, str, str, str, str, str]]:
    """(id, kind, title, root, path, meta as JSON text) of every node, streamed."""
    yield from store.conn.execute("SELECT id, kind, title, root, path, meta FROM nodes")


def edge_rows(store: Store, similar: bool = True) -> Iterator[tuple[str, str, str, str, float, str]]:
    """(source, target, kind, label, weight, origin) of every edge, `similar` edges left out unless asked for."""
    sql = "SELECT source, target, kind, label, weight, origin FROM edges"
    if not similar:
        sql += " WHERE kind != 'similar'"
    yield from store.conn.execute(sql)


def edge_labels(store: Store) -> Iterator[tuple[str, str, str, str]]:
    """(source, target, kind, label) of every edge, streamed."""
    yield from store.conn.execute("SELECT source, target, kind, label FROM edges")


def link_rows(store: Store) -> Iterator[tuple[str, str, str, str, int]]:
    """(source, target, kind, ref, line) of every edge: each link with the text it was written as."""
    yield from store.conn.execute("SELECT source, target, kind, ref, line FROM edges")


def neighbour_pairs(store: Store, ids: list[str], similar: bool = True) -> list[tuple[str, str]]:
    """(source, target) of the edges touching `ids`, chunk by chunk, each chunk's typed edges first and then
    its heaviest: the order a breadth-first walk that stops at a budget keeps."""
    out: list[tuple[str, str]] = []
    for chunk, marks in _chunks(ids):
        out += store.conn.execute(
            f"SELECT source, target FROM edges WHERE (source IN ({marks}) OR target IN ({marks}))"
            f"{_not_similar(similar)} ORDER BY kind = 'similar', weight DESC",
            chunk + chunk,
        ).fetchall()
    return out


def edges_from(store: Store, ids: list[str], similar: bool = True) -> list[tuple[str, str, str, str, float]]:
    """(source, target, kind, label, weight) of the edges whose source is one of `ids`."""
    out: list[tuple[str, str, str, str, float]] = []
    for chunk, marks in _chunks(ids):
        out += store.conn.execute(
            f"SELECT source, target, kind, label, weight FROM edges WHERE source IN ({marks}){_not_similar(similar)}",
            chunk,
        ).fetchall()
    return out


def edges_touching(store: Store, ids: list[str]) -> list[tuple[str, str, str, str, float]]:
    """(source, target, kind, label, weight) of the edges with either end in `ids`."""
    out: list[tuple[str, str, str, str, float]] = []
    for chunk, marks in _chunks(ids):
        out += store.conn.execute(
            f"SELECT source, target, kind, label, weight FROM edges WHERE source IN ({marks}) OR target IN ({marks})",
            chunk + chunk,
        ).fetchall()
    return out


def meta_of(conn: sqlite3.Connection, node_id: str) -> dict[str, Any] | None:
    """A node's meta, or None when there is no such node."""
    row = conn.execute("SELECT meta FROM nodes WHERE id = ?", (node_id,)).fetchone()
    return None if row is None else json.loads(row[0] or "{}")


def text_lengths(store: Store, ids: list[str]) -> dict[str, int]:
    """node id → the length of its title and text, read without loading the text."""
    out: dict[str, int] = {}
    for chunk, places in _chunks(ids):
        sql = f"SELECT id, length(title) + coalesce(length(text), 0) FROM nodes WHERE id IN ({places})"
        out.update(store.conn.execute(sql, chunk).fetchall())
    return out


def node_count(store: Store) -> int:
    return store.conn.execute("SELECT count(*) FROM nodes").fetchone()[0]


def edge_count(store: Store, kinds: Iterable[str]) -> int:
    """How many edges there are of these kinds."""
    kinds = list(kinds)
    sql = f"SELECT count(*) FROM edges WHERE kind IN ({','.join('?' * len(kinds))})"
    return store.conn.execute(sql, kinds).fetchone()[0]


def ids_of_kinds(store: Store, kinds: Iterable[str]) -> list[str]:
    """The ids of every node of these kinds, in the store's own order."""
    kinds = list(kinds)
    return [
        r[0] for r in store.conn.execute(f"SELECT id FROM nodes WHERE kind IN ({','.join('?' * len(kinds))})", kinds)
    ]


def ids_of_kinds_among(store: Store, ids: list[str], kinds: Iterable[str]) -> list[str]:
    """Those of `ids` whose node is of one of these kinds."""
    kinds = list(kinds)
    out: list[str] = []
    for chunk, marks in _chunks(ids):
        sql = f"SELECT id FROM nodes WHERE id IN ({marks}) AND kind IN ({','.join('?' * len(kinds))})"
        out += [r[0] for r in store.conn.execute(sql, [*chunk, *kinds])]
    return out


def recent_notes(store: Store) -> list[dict[str, Any]]:
    """Every concept and inquiry that is not a stub, latest change first: id, kind, title, path, meta, updated_at."""
    rows = store.db.query(
        "SELECT id, kind, title, path, meta, updated_at FROM nodes WHERE kind IN ('concept', 'inquiry') "
        "AND json_extract(meta, '$.stub') IS NOT 1 ORDER BY updated_at DESC, id"
    )
    return [{**n, "meta": json.loads(n["meta"])} for n in rows]


def top_tags(store: Store, limit: int = 15) -> list[tuple[str, int]]:
    """(tag id, notes tagged) of the most used tags."""
    return store.conn.execute(
        "SELECT target, count(*) c FROM edges WHERE kind = 'tagged' GROUP BY target ORDER BY c DESC, target LIMIT ?",
        (limit,),
    ).fetchall()


def most_linked(store: Store, limit: int = 12) -> list[tuple[str, int]]:
    """(note id, links to it) of the concepts and inquiries (stubs left out) that most links reach."""
    return store.conn.execute(
        "SELECT e.target, count(*) c FROM edges e JOIN nodes n ON n.id = e.target WHERE e.kind = 'links_to' "
        "AND n.kind IN ('concept', 'inquiry') AND json_extract(n.meta, '$.stub') IS NOT 1 "
        "GROUP BY e.target ORDER BY c DESC, e.target LIMIT ?",
        (limit,),
    ).fetchall()
