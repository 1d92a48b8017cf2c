"""Papers as real bibliographies, feeds and PDFs write them: ids from every field, LaTeX decoded, dedupe."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ingest.arxiv import parse_atom, parse_jsonl
from ingest.bibtex import parse_bibtex
from ingest.latex import latex_to_text
from ingest.paperids import clean_arxiv, ids_from_fields
from ingest.papers import merge_papers, paper_id, paper_record, stub_paper_id
from ingest.pdf import junk_title, parse_pdf
from ingest.records import FileError, NodeRecord

DATA = Path(__file__).parent / "data"
UDL = Path("/work/shared/data/understanding-deep-learning-final.bib")
PDFS = Path(os.environ.get("LMKG_PDFS", "/work/pdfs"))


@pytest.fixture(scope="module")
def shapes() -> dict[str, NodeRecord]:
    recs = list(parse_bibtex((DATA / "bib" / "real_shapes.bib").read_text(), "real_shapes.bib"))
    assert not [r for r in recs if isinstance(r, FileError)]
    return {r.meta["keys"][0]: r for r in recs}


@pytest.mark.parametrize(
    "key, want_id",
    [
        ("kaplan2020scaling", "arxiv:2001.08361"),  # journal = {arXiv preprint arXiv:…} (Google Scholar)
        ("cohen2021gradient", "arxiv:2103.00065"),  # eprint + archivePrefix (arXiv's own export)
        ("bare_eprint", "arxiv:2201.02177"),  # eprint with a version and no archivePrefix
        ("DBLP:journals/corr/KingmaB14", "arxiv:1412.6980"),  # journal = {CoRR}, volume = {abs/…} (DBLP)
        ("url_pdf", "arxiv:1806.07572"),  # url = {https://arxiv.org/pdf/…v4.pdf}
        ("https://doi.org/10.48550/arxiv.2003.02218", "arxiv:2003.02218"),  # doi = {10.48550/ARXIV.…}
        ("howpublished_arxiv", "arxiv:1711.05101"),  # @misc with howpublished = {\url{…/abs/…}}
        ("note_arxiv", "arxiv:1503.02531"),  # note = {arXiv:…}
        ("oldstyle", "arxiv:hep-th/9711200"),  # arxivid (Zotero/Mendeley) with an old-style id
        ("oldstyle_class", "arxiv:math/0701854"),  # old-style id with a subject class, in a URL in a note
        ("doi_only", "doi:10.1103/physrevlett.61.259"),  # doi written as a resolver URL
        ("corporate", "arxiv:2303.08774"),
        ("href_title", "arxiv:1909.07862"),  # title = {\href{https://arxiv.org/abs/…}{…}}
    ],
)
def test_bibtex_ids_from_every_field(shapes, key, want_id):
    assert shapes[key].id == want_id


def test_bibtex_keeps_a_real_doi_next_to_the_arxiv_id(shapes):
    assert shapes["oldstyle"].meta["ids"] == {
        "arxiv": ["hep-th/9711200"],
        "doi": ["10.4310/atmp.1998.v2.n2.a1"],
        "keys": ["oldstyle"],
    }
    # arXiv's own DOI is the arXiv id, not a second identity
    assert shapes["https://doi.org/10.48550/arxiv.2003.02218"].meta["doi"] == ""


@pytest.mark.parametrize(
    "key, title, authors",
    [
        (
            "accents",
            "Über die Gödel-Schéma ℓ_2-Regularisierung",
            ["Łukasz Kaiser", "Bernhard Schölkopf", "Klaus-Robert Müller"],  # `and others` dropped
        ),
        ("corporate", "GPT-4 Technical Report", ["OpenAI"]),  # {Corporate Author} stays one name
        ("href_title", "Minimax Confidence Intervals for the Sliced Wasserstein Distance", None),
        ("url_pdf", "Neural Tangent Kernel: Convergence and Generalization in Neural Networks", None),
        (
            "DBLP:journals/corr/KingmaB14",
            "Adam: A Method for Stochastic Optimization",
            ["Diederik P. Kingma", "Jimmy Ba"],
        ),
    ],
)
def test_bibtex_latex_and_names(shapes, key, title, authors):
    assert shapes[key].title == title
    if authors is not None:
        assert shapes[key].meta["authors"] == authors
    assert shapes["url_pdf"].meta["authors"][2] == "Clément Hongler"


@pytest.mark.parametrize("key", ["not_arxiv_eprint", "plain_book"])
def test_bibtex_no_false_ids(shapes, key):
    """A HAL eprint and a page range that looks like an id are not arXiv ids."""
    assert shapes[key].id.startswith("paper:") and not shapes[key].meta["arxiv"]


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("@article{a, title={One}}\n@article{b, title={Two\n@article{c, title={Three}}\n", 2, "unbalanced braces"),
        ("@article{a, title={One}}\n@article{b title={Two}}\n@misc{c, title={Three}}\n", 2, "could not be parsed"),
        ("@article{a, title={One}}\n@article{c, title={Three}}\n@article{a, title={Again}}\n", 3, "already used"),
        ("@article{a, title={One}}\n@article{b, year={2020}}\n@article{c, title={Three}}\n", 2, "add title"),
    ],
)
def test_bibtex_one_broken_entry_costs_only_itself(text, line, words):
    recs = list(parse_bibtex(text, "x.bib"))
    errs = [r for r in recs if isinstance(r, FileError)]
    assert [e.line for e in errs] == [line] and words in errs[0].error and errs[0].path == "x.bib"
    assert {r.title for r in recs if isinstance(r, NodeRecord)} >= {"One", "Three"}


def test_bibtex_string_concatenation():
    text = '@string{nips = "Advances in Neural"}\n@inproceedings{k, title={T}, booktitle = nips # " Systems"}\n'
    (rec,) = parse_bibtex(text, "s.bib")
    assert rec.meta["venue"] == "Advances in Neural Systems"


@pytest.mark.parametrize(
    "raw, text",
    [
        (r"{\"o}", "ö"),
        (r"\'e", "é"),
        (r"{\L}ukasz", "Łukasz"),
        (r"$\ell_2$ loss", "ℓ_2 loss"),
        (r"{{BERT}}: Pre-training", "BERT: Pre-training"),
        (r"\emph{Deep} nets", "Deep nets"),
        ("Top-5% accuracy", "Top-5% accuracy"),
        ("Plain  title\n with  breaks", "Plain title with breaks"),
    ],
)
def test_latex_decoding(raw, text):
    assert latex_to_text(raw) == text


@pytest.mark.parametrize(
    "raw, arxiv",
    [
        ("arXiv:2003.02218v2", "2003.02218"),
        ("https://arxiv.org/abs/2003.02218", "2003.02218"),
        ("https://arxiv.org/pdf/2003.02218v2.pdf", "2003.02218"),
        ("hep-th/9901001", "hep-th/9901001"),
        ("math.ST/0601001", "math/0601001"),
        ("10.48550/arXiv.2003.02218", "2003.02218"),
        ("1312.6120", "1312.6120"),
        ("9912.12345", None),  # new-style ids begin in 2007
        ("page 1234", None),
    ],
)
def test_arxiv_id_forms(raw, arxiv):
    assert clean_arxiv(raw) == arxiv


def test_ids_from_fields_journal_and_eprint_prefix():
    assert ids_from_fields({"journal": "arXiv preprint arXiv:2003.02218"}) == ("2003.02218", None)
    assert ids_from_fields({"eprint": "2003.02218", "archiveprefix": "arXiv"}) == ("2003.02218", None)
    assert ids_from_fields({"eprint": "2003.02218", "archiveprefix": "HAL"}) == (None, None)


def _p(title, authors, year, path, **kw):
    return paper_record(title=title, authors=authors, year=year, path=path, **kw)


DEDUPE = [
    # (records, how many papers, the kept id)
    pytest.param(
        [
            _p("Edge of Stability", ["Jeremy Cohen"], 2021, "a.bib", arxiv="2103.00065"),
            _p("Edge of stability", ["J. Cohen"], 2021, "b.bib", doi="10.48550/arXiv.2103.00065"),
        ],
        1,
        "arxiv:2103.00065",
        id="arxiv id in one, arXiv DOI in the other",
    ),
    pytest.param(
        [
            _p("Neural Tangent Kernel", ["Arthur Jacot"], 2018, "feed.xml", arxiv="1806.07572"),
            _p("Neural tangent kernel", ["Jacot, Arthur"], 2019, "refs.bib", doi="10.5555/3327757.3327948"),
        ],
        1,
        "arxiv:1806.07572",
        id="preprint year and publication year, arXiv id and a journal DOI",
    ),
    pytest.param(
        [
            _p("A Theory", ["Ann Smith"], 2010, "a.bib"),
            _p("A theory", ["Ann Smith"], 2015, "b.bib"),
        ],
        2,
        None,
        id="same title and author five years apart are two papers",
    ),
    pytest.param(
        [
            _p("Deep Learning", ["Yann LeCun"], 2015, "a.bib", doi="10.1038/nature14539"),
            _p("Deep Learning", ["Ian Goodfellow"], 2016, "b.bib"),
        ],
        2,
        None,
        id="same title, different first author",
    ),
    pytest.param(
        [
            _p("On the dynamics of " + "very " * 20 + "deep linear networks", ["A B"], 2020, "a.bib"),
            _p("On the dynamics of " + "very " * 20 + "deep nonlinear networks", ["A B"], 2020, "a.bib"),
        ],
        2,
        None,
        id="two long titles from the same year",
    ),
    pytest.param(
        [
            _p("深度学习的动力学", ["王 伟"], 2020, "a.bib"),
            _p("機械学習の理論", ["王 伟"], 2020, "a.bib"),
        ],
        2,
        None,
        id="two titles in other scripts",
    ),
]


@pytest.mark.parametrize("records, n, kept", DEDUPE)
def test_merge_papers(records, n, kept):
    forwards, _ = merge_papers([_copy(r) for r in records])
    backwards, _ = merge_papers([_copy(r) for r in reversed(records)])
    assert len(forwards) == n
    assert [r.id for r in forwards] == [r.id for r in backwards]  # the order of sources does not matter
    assert [r.to_dict() for r in forwards] == [r.to_dict() for r in backwards]
    if kept:
        assert forwards[0].id == kept
        assert forwards[0].meta["sources"] == sorted({r.path for r in records})
    if n == 2:
        assert len({r.id for r in forwards}) == 2


def _copy(r: NodeRecord) -> NodeRecord:
    return NodeRecord(**json.loads(json.dumps(r.to_dict())))


def test_merged_paper_keeps_every_id_and_source():
    a = _p("Adam: A Method for Stochastic Optimization", ["Diederik Kingma"], 2014, "a.bib", key="kingma14")
    b = _p("Adam: a method for stochastic optimization", ["Kingma, D. P."], 2015, "b.bib", key="adam")
    c = _p("Adam: A Method for Stochastic Optimization", ["D. Kingma"], 2014, "feed.xml", arxiv="1412.6980v9")
    merged, alias = merge_papers([a, b, c])
    (paper,) = merged
    assert paper.id == "arxiv:1412.6980"
    assert paper.meta["ids"] == {"arxiv": ["1412.6980"], "doi": [], "keys": ["adam", "kingma14"]}
    assert paper.meta["sources"] == ["a.bib", "b.bib", "feed.xml"]
    assert alias[a.id if a is not paper else b.id] == "arxiv:1412.6980"


def test_same_id_on_a_plainly_different_title_is_not_merged():
    """A bibliography that copied an arXiv id onto the wrong entry does not fold two papers into one."""
    good = _p("Concrete Problems in AI Safety", ["Dario Amodei"], 2016, "u.bib", arxiv="1606.06565", key="a")
    bad = _p("The De-democratization of AI", ["Nur Ahmed"], 2016, "u.bib", arxiv="1606.06565", key="b")
    merged, _ = merge_papers([bad, good])
    assert sorted(r.title for r in merged) == ["Concrete Problems in AI Safety", "The De-democratization of AI"]
    assert len({r.id for r in merged}) == 2
    assert [r.meta.get("suspect_ids") for r in merged if r.meta["keys"] == ["b"]] == [["arxiv:1606.06565"]]


def test_title_ids_never_cut_and_stub_ids():
    long_a = "A " + "very " * 30 + "long title about linear networks"
    long_b = "A " + "very " * 30 + "long title about kernels"
    assert paper_id(None, None, long_a, 2020) != paper_id(None, None, long_b, 2020)
    assert paper_id(None, None, long_a, 2020).startswith("paper:a-" + "very-" * 30 + "long-title-about-linear")
    assert stub_paper_id("https://doi.org/10.48550/arXiv.2003.02218") == "arxiv:2003.02218"
    assert stub_paper_id("doi:10.1103/PhysRevLett.61.259") == "doi:10.1103/physrevlett.61.259"


@pytest.mark.parametrize(
    "record, year",
    [
        ({"id": "0704.0001", "title": "T", "published": "2007-04-02T19:18:42Z"}, "2007"),
        ({"id": "0704.0002", "title": "T", "update_date": "2008-11-13"}, "2008"),
        (
            {
                "id": "0704.0003",
                "title": "T",
                "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}],
            },
            "2007",
        ),
        ({"id": "0704.0004", "title": "T", "year": 2006}, "2006"),
        ({"id": "0704.0005", "title": "T"}, ""),
    ],
)
def test_jsonl_year_from_dates(record, year):
    (rec,) = parse_jsonl(json.dumps(record), "k.jsonl")
    assert rec.meta["year"] == year


def test_jsonl_and_atom_decode_latex():
    line = {
        "id": "1234.56789",
        "title": "Bounds on the $\\ell_2$ norm of {R}{\\'e}nyi nets",
        "authors": ["Gr{\\'e}gory Nuel"],
    }
    (rec,) = parse_jsonl(json.dumps(line), "k.jsonl")
    assert (rec.title, rec.meta["authors"]) == ("Bounds on the ℓ_2 norm of Rényi nets", ["Grégory Nuel"])
    feed = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2003.02218v2</id>'
        '<title>The $\\ell_1$ catapult of {G}{\\"o}del</title><author><name>Ann B</name></author>'
        "<published>2020-03-04T00:00:00Z</published></entry></feed>"
    )
    (rec,) = parse_atom(feed, "f.xml")
    assert (rec.id, rec.title, rec.meta["year"]) == ("arxiv:2003.02218", "The ℓ_1 catapult of Gödel", "2020")


def _layout_pdf(tmp_path: Path, meta_title: str) -> bytes:
    """A PDF drawn by matplotlib: a rotated arXiv stamp, a large title, author and affiliation lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    fig = plt.figure(figsize=(8.27, 11.69))
    fig.text(0.03, 0.4, "arXiv:2003.02218v2  [stat.ML]  4 Mar 2020", rotation=90, fontsize=20)
    fig.text(0.5, 0.92, "The large learning rate phase of deep learning:", fontsize=17, ha="center")
    fig.text(0.5, 0.895, "the catapult mechanism", fontsize=17, ha="center")
    fig.text(0.5, 0.86, "Aitor Lewkowycz, Yasaman Bahri, Ethan Dyer", fontsize=11, ha="center")
    fig.text(0.5, 0.84, "Google Research, Mountain View", fontsize=11, ha="center")
    fig.text(0.5, 0.80, "Abstract", fontsize=12, ha="center")
    for i in range(20):
        fig.text(0.1, 0.77 - 0.02 * i, "Body text of the paper goes on for a while in the usual size.", fontsize=10)
    path = tmp_path / "paper.pdf"
    with PdfPages(path, metadata={"Title": meta_title, "Author": ""}) as pdf:
        pdf.savefig(fig)
    plt.close(fig)
    return path.read_bytes()


@pytest.mark.parametrize("meta_title", ["Microsoft Word - draft.docx", "untitled", ""])
def test_pdf_title_authors_and_stamp_from_layout(tmp_path, meta_title):
    (rec,) = parse_pdf(_layout_pdf(tmp_path, meta_title), "x/download.pdf")
    assert rec.id == "arxiv:2003.02218" and rec.meta["year"] == "2020"
    assert rec.title == "The large learning rate phase of deep learning: the catapult mechanism"
    assert rec.meta["authors"] == ["Aitor Lewkowycz", "Yasaman Bahri", "Ethan Dyer"]


@pytest.mark.parametrize(
    "title, junk",
    [
        ("Microsoft Word - draft.docx", True),
        ("untitled", True),
        ("main.tex", True),
        ("Formatting Instructions for ICLR 2021 Conference Submissions", True),
        ("Attention Is All You Need", False),
    ],
)
def test_pdf_junk_titles(title, junk):
    assert junk_title(title) is junk


@pytest.mark.slow
@pytest.mark.skipif(not (PDFS / "labml_1706.03762.pdf").exists(), reason="the real arXiv PDF set is not here")
def test_pdf_metadata_on_real_arxiv_pdfs():
    """The bench's goal: titles right for 90%, authors (first surname and count) for 80% of real PDFs."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.pdf_metadata import run

    result = run(PDFS, DATA / "pdfs" / "expected.yaml")
    n = result["files"]
    assert n >= 30
    assert result["title_ok"] >= 0.9 * n and result["authors_ok"] >= 0.8 * n and result["arxiv_ok"] == n


@pytest.mark.skipif(not UDL.exists(), reason="the shared understanding-deep-learning bibliography is not here")
def test_real_bibliography():
    recs = list(parse_bibtex(UDL.read_text(), UDL.name))
    papers = [r for r in recs if isinstance(r, NodeRecord)]
    assert len(papers) == 1197 and len(papers) == len(recs)
    assert sum(bool(p.meta["arxiv"]) for p in papers) >= 131
    assert not [p for p in papers if any(c in p.title for c in "{}\\$")]
    merged, _ = merge_papers(papers)
    assert len({p.id for p in merged}) == len(merged) == 1197
