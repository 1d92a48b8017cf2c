"""Each parser on its own: plain records in, no store."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.arxiv import parse_atom, parse_jsonl
from ingest.bibtex import parse_bibtex
from ingest.markdown import parse_note, split_front_matter
from ingest.notepage import parse_note_page
from ingest.papers import merge_papers
from ingest.pdf import parse_pdf
from ingest.records import EdgeRecord, FileError, NodeRecord, ParseError

VAULT = Path(__file__).parent / "data" / "vault"
ROOT = Path(__file__).resolve().parent.parent


def test_bibtex_reads_arxiv_from_journal_and_doi():
    recs = list(parse_bibtex((VAULT / "papers" / "refs.bib").read_text(), "refs.bib"))
    by_key = {r.meta["keys"][0]: r for r in recs}
    assert by_key["jacot2018neural"].id == "arxiv:1806.07572"
    assert by_key["jacot2018neural"].meta["authors"] == ["Arthur Jacot", "Franck Gabriel", "Clément Hongler"]
    assert by_key["sompolinsky1988chaos"].id == "doi:10.1103/physrevlett.61.259"
    assert by_key["saxe2014exact"].meta["venue"] == "International Conference on Learning Representations"


def test_bibtex_broken_entry_costs_only_itself():
    text = (
        "@article{ok1, title={Good one}, year={2020}}\n\n"
        "@article{bad, title={Oops, year={2020}\n\n@misc{ok2, title={Fine}}\n"
    )
    recs = list(parse_bibtex(text, "x.bib"))
    assert [r.title for r in recs if isinstance(r, NodeRecord)] == ["Good one", "Fine"]
    errs = [r for r in recs if isinstance(r, FileError)]
    assert len(errs) == 1 and errs[0].line == 3 and "unbalanced" in errs[0].error


def test_atom_and_jsonl():
    atom = list(parse_atom((VAULT / "papers" / "feed.xml").read_text(), "feed.xml"))
    assert [a.id for a in atom] == ["arxiv:1806.07572", "arxiv:2103.00065"]
    assert atom[0].title == "Neural Tangent Kernel: Convergence and Generalization in Neural Networks"
    lines = list(
        parse_jsonl('{"id": "2008.08186v2", "title": "T", "authors": ["A B"]}\nnot json\n{"x": 1}\n', "f.jsonl")
    )
    assert lines[0].id == "arxiv:2008.08186"
    assert [(e.line, "JSON" in e.error or "title" in e.error) for e in lines[1:]] == [(2, True), (3, True)]


def test_atom_refuses_entities():
    with pytest.raises(ParseError, match="DOCTYPE"):
        list(parse_atom('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><feed/>', "x.xml"))


def test_pdf_title_authors_and_arxiv_id():
    data = (ROOT / "data" / "papers" / "saxe2014-sample.pdf").read_bytes()
    (rec,) = parse_pdf(data, "saxe.pdf")
    assert rec.id == "arxiv:1312.6120"
    assert rec.title.startswith("Exact solutions to the nonlinear dynamics")
    assert "Andrew M. Saxe" in rec.meta["authors"]
    assert "sigmoidal step" in rec.text


@pytest.mark.parametrize("data", [b"", b"%PDF-1.4\n garbage", b"hello"])
def test_pdf_bad_input_is_a_parse_error(data):
    with pytest.raises(ParseError):
        list(parse_pdf(data, "bad.pdf"))


def test_front_matter_error_names_line():
    with pytest.raises(ParseError) as err:
        split_front_matter('---\ntitle: "ok"\ndek: "unclosed\n---\nbody', "n.md")
    assert err.value.line is not None and err.value.line >= 3


def test_note_records():
    text = "---\ntitle: Q?\ntags: [a/b]\nsources: [arxiv:1806.07572v2]\n---\nSee [[x|y]] and #c.\n"
    recs = list(parse_note(text, "n.md", "n"))
    node = recs[0]
    assert isinstance(node, NodeRecord) and node.title == "Q?" and node.meta["tags"] == ["a/b", "c"]
    edges = {(e.kind, e.target) for e in recs[1:] if isinstance(e, EdgeRecord)}
    assert edges == {
        ("links_to", "link:x"),
        ("tagged", "tag:a/b"),
        ("tagged", "tag:c"),
        ("cites", "cite:arxiv:1806.07572v2"),
    }


def test_note_page_sections():
    recs = list(parse_note_page((VAULT / "page.txt").read_text(), "page.txt"))
    node = recs[0]
    assert node.title == "Does the toy page import as a note?"
    assert node.meta["claim"] == "pasted pages keep their sections as typed edges"
    kinds = sorted(e.kind for e in recs if isinstance(e, EdgeRecord))
    assert kinds == ["cites", "cites", "draws_on", "draws_on", "related"]
    rel = [e for e in recs if isinstance(e, EdgeRecord) and e.kind == "related"][0]
    assert (rel.label, rel.context) == ("adjacent framing", "both are about test notes")


def test_seed_page_imports():
    seed = ROOT.parent / "shared" / "seed" / "note-page-example.txt"
    if not seed.exists():
        pytest.skip("shared seed page not present")
    recs = list(parse_note_page(seed.read_text(), "seed.txt"))
    edges = [r for r in recs if isinstance(r, EdgeRecord)]
    assert sum(e.kind == "draws_on" for e in edges) == 8
    assert sum(e.kind == "related" for e in edges) == 4
    assert sum(e.kind == "cites" for e in edges) == 8


def test_merge_papers_by_arxiv_doi_and_title():
    from ingest.papers import paper_record

    a = paper_record(title="Deep Thing", authors=["A"], year=2020, path="a.bib", arxiv="2001.00001v1")
    b = paper_record(title="Deep thing!", authors=[], year=None, path="b.txt")
    c = paper_record(title="Other", authors=[], year=2019, path="c.bib", doi="10.1234/X")
    d = paper_record(title="Other (journal version)", authors=["Z"], year=2019, path="d.bib", doi="10.1234/x")
    merged, alias = merge_papers([b, a, d, c])
    assert sorted(p.id for p in merged) == ["arxiv:2001.00001", "doi:10.1234/x"]
    assert alias[b.id] == "arxiv:2001.00001"
