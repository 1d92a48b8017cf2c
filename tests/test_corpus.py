"""Guards on the starter knowledge base in data/: what a first-time user sees must hold together."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from conftest import ROOT

from ingest.bibtex import parse_bibtex
from ingest.records import NodeRecord
from kg.embeddings import FakeEmbedder
from kg.store import Store
from kg.writer import ingest

STRANDS = ("solvable-settings", "tractable-limits", "empirical-laws", "hyperparameter-theories", "universal-behaviours")
NOTE_RELATIONS = ("related",)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    db = Store(tmp_path_factory.mktemp("corpus") / "kg.db")
    report = ingest(db, [str(ROOT / "data")], FakeEmbedder(), progress=False)
    yield db, report
    db.close()


def notes(store: Store, kind: str = "concept") -> list[dict]:
    return [n for n in store.nodes_of_kind(kind) if not n["meta"].get("stub") and n["path"].startswith("notes/")]


def test_ingest_reports_no_errors(corpus):
    _store, report = corpus
    assert report.errors == []


def test_counts(corpus):
    store, _ = corpus
    assert len(notes(store)) >= 80
    assert len([p for p in store.nodes_of_kind("paper") if not p["meta"].get("stub")]) >= 250
    assert len(notes(store, "inquiry")) >= 20


def test_no_unresolved_links_or_sources(corpus):
    store, _ = corpus
    stubs = [n["id"] for n in store.nodes_of_kind("concept") + store.nodes_of_kind("paper") if n["meta"].get("stub")]
    assert stubs == []


def test_no_orphan_note(corpus):
    store, _ = corpus
    for n in notes(store):
        incoming = [e for e in store.edges(n["id"], "in") if e["kind"] in ("links_to", "related", "draws_on")]
        assert incoming, f"{n['path']} has no note pointing at it"


def test_every_note_has_its_fields(corpus):
    store, _ = corpus
    for n in notes(store):
        m = n["meta"]
        assert n["title"].endswith("?"), f"{n['path']}: title is not a question"
        assert m.get("dek") and m.get("claim"), f"{n['path']}: missing dek or claim"
        assert m.get("strand") in (*STRANDS, "frame"), f"{n['path']}: strand {m.get('strand')!r}"
        rel = [e for e in store.edges(n["id"], "out", ("related",)) if e["label"]]
        assert len(rel) >= 2, f"{n['path']}: fewer than 2 typed relations"
        assert store.edges(n["id"], "out", ("cites",)), f"{n['path']}: no sources"
        words = len(re.findall(r"\S+", n["text"]))
        assert 150 <= words <= 420, f"{n['path']}: body has {words} words"


def test_each_strand_has_ten_notes(corpus):
    store, _ = corpus
    counts = Counter(n["meta"]["strand"] for n in notes(store))
    for strand in STRANDS:
        assert counts[strand] >= 10, (strand, counts)


def test_inquiries_draw_on_three_notes(corpus):
    store, _ = corpus
    for q in notes(store, "inquiry"):
        assert len(store.edges(q["id"], "out", ("draws_on",))) >= 3, q["path"]


def test_bibliography_ids_are_well_formed_and_unique():
    ids, dois, keys = Counter(), Counter(), Counter()
    for bib in sorted((ROOT / "data" / "papers").glob("*.bib")):
        for rec in parse_bibtex(bib.read_text(), bib.name):
            assert isinstance(rec, NodeRecord), str(rec)
            m = rec.meta
            if m["arxiv"]:
                assert re.fullmatch(r"\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7}", m["arxiv"]), m["arxiv"]
                ids[m["arxiv"]] += 1
            if m["doi"]:
                dois[m["doi"]] += 1
            keys.update(m["keys"])
    assert [i for i, c in ids.items() if c > 1] == []
    assert [d for d, c in dois.items() if c > 1] == []
    assert [k for k, c in keys.items() if c > 1] == []


def test_seed_note_page_counts(corpus):
    from kg.search import related

    store, _ = corpus
    seed = store.node("learning-mechanics")
    assert seed["title"] == "Can deep learning theory unify around training dynamics?"
    inquiries = [e for e in store.edges("learning-mechanics", "in", ("draws_on",))]
    assert len(inquiries) >= 8
    rel = [e for e in store.edges("learning-mechanics", "out", ("related",)) if e["label"] and e["context"]]
    assert len(rel) >= 4
    assert len(store.edges("learning-mechanics", "out", ("cites",))) >= 8
    assert len(related(store, "learning-mechanics", kind="paper", limit=8)) == 8


def test_note_files_are_where_the_plan_says():
    # Every note file name is a unique slug: ids come from file names.
    stems = Counter(p.stem for p in (ROOT / "data" / "notes").rglob("*.md"))
    assert [s for s, c in stems.items() if c > 1] == []
    assert all(re.fullmatch(r"[a-z0-9-]+", s) for s in stems)


def test_corpus_has_every_kind(corpus):
    store, _ = corpus
    kinds = set(store.stats()["nodes"])
    assert {"concept", "paper", "inquiry", "tag"} <= kinds
    assert Path(ROOT / "data" / "papers" / "saxe2014-sample.pdf").exists()
