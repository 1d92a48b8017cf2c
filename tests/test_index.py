"""kg.index against brute force, the `similar` rebuild through HNSW, and the keyword fallback's rare terms."""

from __future__ import annotations

import numpy as np
import pytest

import kg.index
import kg.search
import kg.similarity
from kg.embeddings import FakeEmbedder
from kg.index import VectorIndex, recall_at
from kg.search import keyword, nearest
from kg.similarity import _rows, top_k, update_similar
from kg.store import Store
from kg.writer import ingest


def unit(n: int, dim: int = 64, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute(base: np.ndarray, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
    sims = queries @ base.T
    if allowed is not None:
        sims[:, ~allowed] = -np.inf
    return np.argsort(-sims, axis=1, kind="stable")[:, :k]


def test_exact_index_equals_brute_force_with_and_without_a_filter():
    base, queries = unit(3000), unit(50, seed=1)
    idx = VectorIndex(base)
    assert idx.exact
    assert recall_at(brute(base, queries, 10), idx.search(queries, 10)[1]) == 1.0
    allowed = np.random.default_rng(2).random(len(base)) < 0.1
    rows = idx.search(queries, 10, allowed=allowed)[1]
    assert allowed[rows].all()
    assert recall_at(brute(base, queries, 10, allowed), rows) == 1.0


def test_quantised_scan_reranks_to_the_exact_neighbours(monkeypatch):
    monkeypatch.setattr(kg.index, "QUANTISED_FROM", 1000)
    base, queries = unit(3000), unit(50, seed=6)
    idx = VectorIndex(base)
    assert idx.exact and idx._vectors is not None  # the 8-bit scan answers
    scores, rows = idx.search(queries, 10)
    assert recall_at(brute(base, queries, 10), rows) >= 0.99
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ base.T, rows, axis=1), rtol=1e-5)  # float32
    allowed = np.random.default_rng(7).random(len(base)) < 0.1
    rows = idx.search(queries, 10, allowed=allowed)[1]
    assert allowed[rows].all()
    assert recall_at(brute(base, queries, 10, allowed), rows) >= 0.99
    _s, near = idx.neighbours(5)
    assert (near != np.arange(3000)[:, None]).all()


def test_hnsw_keeps_recall_on_unstructured_vectors():
    base, queries = unit(5000, dim=128), unit(200, dim=128, seed=3)
    idx = VectorIndex(base, exact_limit=0)
    assert not idx.exact
    assert recall_at(brute(base, queries, 10), idx.search(queries, 10)[1]) >= 0.95
    allowed = np.random.default_rng(4).random(len(base)) < 0.2
    rows = idx.search(queries, 10, allowed=allowed)[1]
    assert allowed[rows[rows >= 0]].all()
    assert recall_at(brute(base, queries, 10, allowed), rows) >= 0.95


def test_neighbours_leave_each_row_out_and_empty_indexes_answer_empty():
    base = unit(500)
    scores, rows = VectorIndex(base, exact_limit=0).neighbours(5)
    assert (rows != np.arange(500)[:, None]).all() and (rows >= 0).all()
    assert (np.diff(scores, axis=1) <= 1e-6).all()
    empty = VectorIndex(np.zeros((0, 64), dtype=np.float32))
    assert empty.search(unit(2), 10)[1].shape == (2, 0)
    assert VectorIndex(base).search(unit(1), 5, allowed=np.zeros(500, dtype=bool))[1].shape == (1, 0)


def test_similar_rebuild_through_hnsw_matches_exact(tmp_path, monkeypatch):
    mat = unit(1500, dim=32, seed=5)
    ids = [f"n{i:05d}" for i in range(len(mat))]
    exact = {(s, t) for _e, s, t, *_ in _rows(ids, mat, list(range(len(ids))), 5, -1.0)}
    monkeypatch.setattr(kg.similarity, "EXACT_LIMIT", 100)
    with Store(tmp_path / "kg.db") as s, s.transaction() as conn:
        update_similar(conn, ids, mat, set(ids), 5, -1.0, full=True)
        got = {(a, b) for a, b in conn.execute("SELECT source, target FROM edges WHERE kind = 'similar'")}
    assert len(got) == len(exact) == 5 * len(ids)
    assert len(got & exact) / len(exact) >= 0.95


def test_nearest_filters_kind_and_excludes_the_node_itself(vault_store):
    vec = vault_store.vector("alpha")
    hits = nearest(vault_store, vec, None, 5, exclude="alpha")
    assert hits and "alpha" not in [h[0] for h in hits]
    assert [s for _n, s in hits] == sorted((s for _n, s in hits), reverse=True)
    papers = nearest(vault_store, vec, "paper", 50)
    kinds = {vault_store.node(n)["kind"] for n, _s in papers}
    assert papers and kinds == {"paper"}


def test_any_word_fallback_keeps_only_rare_words(tmp_path, monkeypatch):
    vault = tmp_path / "v"
    vault.mkdir()
    for i in range(8):
        word = "ubiquitous" if i < 4 else "other"  # in 4 notes of 9: under half, so it weighs in BM25
        (vault / f"common-{i}.md").write_text(f"---\ntitle: Note {i}\n---\nThe {word} word sits here {i}.\n")
    (vault / "rare.md").write_text("---\ntitle: Rare\n---\nOnly here: zygomorphic flowers.\n")
    with Store(tmp_path / "kg.db") as s:
        assert ingest(s, [str(vault)], FakeEmbedder(), progress=False).errors == []
        # No note holds both words, so the any-word fallback decides what comes back.
        assert {h.id for h in keyword(s, "ubiquitous zygomorphic", None, 20)[0]} >= {"rare", "common-0"}
        monkeypatch.setattr(kg.search, "COMMON_DF", 3)
        hits, marked = keyword(s, "ubiquitous zygomorphic", None, 20)
        assert [h.id for h in hits] == ["rare"]
        assert 0 < hits[0].coverage < 1
        assert marked == ("zygomorphic",)  # the common word is not marked


@pytest.mark.parametrize("kind", [None, "concept"])
def test_keyword_every_word_hits_come_first(vault_store, kind):
    hits, _ = keyword(vault_store, "alpha beta", kind, 10)
    full = [h.coverage == 1.0 for h in hits]
    assert full == sorted(full, reverse=True)


def _all_pairs_reference(ids, mat, k, threshold):
    """The plain definition: every pair scored (in float64), top_k's rounding and tie rules."""
    sims = mat.astype(np.float64) @ mat.T.astype(np.float64)
    np.fill_diagonal(sims, -np.inf)
    return {(ids[r], ids[c], round(s, 6)) for r, best in enumerate(top_k(sims, k, threshold)) for c, s in best}


@pytest.mark.parametrize("threshold", [-1.0, 0.3])
def test_exact_similar_rows_equal_the_plain_definition_with_duplicates(threshold):
    mat = unit(700, dim=16, seed=8)
    mat[100:120] = mat[50]  # twenty-one identical rows: ties beyond k + MARGIN at the k-th score
    mat[200:203] = mat[201]
    ids = [f"n{i:04d}" for i in range(len(mat))]
    got = {(s, t, w) for _e, s, t, _k, _o, w in _rows(ids, mat, list(range(len(ids))), 5, threshold)}
    assert got == _all_pairs_reference(ids, mat, 5, threshold)
    some = [0, 50, 101, 650]  # a few rows alone give the same rows as in the full pass
    alone = {(s, t, w) for _e, s, t, _k, _o, w in _rows(ids, mat, some, 5, threshold)}
    assert alone == {g for g in got if g[0] in {ids[r] for r in some}}
