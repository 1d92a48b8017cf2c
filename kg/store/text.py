"""Full-text reads over `nodes_fts` (FTS5, keyed by the node's rowid): BM25 ranks, match counts, snippets."""

from __future__ import annotations

from typing import Any

from kg.store import Store


def ranked(store: Store, query: str, kind: str | None, limit: int, skip: set[int]) -> list[tuple[int, float]]:
    """(rowid, score) of the best `limit` matches of an FTS5 query, higher better, the rowids in `skip` left out."""
    sql = "SELECT rowid, -bm25(nodes_fts, 4.0, 1.0, 0.0) FROM nodes_fts WHERE nodes_fts MATCH ?"
    args: list[Any] = [query]
    if kind:
        sql += " AND kind = ?"
        args.append(kind)
    sql += " ORDER BY bm25(nodes_fts, 4.0, 1.0, 0.0) LIMIT ?"
    args.append(limit + len(skip))
    return [(r, float(s)) for r, s in store.conn.execute(sql, args) if r not in skip][:limit]


def match_count(store: Store, query: str, kind: str | None, cap: int) -> int:
    """How many nodes match an FTS5 query, counted up to `cap` (so a common word costs at most that much)."""
    sql = "SELECT count(*) FROM (SELECT 1 FROM nodes_fts WHERE nodes_fts MATCH ?" + (" AND kind = ?" if kind else "")
    sql += " LIMIT ?)"
    args: list[Any] = [query, *([kind] if kind else []), cap]
    return store.conn.execute(sql, args).fetchone()[0]


def rows_matching(store: Store, query: str, kind: str | None) -> set[int]:
    """The rowids of the nodes matching an FTS5 query, read from its doclist."""
    sql = "SELECT rowid FROM nodes_fts WHERE nodes_fts MATCH ?" + (" AND kind = ?" if kind else "")
    return {r for (r,) in store.conn.execute(sql, [query, *([kind] if kind else [])])}


def indexed_count(store: Store) -> int:
    """How many nodes the full-text index holds (every kind but tags): the N of a word's IDF."""
    return store.conn.execute("SELECT count(*) FROM nodes WHERE kind != 'tag'").fetchone()[0]


def ids(store: Store, rowids: list[int]) -> dict[int, str]:
    """rowid → node id for the given rows."""
    places = ",".join("?" * len(rowids))
    return dict(store.conn.execute(f"SELECT rowid, id FROM nodes WHERE rowid IN ({places})", rowids))


def mentions(store: Store, phrase: str, limit: int = 20) -> list[tuple[str, str]]:
    """(node id, snippet with the phrase between << and >>) of concepts and inquiries whose body holds `phrase`
    (an FTS5 phrase, quoted)."""
    return store.conn.execute(
        "SELECT n.id, snippet(nodes_fts, 1, '<<', '>>', '…', 12) "
        "FROM nodes_fts f JOIN nodes n ON n.rowid = f.rowid "
        "WHERE nodes_fts MATCH ? AND f.kind IN ('concept', 'inquiry') LIMIT ?",
        (f"body : {phrase}", limit),
    ).fetchall()
