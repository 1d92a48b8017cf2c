"""The real embedding model, end to end: ingest, re-ingest, and search by phrase and by paraphrase."""

from __future__ import annotations

import re
import shutil

import pytest
from conftest import DATA

from kg.search import search
from kg.store import Store
from kg.writer import ingest

pytestmark = pytest.mark.slow

PARAPHRASE = "abrupt comprehension emerging way beyond perfect fitting to training data"


@pytest.fixture(scope="module")
def real_store(tmp_path_factory, model):
    root = tmp_path_factory.mktemp("real")
    shutil.copytree(DATA / "search", root / "notes")
    s = Store(root / "kg.db")
    first = ingest(s, [str(root / "notes")], model, progress=False)
    second = ingest(s, [str(root / "notes")], model, progress=False)
    yield s, first, second
    s.close()


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def test_reingest_embeds_nothing(real_store):
    _s, first, second = real_store
    assert first.embedded == 6 and first.errors == []
    assert second.embedded == 0 and second.added == second.updated == 0
    assert second.seconds < first.seconds


def test_search_by_phrase_from_body(real_store, model):
    s, *_ = real_store
    hits = search(s, "memorises its examples and only much later generalises", model, limit=3)
    assert hits[0]["id"] == "grokking"
    snip = hits[0]["snippet"]
    assert "memorises" in [snip[a:b].lower() for a, b in hits[0]["marks"]]


def test_search_by_paraphrase_sharing_no_word(real_store, model):
    s, *_ = real_store
    note = s.node("grokking")
    shared = words(PARAPHRASE) & words(" ".join([note["title"], note["text"], note["meta"]["dek"]]))
    assert shared == set(), shared
    hits = search(s, PARAPHRASE, model, limit=3)
    assert hits[0]["id"] == "grokking", hits


def test_embeddings_are_unit_vectors_of_the_model(real_store, model):
    s, *_ = real_store
    ids, _k, mat = s.vectors()
    assert mat.shape == (6, 384)
    assert abs(float((mat**2).sum(axis=1).mean()) - 1.0) < 1e-4
    keys = {r[0] for r in s.conn.execute("SELECT model FROM embeddings")}
    assert keys == {model.name} and model.name.startswith("all-MiniLM-L6-v2")
