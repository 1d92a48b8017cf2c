"""Nearest neighbours by inner product over unit vectors, on faiss: exact while a scan is cheap, HNSW above.

Two workloads use it and their crossovers differ. A query from the search box scans once, so an exact scan
stays cheap up to a few hundred thousand vectors (`SEARCH_EXACT_LIMIT`). A full rebuild of the `similar`
edges asks for every node's neighbours, N scans of N; faiss's blocked BLAS scan still beats an HNSW graph
good enough for unstructured vectors up to about 200k rows (30k Gaussian vectors: 23 s exact, against 434 s
to build and walk an HNSW graph at recall@10 0.98), so it switches at `ALL_PAIRS_EXACT_LIMIT`.
bench/index_recall.py measures recall@10 of the HNSW settings below against exact search, on real embeddings
and on unstructured Gaussian vectors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import faiss
import numpy as np

SEARCH_EXACT_LIMIT = 250_000
ALL_PAIRS_EXACT_LIMIT = 200_000
# From this many rows an exact search scans 8-bit codes of the vectors (a quarter of the bytes a float32 scan
# reads) for RERANK candidates, then orders those by their float32 inner products. A single query's scan is
# bound by memory bandwidth: at 125k rows of 384 dimensions the float32 scan read 192 MB per query and took
# 46 ms, the 8-bit one 12 ms, with recall@10 1.0 after the re-rank on random queries (BENCHMARKS.md).
QUANTISED_FROM = 20_000
RERANK = 64


@dataclass(frozen=True)
class HnswParams:
    """HNSW graph degree and beam widths, used only above the exact limits.

    bench/index_recall.py picked them: on 30,000 normalised Gaussian vectors of 384 dimensions, the hard case,
    efConstruction 200 and efSearch 512 give recall@10 0.98 where 80 and 128 gave 0.68.
    """

    m: int = 32
    ef_construction: int = 200
    ef_search: int = 512


HNSW = HnswParams()


class VectorIndex:
    """The rows of a float32 matrix of unit vectors, searchable by inner product (= cosine).

    >>> idx = VectorIndex(np.eye(3, dtype=np.float32))
    >>> idx.exact, idx.search(np.array([[0.0, 0.6, 0.8]], dtype=np.float32), 2)[1].tolist()
    (True, [[2, 1]])
    """

    def __init__(self, mat: np.ndarray, *, exact_limit: int = SEARCH_EXACT_LIMIT, params: HnswParams = HNSW) -> None:
        mat = np.ascontiguousarray(mat, dtype=np.float32)
        self.size: int = int(mat.shape[0]) if mat.size else 0
        self.dim: int = int(mat.shape[1]) if mat.ndim == 2 else 0
        self.exact = self.size <= exact_limit
        self.params = params
        dim = max(self.dim, 1)
        self._vectors: np.ndarray | None = None  # float32 rows kept for the re-rank of a quantised scan
        if self.exact and self.size >= QUANTISED_FROM:
            self._index: faiss.Index = faiss.IndexScalarQuantizer(
                dim, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
            self._index.train(mat)
            self._vectors = mat
        elif self.exact:
            self._index = faiss.IndexFlatIP(dim)
        else:
            hnsw = faiss.IndexHNSWFlat(dim, params.m, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = params.ef_construction
            self._index = hnsw
        if self.size:
            self._index.add(mat)

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None, ef_search: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of each query's `k` best rows, best first; rows are -1 where fewer exist.

        `allowed` is a boolean mask over rows: only those may be returned. A filtered HNSW search widens its
        beam in proportion to how few rows pass, so a rare kind keeps its recall.
        """
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(k, self.size)
        if k <= 0:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        ef = ef_search or self.params.ef_search
        sel = None
        if allowed is not None:
            passing = int(allowed.sum())
            if passing == 0:
                empty = np.zeros((len(queries), 0))
                return empty.astype(np.float32), empty.astype(np.int64)
            bits = np.packbits(allowed.astype(np.uint8), bitorder="little")
            sel = faiss.IDSelectorBitmap(self.size, faiss.swig_ptr(bits))
            ef = min(max(ef, math.ceil(ef * self.size / passing)), 4096)
        if self.exact:
            # faiss's bundled stubs lag its SWIG API (selectors, HNSW search parameters).
            params = faiss.SearchParameters(sel=sel) if sel is not None else None  # type: ignore[call-arg]
        else:
            params = faiss.SearchParametersHNSW(efSearch=max(ef, k))  # type: ignore[attr-defined]
            if sel is not None:
                params.sel = sel
        if self._vectors is None:
            scores, rows = self._index.search(queries, k, params=params)
            return scores, rows
        _approx, candidates = self._index.search(queries, min(max(RERANK, 4 * k), self.size), params=params)
        return self._rerank(queries, candidates, k)

    def _rerank(self, queries: np.ndarray, candidates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The best `k` of each query's candidate rows by their float32 inner product."""
        assert self._vectors is not None
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        for i, cand in enumerate(candidates):
            cand = cand[cand >= 0]
            exact = self._vectors[cand] @ queries[i]
            best = np.argsort(-exact, kind="stable")[:k]
            scores[i, : len(best)] = exact[best]
            rows[i, : len(best)] = cand[best]
        return scores, rows

    def neighbours(self, k: int, ef_search: int | None = None, batch: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """Every row's `k` nearest other rows: (scores, rows), each of shape (size, k), best first."""
        scores = np.full((self.size, k), -np.inf, dtype=np.float32)
        rows = np.full((self.size, k), -1, dtype=np.int64)
        for start in range(0, self.size, batch):
            stop = min(start + batch, self.size)
            q = (
                self._vectors[start:stop]
                if self._vectors is not None
                else self._index.reconstruct_n(start, stop - start)
            )
            s, r = self.search(q, k + 1, ef_search=ef_search)
            for i in range(stop - start):
                keep = (r[i] != start + i) & (r[i] >= 0)
                got_s, got_r = s[i][keep][:k], r[i][keep][:k]
                scores[start + i, : len(got_r)] = got_s
                rows[start + i, : len(got_r)] = got_r
        return scores, rows

    def memory_bytes(self) -> int:
        """Rough resident size: the stored vectors plus, for HNSW, its links, or the 8-bit codes of a quantised
        scan."""
        links = self.size * self.params.m * 2 * 4 if not self.exact else 0
        codes = self.size * self.dim if self._vectors is not None else 0
        return self.size * self.dim * 4 + links + codes


def recall_at(truth: np.ndarray, got: np.ndarray) -> float:
    """Mean share of each row of `truth` (row indices) found in the same row of `got`.

    >>> recall_at(np.array([[1, 2], [3, 4]]), np.array([[2, 1], [3, 0]]))
    0.75
    """
    k = truth.shape[1]
    hits = [len(set(t.tolist()) & set(g.tolist()) - {-1}) for t, g in zip(truth, got, strict=True)]
    return float(np.sum(hits) / (k * len(truth)))
