"""kg.index against brute force, the `similar` rebuild through HNSW, and the keyword fallback's rare terms."""

from __future__ import annotations

import numpy as np
import pytest

import kg.search
import kg.similarity
from kg.embeddings import FakeEmbedder
from kg.index import VectorIndex, recall_at
from kg.search import keyword, nearest
from kg.similarity import _rows, update_similar
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
