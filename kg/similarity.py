"""`similar` edges: each node's top-k neighbours by cosine above a threshold, kept up to date incrementally."""

from __future__ import annotations

import hashlib
import sqlite3

import faiss
import numpy as np

from kg.index import ALL_PAIRS_EXACT_LIMIT, VectorIndex
from kg.store import vectors as stored

BLOCK = 512
# Scores held at once while comparing a block of rows with every row: a block has at most this many cells, so
# at 125k vectors it is 64 rows (32 MB of scores) instead of 512 (256 MB, and four such arrays while top_k
# sorts them: the 3.5 GB peak BENCHMARKS.md recorded at 100k notes).
BLOCK_CELLS = 8_000_000
KNN_BLOCK = 2048  # rows whose candidates faiss finds in one call
MARGIN = 8  # candidates beyond k, so ties at the k-th score are seen
# Above this many nodes a full rebuild asks an HNSW graph instead of comparing every pair; changes to a few
# nodes stay exact.
EXACT_LIMIT = ALL_PAIRS_EXACT_LIMIT


def top_k(sims: np.ndarray, k: int, threshold: float, order: np.ndarray | None = None) -> list[list[tuple[int, float]]]:
    """For each row, the column indices and scores of its k best entries above `threshold`.

    Scores are rounded to 6 decimals and ties go to the lower `order` (default: the column index), so the
    same neighbours come out whether a row is computed alone or in a block.

    >>> top_k(np.array([[0.0, 0.9, 0.2, 0.8]]), 2, 0.5)
    [[(1, 0.9), (3, 0.8)]]
    >>> top_k(np.array([[0.7, 0.7, 0.7]]), 2, 0.5, order=np.array([9, 3, 5]))
    [[(1, 0.7), (2, 0.7)]]
    """
    k = min(k, sims.shape[1])
    if k <= 0:
        return [[] for _ in range(sims.shape[0])]
    sims = np.round(sims, 6)
    order = np.arange(sims.shape[1]) if order is None else order
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(sims, part, axis=1).min(axis=1)
    out = []
    for r in range(sims.shape[0]):
        cols = np.nonzero(sims[r] >= kth[r])[0]  # every tie at the k-th score, not an arbitrary few
        best = sorted(cols.tolist(), key=lambda c: (-sims[r, c], order[c]))[:k]
        out.append([(c, float(sims[r, c])) for c in best if sims[r, c] >= threshold])
    return out


def _edge_id(source: str, target: str) -> str:
    return hashlib.sha1(f"{source}\0{target}\0similar\0".encode()).hexdigest()


def _rows(ids: list[str], mat: np.ndarray, rows: list[int], k: int, threshold: float) -> list[tuple]:
    """Exact top-k `similar` rows for the given rows, by top_k's rules.

    faiss's blocked BLAS scan (`faiss.knn`, no copy of the matrix) proposes k + MARGIN candidates per row.
    Their scores are recomputed in float64, so a pair scores the same whatever block or pass it was in, and
    top_k's rounding and tie rules pick the k. A row whose candidates could hide more ties at the k-th score
    (duplicate notes) is scored against every row, and the columns near its k-th score rescored the same way.
    """
    out = []
    n = len(ids)
    want = min(k + 1 + MARGIN, n)
    size = max(8, min(BLOCK, BLOCK_CELLS // max(n, 1)))
    for start in range(0, len(rows), KNN_BLOCK):
        block = np.asarray(rows[start : start + KNN_BLOCK], dtype=np.int64)
        _approx, cand = faiss.knn(np.ascontiguousarray(mat[block]), mat, want, metric=faiss.METRIC_INNER_PRODUCT)
        cand = np.where(cand == block[:, None], -1, cand)  # a row is not its own neighbour
        full: list[int] = []
        for r, cols in zip(block.tolist(), cand, strict=True):
            cols = cols[cols >= 0]
            scores = _scores64(mat, r, cols)
            if want < n and len(scores) > k and scores.min() >= np.sort(scores)[::-1][k - 1]:
                full.append(r)  # the last candidate ties with the k-th: more ties may lie beyond
                continue
            out += [_row(ids, r, c, score) for c, score in _pick(cols, scores, k, threshold)]
        for fstart in range(0, len(full), size):
            sub = full[fstart : fstart + size]
            sims = mat[sub] @ mat.T
            sims[np.arange(len(sub)), sub] = -np.inf
            kth = -np.partition(-sims, k - 1, axis=1)[:, k - 1]
            for i, r in enumerate(sub):
                cols = np.nonzero(sims[i] >= kth[i] - 1e-5)[0]  # every column that may tie, float32 error allowed
                out += [_row(ids, r, c, s) for c, s in _pick(cols, _scores64(mat, r, cols), k, threshold)]
    return out


def _scores64(mat: np.ndarray, r: int, cols: np.ndarray) -> np.ndarray:
    """Row r's inner products with the given rows, in float64 and rounded to 6 decimals."""
    return np.round(mat[cols].astype(np.float64) @ mat[r].astype(np.float64), 6)


def _pick(cols: np.ndarray, scores: np.ndarray, k: int, threshold: float) -> list[tuple[int, float]]:
    """The k best (column, score) of one row's candidates by top_k's rules, ties to the lower column."""
    return [(int(cols[i]), s) for i, s in top_k(scores[None, :], k, threshold, order=cols)[0]]


def _row(ids: list[str], r: int, c: int, score: float) -> tuple:
    return (_edge_id(ids[r], ids[c]), ids[r], ids[c], "similar", "embedding", score)


def _rows_hnsw(ids: list[str], mat: np.ndarray, k: int, threshold: float) -> list[tuple]:
    """Approximate top-k for every row from an HNSW graph (kg.index); bench/ measures its recall."""
    scores, rows = VectorIndex(mat, exact_limit=0).neighbours(k)
    scores = np.round(scores, 6)
    out = []
    for r in range(len(ids)):
        best = sorted(
            ((float(s), int(c)) for s, c in zip(scores[r], rows[r], strict=True) if c >= 0 and s >= threshold),
            key=lambda p: (-p[0], p[1]),
        )
        for score, c in best:
            out.append((_edge_id(ids[r], ids[c]), ids[r], ids[c], "similar", "embedding", score))
    return out


def update_similar(
    conn: sqlite3.Connection,
    ids: list[str],
    mat: np.ndarray,
    changed: set[str],
    k: int,
    threshold: float,
    full: bool = False,
) -> int:
    """Rewrite the `similar` edges that `changed` nodes (added, updated or removed) can affect.

    Runs inside the caller's transaction. Returns the number of node rows recomputed.
    """
    if not ids:
        stored.delete_similar(conn)
        return 0
    index = {nid: i for i, nid in enumerate(ids)}
    if full or len(changed) > 0.2 * len(ids):
        rows = list(range(len(ids)))
        stored.delete_similar(conn)
    else:
        present = [index[c] for c in changed if c in index]
        update = set(present)
        if changed:
            update.update(index[s] for s in stored.similar_sources(conn, list(changed)) if s in index)
        if present:
            # A node whose list could now admit a changed node: its weakest kept score is below the new one.
            floor = np.full(len(ids), threshold, dtype=np.float32)
            counts = np.zeros(len(ids), dtype=np.int64)
            for src, n, low in stored.similar_counts(conn):
                if src in index:
                    counts[index[src]] = n
                    if n >= k:
                        floor[index[src]] = max(threshold, low)
            best = np.full(len(ids), -np.inf, dtype=np.float32)
            step = max(8, BLOCK_CELLS // len(ids))  # blocks, or 20% of 125k changed rows would be 12 GB of scores
            for start in range(0, len(present), step):
                np.maximum(best, (mat[present[start : start + step]] @ mat.T).max(axis=0), out=best)
            update.update(np.nonzero(best >= floor)[0].tolist())
        rows = sorted(update)
        stored.delete_similar(conn, [ids[r] for r in rows])
    if len(rows) == len(ids) and len(ids) > EXACT_LIMIT:
        new = _rows_hnsw(ids, mat, k, threshold)
    else:
        new = _rows(ids, mat, rows, k, threshold)
    stored.insert_similar(conn, new)
    return len(rows)
