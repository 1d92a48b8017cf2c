"""Hybrid search: FTS5/BM25 keyword matches and embedding cosine, fused into one score."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from kg import snippet, synonyms
from kg.embeddings import EMBED_KINDS, Embedder
from kg.index import VectorIndex
from kg.store import Store
from kg.store import text as stored

KEYWORD_WEIGHT = 0.5
KINDS = ("concept", "paper", "claim", "inquiry", "experiment", "tag")
OPEN, CLOSE = "\x02", "\x03"


class SearchError(ValueError):
    """A search the user asked for that cannot be run (bad kind, bad limit)."""


def fts_query(q: str) -> str:
    """Any user text as a safe FTS5 query: each word quoted, joined by OR.

    >>> fts_query('edge "of" stability AND NOT(')
    '"edge" OR "of" OR "stability" OR "AND" OR "NOT"'
    """
    return " OR ".join(f'"{w}"' for w in re.findall(r"\w+", q)[:32])


@dataclass
class SearchIndex:
    """Every embedded node's vector in a kg.index.VectorIndex, with ids and kinds by row."""

    generation: int
    ids: list[str]
    kind_codes: np.ndarray  # position of each node's kind in KINDS
    vectors: VectorIndex
    position: dict[str, int]


_INDEX: dict[str, SearchIndex] = {}
_EMBED_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kg-embed")
_INDEX_LOCK = threading.Lock()


def vector_index(store: Store) -> SearchIndex:
    """All node vectors, indexed once and rebuilt only when an ingest has changed the store."""
    gen = store.generation()
    with _INDEX_LOCK:
        idx = _INDEX.get(store.path)
        if idx is None or idx.generation != gen:
            _INDEX.pop(store.path, None)  # let the old index go before the new one is built
            ids, kinds, mat = store.vectors(EMBED_KINDS)
            codes = np.array([KINDS.index(k) for k in kinds], dtype=np.int8)
            idx = SearchIndex(gen, ids, codes, VectorIndex(mat), {nid: i for i, nid in enumerate(ids)})
            del mat
            _INDEX[store.path] = idx
    return idx


def _check(kind: str | None, limit: int) -> None:
    if kind and kind not in KINDS:
        raise SearchError(f"unknown kind '{kind}'; use one of {', '.join(KINDS)}")
    if not 1 <= limit <= 200:
        raise SearchError("limit must be between 1 and 200")


@lru_cache(maxsize=256)
def encode_query(embedder: Embedder, q: str) -> np.ndarray:
    """A query's embedding, remembered: the search page embeds the same text for results and related papers."""
    vec = embedder.encode([q])[0]
    vec.setflags(write=False)
    return vec


def _semantic(index: SearchIndex, embedder: Embedder, q: str, kind: str | None, pool: int) -> list[tuple[str, float]]:
    vec = encode_query(embedder, q)  # type: ignore[arg-type]  # embedders hash by identity
    return [(nid, max(c, 0.0)) for nid, c in _nearest_in(index, vec, kind, pool)]


def nearest(
    store: Store,
    vec: np.ndarray,
    kind: str | None,
    limit: int,
    exclude: str | None = None,
) -> list[tuple[str, float]]:
    """The nodes closest to `vec` by cosine, best first."""
    return _nearest_in(vector_index(store), vec, kind, limit, exclude)


def _nearest_in(
    idx: SearchIndex, vec: np.ndarray, kind: str | None, limit: int, exclude: str | None = None
) -> list[tuple[str, float]]:
    if not idx.ids:
        return []
    allowed = None
    if kind:
        allowed = idx.kind_codes == (KINDS.index(kind) if kind in KINDS else -1)
    skip = idx.position.get(exclude, -1) if exclude is not None else -1
    scores, rows = idx.vectors.search(vec, limit + (skip >= 0), allowed=allowed)
    hits = [(idx.ids[r], float(s)) for s, r in zip(scores[0], rows[0], strict=True) if r >= 0 and r != skip]
    return hits[:limit]


@dataclass
class KeywordHit:
    id: str
    bm25: float  # higher is better
    coverage: float  # share of the query's words the node contains


# A word held by more than this many nodes, or by more than half of them, is left out of the any-word fallback.
# FTS5's BM25 gives a word held by over half the rows no weight at all, and ranking every node that holds a
# common word was the search tail at 100k notes (BENCHMARKS.md). Counting stops at the cap, so sizing a word
# costs at most this many doclist entries.
COMMON_DF = 2000
FALLBACK_ROWS = 300
_COUNTS: dict[tuple[str, int], int] = {}


def _indexed(store: Store) -> int:
    """How many nodes the full-text index holds, remembered per store generation."""
    key = (store.path, store.generation())
    if key not in _COUNTS:
        _COUNTS.clear()
        _COUNTS[key] = stored.indexed_count(store)
    return _COUNTS[key]


def _rare_terms(store: Store, terms: list[str], kind: str | None) -> dict[str, set[int]]:
    """The query's clauses (quoted words, or a word's synonyms ORed) that few enough nodes hold to weigh in BM25,
    rarest first, each with the rows holding it. A word is counted up to the cap before its rows are read."""
    cap = min(COMMON_DF, _indexed(store) // 2)
    counts = {t: stored.match_count(store, t, kind, cap + 1) for t in terms}
    rare = sorted((t for t in terms if 0 < counts[t] <= cap), key=lambda t: counts[t])
    return {t: stored.rows_matching(store, t, kind) for t in rare}


def _within_budget(rare: dict[str, set[int]]) -> list[str]:
    """The rarest clauses whose rows add up to at most FALLBACK_ROWS (the rarest one always): the rows the any-word
    fallback asks FTS5 to rank. Ranking decodes every position of every word in every row, which on long notes
    was half a search's time; a row holding only commoner words would rank low anyway."""
    chosen: list[str] = []
    total = 0
    for clause, rows in rare.items():
        if chosen and total + len(rows) > FALLBACK_ROWS:
            break
        chosen.append(clause)
        total += len(rows)
    return chosen


def keyword(store: Store, q: str, kind: str | None, limit: int) -> tuple[list[KeywordHit], tuple[str, ...]]:
    """BM25 hits, best first, each with how much of the query it covers; and the words a snippet should mark.

    Nodes holding every word come first; nodes holding some of the rarest words fill the rest; both ranked by
    FTS5's BM25. The words to mark are the rare ones (a common word marked everywhere tells the reader nothing),
    or all of them when none is rare.
    """
    terms = synonyms.expand(q).fts_clauses()  # each word quoted; a known name ORs its synonyms
    if not terms:
        return [], ()
    every = stored.ranked(store, " AND ".join(terms), kind, limit, set())
    rare = _rare_terms(store, terms, kind) if len(terms) > 1 else {}
    marked = tuple(dict.fromkeys(p for t in (rare or terms) for p in re.findall(r'"([^"]*)"', t)))
    some: list[tuple[int, float]] = []
    held: dict[int, int] = {}
    if len(every) < limit and rare:
        full = {r for r, _ in every}
        for rows in rare.values():
            for r in rows - full:
                held[r] = held.get(r, 0) + 1
        some = stored.ranked(store, " OR ".join(_within_budget(rare)), kind, limit - len(every), full)
    ranked = every + some
    if not ranked:
        return [], marked
    ids = stored.ids(store, [r for r, _ in ranked])
    # A partial match's coverage counts the rare clauses it holds; common words are not counted (a lower bound).
    return [
        KeywordHit(ids[r], s, 1.0 if r not in held else min(1.0, held[r] / len(terms))) for r, s in ranked if r in ids
    ], marked


def split_marks(text: str) -> tuple[str, list[list[int]]]:
    """A snippet's plain text and the [start, end) spans its match markers enclosed; pages turn these into marks.

    >>> split_marks("a \\x02bc\\x03 d")
    ('a bc d', [[2, 4]])
    """
    plain: list[str] = []
    spans: list[list[int]] = []
    start = 0
    for part in re.split(f"([{OPEN}{CLOSE}])", " ".join(text.split())):
        if part == OPEN:
            start = sum(map(len, plain))
        elif part == CLOSE:
            spans.append([start, sum(map(len, plain))])
        else:
            plain.append(part)
    return "".join(plain), spans


def _snippet(node: dict[str, Any], words: tuple[str, ...]) -> str:
    """The piece of a node's text around the query's words; else its dek, or the start of its text."""
    text = node["text"] or ""
    piece = snippet.cut(text, words, (OPEN, CLOSE)) if words else ""
    if OPEN not in piece:
        piece = snippet.cut(node["meta"].get("dek") or text or node["title"], words, (OPEN, CLOSE))
    return piece


def search(
    store: Store,
    q: str,
    embedder: Embedder | None,
    kind: str | None = None,
    limit: int = 10,
) -> list[dict[str, Any]]:
    """Hybrid search. Each hit is {"id", "kind", "title", "score", "snippet", "marks"}: plain snippet text and
    the [start, end) spans of the query's words in it."""
    _check(kind, limit)
    q = q.strip()[:500]
    if not q:
        return []
    q_meaning = synonyms.expand(q).embed_text()  # the query with the other names of what it names
    pool = max(limit * 3, 30)
    # Embedding the query and scanning the vectors run while SQLite ranks keywords: all three release the GIL.
    index = vector_index(store)
    meaning = _EMBED_POOL.submit(_semantic, index, embedder, q_meaning, kind, pool) if embedder is not None else None
    kw, marked = keyword(store, q, kind, pool)
    sem = meaning.result() if meaning is not None else []
    # Fusion: cosine plus a keyword bonus scaled by BM25 (relative to the best hit) and by the share of the
    # query's words a node holds, so one common word shared with a query cannot outrank its meaning.
    fused = dict(sem)
    top = max((h.bm25 for h in kw), default=0.0) or 1.0
    for h in kw:
        fused[h.id] = fused.get(h.id, 0.0) + KEYWORD_WEIGHT * h.coverage * h.bm25 / top
    best = sorted(fused.items(), key=lambda p: (-p[1], p[0]))[:limit]
    nodes = store.nodes([nid for nid, _ in best])
    words = marked or tuple(re.findall(r"\w{3,}", q.lower()))
    out = []
    for nid, score in best:
        n = nodes.get(nid)
        if not n:
            continue
        snip, marks = split_marks(_snippet(n, words))
        out.append(
            {
                "id": nid,
                "kind": n["kind"],
                "title": n["title"],
                "score": round(score, 6),
                "snippet": snip,
                "marks": marks,
            }
        )
    return out


def related(store: Store, node_id: str, kind: str | None = None, limit: int = 10) -> list[dict[str, Any]]:
    """The nodes nearest to a node by cosine: {"id", "kind", "title", "score"}."""
    _check(kind, limit)
    vec = store.vector(node_id)
    if vec is None:
        return []
    return _cards(store, nearest(store, vec, kind, limit, exclude=node_id))


def related_to_text(
    store: Store,
    text: str,
    embedder: Embedder,
    kind: str | None = "paper",
    limit: int = 10,
) -> list[dict[str, Any]]:
    """Nearest nodes to free text, e.g. related papers for a question."""
    _check(kind, limit)
    vec = encode_query(embedder, text.strip()[:2000])  # type: ignore[arg-type]  # embedders hash by identity
    return _cards(store, nearest(store, vec, kind, limit))


def _cards(store: Store, hits: list[tuple[str, float]]) -> list[dict[str, Any]]:
    nodes = store.nodes([h[0] for h in hits])
    return [
        {"id": nid, "kind": nodes[nid]["kind"], "title": nodes[nid]["title"], "score": round(s, 4)}
        for nid, s in hits
        if nid in nodes
    ]
