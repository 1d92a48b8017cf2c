"""Vectors: the embedding cache (keyed by text hash and model) and the `similar` edges made from it.

Every function here runs on the caller's connection, inside the caller's transaction when it writes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator

import numpy as np


def cached_keys(conn: sqlite3.Connection, keys: list[str]) -> set[str]:
    """Those of `keys` that have a vector already."""
    have: set[str] = set()
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        q = f"SELECT key FROM embeddings WHERE key IN ({','.join('?' * len(chunk))})"
        have.update(r[0] for r in conn.execute(q, chunk))
    return have


def store_vectors(conn: sqlite3.Connection, keys: list[str], model: str, vecs: np.ndarray) -> None:
    """Write one vector per key (float32 bytes), replacing any cached under the same key."""
    conn.executemany(
        "INSERT OR REPLACE INTO embeddings (key, model, dim, vector) VALUES (?, ?, ?, ?)",
        [(k, model, int(v.shape[0]), v.astype(np.float32).tobytes()) for k, v in zip(keys, vecs, strict=True)],
    )


def delete_similar(conn: sqlite3.Connection, sources: list[str] | None = None) -> None:
    """Remove the `similar` edges from `sources`, or every `similar` edge when `sources` is None."""
    if sources is None:
        conn.execute("DELETE FROM edges WHERE kind = 'similar'")
        return
    for start in range(0, len(sources), 500):
        chunk = sources[start : start + 500]
        conn.execute(
            f"DELETE FROM edges WHERE kind = 'similar' AND source IN ({','.join('?' * len(chunk))})",
            chunk,
        )


def similar_sources(conn: sqlite3.Connection, targets: list[str]) -> Iterator[str]:
    """The nodes that have a `similar` edge to one of `targets`."""
    marks = ",".join("?" * len(targets))
    q = f"SELECT DISTINCT source FROM edges WHERE kind = 'similar' AND target IN ({marks})"
    for r in conn.execute(q, targets):
        yield r[0]


def similar_counts(conn: sqlite3.Connection) -> Iterator[tuple[str, int, float]]:
    """(source, how many `similar` edges it has, its weakest score) for each node with any."""
    yield from conn.execute("SELECT source, count(*), min(weight) FROM edges WHERE kind = 'similar' GROUP BY source")


def insert_similar(conn: sqlite3.Connection, rows: Iterable[tuple]) -> None:
    """Write `similar` edges given as (id, source, target, kind, origin, weight) rows."""
    conn.executemany(
        "INSERT OR REPLACE INTO edges (id, source, target, kind, origin, weight) VALUES (?, ?, ?, ?, ?, ?)", rows
    )
