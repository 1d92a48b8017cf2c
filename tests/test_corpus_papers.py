"""The papers of the default corpus: every one cited, every cited one summarised in our own words, and the
summaries and synonyms reaching search through ingest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from bench.search_quality import score
from ingest.bibtex import parse_bibtex
from ingest.papers import clean_arxiv, clean_doi
from ingest.pipeline import scan
from ingest.records import FileError, NodeRecord, ParseError
from ingest.summaries import parse_summaries
from kg import synonyms
from kg.search import keyword, search
from kg.writer import ingest

PAPERS = ROOT / "data" / "papers"
SUMMARIES = PAPERS / "summaries.yaml"
SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z0-9(µ]|\s*$)")
FRONT = re.compile(r"\A---\n(.*?)\n---", re.S)


def bib_entries() -> dict[str, NodeRecord]:
    """Every BibTeX entry of the default corpus by key."""
    out: dict[str, NodeRecord] = {}
    for path in sorted(PAPERS.glob("*.bib")):
        for rec in parse_bibtex(path.read_text(encoding="utf-8"), path.name):
            assert not isinstance(rec, FileError), str(rec)
            out[rec.meta["keys"][0]] = rec
    return out


def cited_keys(entries: dict[str, NodeRecord]) -> dict[str, list[str]]:
    """Bib key -> notes citing it in their front-matter `sources:` (arxiv:/doi: sources resolved by id)."""
    by_id = {}
    for key, rec in entries.items():
        if rec.meta["arxiv"]:
            by_id["arxiv:" + rec.meta["arxiv"].lower()] = key
        if rec.meta["doi"]:
            by_id["doi:" + rec.meta["doi"]] = key
    out: dict[str, list[str]] = {}
    for note in sorted((ROOT / "data" / "notes").rglob("*.md")):
        m = FRONT.match(note.read_text(encoding="utf-8"))
        for src in (yaml.safe_load(m.group(1)) if m else {}).get("sources") or []:
            src = str(src)
            if src.lower().startswith("arxiv:"):
                key = by_id.get(f"arxiv:{clean_arxiv(src)}".lower())
            elif src.lower().startswith("doi:"):
                key = by_id.get(f"doi:{clean_doi(src[4:])}")
            else:
                key = src if src in entries else None
            assert key, f"{note.relative_to(ROOT)}: source {src!r} names no entry in data/papers/*.bib"
            out.setdefault(key, []).append(note.stem)
    return out


@pytest.fixture(scope="module")
def corpus() -> tuple[dict[str, NodeRecord], dict[str, list[str]], dict[str, str]]:
    entries = bib_entries()
    return entries, cited_keys(entries), yaml.safe_load(SUMMARIES.read_text(encoding="utf-8"))


def test_every_paper_in_the_default_corpus_is_cited(corpus):
    entries, cited, _ = corpus
    uncited = sorted(k for k in entries if k not in cited)
    assert uncited == [], f"cite these in a note's sources or move them to further-reading/: {uncited[:20]}"


def test_every_cited_paper_has_a_summary(corpus):
    _, cited, summaries = corpus
    missing = sorted(k for k in cited if k not in summaries)
    assert missing == [], f"add these to data/papers/summaries.yaml: {missing}"


def test_every_summary_names_a_paper(corpus):
    entries, _, summaries = corpus
    assert sorted(k for k in summaries if k not in entries) == []


def test_summaries_are_one_to_three_sentences(corpus):
    _, _, summaries = corpus
    for key, text in summaries.items():
        n = len(SENTENCE_END.findall(text.strip()))
        assert 1 <= n <= 3, f"summary of {key} has {n} sentences"
        assert len(text.split()) >= 12, f"summary of {key} is too short to say what the paper shows"


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def test_no_summary_shares_twelve_words_with_its_abstract(corpus):
    entries, _, summaries = corpus
    checked = 0
    for key, text in summaries.items():
        abstract = _words(entries[key].text)
        if len(abstract) < 12:
            continue
        checked += 1
        runs = {tuple(abstract[i : i + 12]) for i in range(len(abstract) - 11)}
        words = _words(text)
        shared = [" ".join(words[i : i + 12]) for i in range(len(words) - 11) if tuple(words[i : i + 12]) in runs]
        assert not shared, f"summary of {key} copies its abstract: {shared[0]!r}"
    assert checked >= 3  # the entries that carry an abstract were compared


def test_further_reading_is_outside_the_default_ingest():
    assert not [sf for sf in scan([str(ROOT / "data")]).files if "further-reading" in sf.path]
    bib = ROOT / "further-reading" / "further-reading.bib"
    records = list(parse_bibtex(bib.read_text(encoding="utf-8"), bib.name))
    assert len(records) > 900 and not [r for r in records if isinstance(r, FileError)]
    moved = {r.meta["keys"][0] for r in records}
    assert not moved & set(bib_entries()), "an entry is both in data/papers and in further-reading"


def test_synonym_table_is_well_formed():
    table = synonyms.load(PAPERS / "synonyms.yaml")
    assert len(table.groups) >= 30
    owner: dict[tuple[str, ...], int] = {}
    for g, names in enumerate(table.groups):
        assert len(names) >= 2
        for name in names:
            assert owner.setdefault(name, g) == g, f"{' '.join(name)!r} is in two synonym groups"


def test_summary_parser_reports_bad_entries_with_their_line():
    text = "good2020: Shows a thing in a setting.\nbad2021: [not, text]\n"
    recs = list(parse_summaries(text, "summaries.yaml"))
    assert isinstance(recs[0], NodeRecord) and recs[0].id == "cite:good2020"
    assert isinstance(recs[1], FileError) and recs[1].line == 2 and "bad2021" in recs[1].error
    with pytest.raises(ParseError):
        list(parse_summaries("- a list\n- not a mapping\n", "summaries.yaml"))


BIB = """@article{yang2021tensor,
  author = {Yang, Greg and Hu, Edward},
  title = {Tensor Programs V: Tuning Large Neural Networks via Zero-Shot Hyperparameter Transfer},
  year = {2021},
  eprint = {2203.03466},
  archiveprefix = {arXiv}
}
@article{kaplan2020scaling,
  author = {Kaplan, Jared},
  title = {Scaling Laws for Neural Language Models},
  year = {2020},
  eprint = {2001.08361},
  archiveprefix = {arXiv}
}
"""
SUMMARY = """yang2021tensor: >-
  Under the maximal update parametrisation the best learning rate stays put as width grows, so a small proxy can
  be tuned and its settings transferred, a saving measured on a zebrafinch benchmark.
"""


@pytest.fixture
def tiny(tmp_path: Path, store, fake):
    (tmp_path / "papers").mkdir()
    (tmp_path / "papers" / "refs.bib").write_text(BIB, encoding="utf-8")
    (tmp_path / "papers" / "summaries.yaml").write_text(SUMMARY, encoding="utf-8")
    report = ingest(store, [str(tmp_path)], fake, progress=False)
    return store, report, tmp_path


def test_a_summary_becomes_its_papers_text_and_is_indexed(tiny, fake):
    store, report, _ = tiny
    assert report.errors == []
    paper = store.node("arxiv:2203.03466")
    assert paper["text"].startswith("Under the maximal update parametrisation")
    assert paper["meta"]["summary"] == paper["text"]
    assert [h.id for h in keyword(store, "zebrafinch", "paper", 5)[0]] == ["arxiv:2203.03466"]
    assert store.node("arxiv:2001.08361")["text"] == ""


def test_a_summary_for_an_unknown_key_is_an_error_naming_the_line(tiny, fake):
    store, _, root = tiny
    (root / "papers" / "summaries.yaml").write_text(SUMMARY + "nobody2000: Shows nothing at all.\n")
    report = ingest(store, [str(root)], fake, progress=False)
    assert [(e["line"], "nobody2000" in e["error"]) for e in report.errors] == [(4, True)]
    assert store.node("arxiv:2203.03466")["text"].startswith("Under the maximal")


def test_search_finds_a_paper_by_a_synonym_of_its_name(tiny, fake, tmp_path, monkeypatch):
    store, _, _ = tiny
    monkeypatch.setenv("KG_SYNONYMS", str(PAPERS / "synonyms.yaml"))
    assert [h.id for h in keyword(store, "muP", "paper", 10)[0]] == ["arxiv:2203.03466"]
    assert search(store, "muP", fake, kind="paper")[0]["id"] == "arxiv:2203.03466"
    empty = tmp_path / "none.yaml"
    empty.write_text("groups: []\n")
    monkeypatch.setenv("KG_SYNONYMS", str(empty))
    assert "arxiv:2203.03466" not in [h.id for h in keyword(store, "muP", "paper", 10)[0]]


def test_synonyms_expand_both_sides_of_the_search():
    table = synonyms.parse("groups: [[µP, muP, maximal update parametrisation], [EoS, edge of stability]]")
    e = synonyms.expand("EoS and µP", table)
    assert e.fts_clauses() == [
        '("eos" OR "edge of stability")',
        '"and"',
        '("µp" OR "mup" OR "maximal update parametrisation")',
    ]
    assert e.embed_text() == "EoS and µP (edge of stability; maximal update parametrisation)"
    assert synonyms.expand("深度 学习", table).fts_clauses() == ['"深度"', '"学习"']


def test_search_quality_scores_ranks():
    queries = [{"q": "a", "expect": ["k1"]}, {"q": "b", "expect": ["k2", "k3"]}, {"q": "c", "expect": ["k4"]}]
    keys = {"k1": "n1", "k2": "n2", "k3": "n3", "k4": "n4"}
    res = score(queries, [["n1", "x"], ["x", "y", "z", "n3"], ["x"]], keys)
    assert res["mrr"] == round((1 + 1 / 4) / 3, 4)
    assert res["top3_share"] == round(1 / 3, 4)
    assert res["recall_at_10"] == round((1 + 0.5 + 0) / 3, 4)
