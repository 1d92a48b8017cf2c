"""A new user's own vault: identity, Obsidian's link rules, warnings instead of errors, attachments, skipped
paths, citations in bodies, and errors that stay reported until fixed. Each rule of docs/obsidian-links.md
has a case in RESOLUTION below."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import KG, kg_env

from ingest.links import VaultIndex
from kg.embeddings import FakeEmbedder
from kg.store import Store
from kg.writer import ingest


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, body in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body if isinstance(body, bytes) else body.encode())
    return root


def run(store: Store, *roots: Path):
    return ingest(store, [str(r) for r in roots], FakeEmbedder(), progress=False)


# (files in the vault, the linking note, link text, the file Obsidian opens or None)
RESOLUTION = [
    # matching ignores case, on the file name; .md is optional
    (["Note.md"], "a.md", "note", "Note.md"),
    (["Note.md"], "a.md", "NOTE.md", "Note.md"),
    # a unique name anywhere in the vault
    (["deep/down/Target.md"], "a.md", "target", "deep/down/Target.md"),
    # same-named notes: the shortest path wins, and a folder in the link decides
    (["x/y/dup.md", "z/dup.md"], "a.md", "dup", "z/dup.md"),
    # ... unless one of them sits in the linking note's own folder
    (["Index.md", "t/o/Index.md", "t/p/Index.md"], "t/o/a.md", "index", "t/o/Index.md"),
    (["Index.md", "t/o/Index.md", "t/p/Index.md"], "t/q/a.md", "index", "Index.md"),
    (["x/y/dup.md", "z/dup.md"], "a.md", "y/dup", "x/y/dup.md"),
    (["x/y/dup.md", "z/dup.md"], "a.md", "x/y/dup", "x/y/dup.md"),
    # relative paths from the linking note's folder
    (["p/q/n.md", "p/r.md"], "p/q/a.md", "../r", "p/r.md"),
    (["p/q/n.md"], "p/q/a.md", "./n", "p/q/n.md"),
    # other extensions are attachments, matched by name
    (["img/fig.png"], "a.md", "fig.png", "img/fig.png"),
    (["docs/paper.pdf"], "a.md", "paper.pdf", "docs/paper.pdf"),
    # a dot inside a note's name is not an extension
    (["v1.2 notes.md"], "a.md", "v1.2 notes", "v1.2 notes.md"),
    # names in any script, with accents composed or not
    (["学習率.md", "Café.md"], "a.md", "学習率", "学習率.md"),
    (["Café.md"], "a.md", "Cafe\u0301", "Café.md"),
    # titles and aliases never resolve a link
    (["n.md"], "a.md", "A Title", None),
    (["n.md"], "a.md", "missing", None),
]


@pytest.mark.parametrize("files, source, link, expected", RESOLUTION)
def test_obsidian_resolution_rules(files, source, link, expected):
    ix = VaultIndex.of([*files, source])
    assert ix.resolve(link, source) == expected


def test_names_that_differ_stay_distinct_nodes(tmp_path: Path, store: Store):
    names = ["a_b", "a-b", "a b", "A.B", "a,b", "深度学习", "学習率", "Градиент", "Σύγκλιση", "Café", "🚀 Rocket"]
    vault = write(tmp_path / "v", {f"{n}.md": f"Body of {n}.\n" for n in names})
    report = run(store, vault)
    assert report.errors == [] and report.warnings == []
    for n in names:
        node = store.node(n)
        assert node is not None and node["title"] == n and node["text"] == f"Body of {n}."
    # Same name in two folders: each keeps its path as its id.
    write(vault, {"x/Dup.md": "one", "y/dup.md": "two"})
    run(store, vault)
    assert store.node("x/Dup")["text"] == "one" and store.node("y/dup")["text"] == "two"


def test_title_is_front_matter_or_file_name_never_a_heading(tmp_path: Path, store: Store):
    vault = write(tmp_path / "v", {"Named.md": "# A heading\nbody", "Titled.md": "---\ntitle: From front\n---\n# H\n"})
    run(store, vault)
    assert store.node("Named")["title"] == "Named"
    assert store.node("Titled")["title"] == "From front"


def test_what_obsidian_opens_is_a_warning_not_an_error(tmp_path: Path):
    vault = write(
        tmp_path / "v",
        {
            "empty.md": b"",
            "front-only.md": b"---\ntitle: Only front\n---\n",
            "bom.md": b"\xef\xbb\xbf---\ntitle: BOM\n---\nbody\n",
            "crlf.md": b"---\r\ntitle: CRLF\r\n---\r\nline one\r\nline [[bom]]\r\n",
            "nul.md": b"before\x00after [[crlf]]\n",
            "bad-bytes.md": b"ok\nbad \xff\xfe byte\n",
            "bad-yaml.md": b'---\ntitle: "unclosed\n---\nbody [[nul]]\n',
            "bomb.md": b"---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
            b"e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n---\nbody\n",
            "nan.md": b"---\nscore: .nan\ntitle: NaN\n---\nbody\n",
        },
    )
    bad_name = os.fsencode(str(vault)) + b"/caf\xe9.md"  # Latin-1 bytes: not valid UTF-8
    with open(bad_name, "wb") as f:
        f.write(b"a note whose name is not UTF-8")
    db = tmp_path / "kg.db"
    proc = subprocess.run([*KG, "ingest", str(vault), "--db", str(db), "--json"], capture_output=True, env=kg_env())
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["errors"] == []
    kinds = {(Path(w["path"]).name, w["kind"]) for w in report["warnings"]}
    assert {
        ("nul.md", "nul-bytes"),
        ("bad-bytes.md", "invalid-utf8"),
        ("bad-yaml.md", "bad-front-matter"),
        ("bomb.md", "bad-front-matter"),
        ("nan.md", "non-finite-number"),
    } <= kinds
    assert report["warnings_by_kind"]["bad-front-matter"] == 2
    with Store(db) as s:
        assert s.node("empty")["text"] == "" and s.node("front-only")["title"] == "Only front"
        assert s.node("bom")["title"] == "BOM" and s.node("crlf")["text"] == "line one\nline [[bom]]"
        assert s.node("nul")["text"] == "beforeafter [[crlf]]"
        assert s.node("caf\ufffd")["text"] == "a note whose name is not UTF-8"
        assert s.node("nan")["meta"]["front_matter"]["score"] is None
        assert {e["target"] for e in s.edges("crlf", "out", ("links_to",))} == {"bom"}


def test_errors_are_reported_on_every_ingest_until_fixed(tmp_path: Path, store: Store):
    bad_claim = "---\nclaims:\n  - {title: t, experiment: toy, prediction: [{metric: m, op: about, value: 1}]}\n---\n"
    vault = write(tmp_path / "v", {"good.md": "fine", "bad.md": bad_claim})
    for _ in range(3):
        report = run(store, vault)
        assert [Path(e["path"]).name for e in report.errors] == ["bad.md"]
    (vault / "bad.md").write_text("fixed")
    assert run(store, vault).errors == []
    assert run(store, vault).errors == []


def test_nothing_is_skipped_silently(tmp_path: Path, store: Store):
    outside = write(tmp_path / "outside", {"secret.md": "do not read"})
    vault = write(
        tmp_path / "v",
        {
            "note.md": "x",
            ".obsidian/app.json": "{}",
            "runs/log.md": "our notes about runs are notes",
            "kgruns/.kg-runs": "",
            "kgruns/r1/stdout.md": "runner output",
        },
    )
    os.mkfifo(vault / "pipe.md")
    os.symlink(outside / "secret.md", vault / "link-out.md")
    os.symlink("/etc/passwd", vault / "passwd.md")
    os.symlink("/dev/zero", vault / "zero.md")
    os.symlink(vault / "note.md", vault / "link-in.md")
    report = run(store, vault)
    reasons = {Path(s["path"]).name: s["reason"] for s in report.skipped}
    assert "Obsidian" in reasons[".obsidian"]
    assert "FIFO" in reasons["pipe.md"] and "outside" in reasons["zero.md"]
    assert "outside" in reasons["link-out.md"] and "outside" in reasons["passwd.md"]
    assert "kg" in reasons["kgruns"]
    assert store.node("log")["text"] == "our notes about runs are notes"  # a vault's own runs/ folder is read
    assert store.node("link-in") is not None and store.node("secret") is None and store.node("passwd") is None


def test_attachments_are_attachments(tmp_path: Path, store: Store):
    pdf = Path(__file__).resolve().parent.parent / "data" / "papers" / "saxe2014-sample.pdf"
    vault = write(
        tmp_path / "v",
        {
            "img/figure.png": b"\x89PNG\r\n\x1a\n",
            "n.md": "See ![[figure.png|300]], ![alt](img/figure.png), [[gone.png]] and [[data.csv]].",
            "data.csv": "a,b\n",
            "papers/saxe.pdf": pdf.read_bytes(),
            "m.md": "Read [[saxe.pdf]], and see it: ![[saxe.pdf#page=2]].",
        },
    )
    report = run(store, vault)
    att = store.node("file:img/figure.png")
    assert att["kind"] == "attachment" and att["meta"]["mime"] == "image/png" and att["path"] == "img/figure.png"
    assert {e["kind"] for e in store.edges("n", "out") if e["target"] == "file:img/figure.png"} == {"embeds"}
    assert store.node("file:data.csv")["kind"] == "attachment"
    assert [w["kind"] for w in report.warnings] == ["missing-attachment"]
    stubs = store.conn.execute("SELECT count(*) FROM nodes WHERE kind = 'concept' AND meta LIKE '%stub%'")
    assert stubs.fetchone()[0] == 0
    # A linked or embedded PDF is the paper that PDF gives, and the note cites it.
    cited = store.edges("m", "out", ("cites",))
    assert len(cited) == 1 and store.node(cited[0]["target"])["kind"] == "paper"
    assert [e["target"] for e in store.edges("m", "out", ("embeds",))] == [cited[0]["target"]]
    assert store.edges("m", "out", ("links_to",)) == []


BIB = "@article{saxe2013, title={Exact solutions}, author={Saxe, A.}, year={2013}, eprint={1312.6120}}\n"


def test_citations_in_bodies_become_cites_edges_with_their_sentence(tmp_path: Path, store: Store):
    body = (
        "Old ids like hep-th/9901001 still appear. The NTK paper is https://arxiv.org/abs/1806.07572v3 here. "
        "A PDF link https://arxiv.org/pdf/2001.08361v2 too. Bare doi 10.1103/PhysRevLett.61.259 and "
        "https://doi.org/10.1038/nature14539 count. Pandoc [@saxe2013; @jacot2018, p. 3] and "
        "LaTeX \\citep[see][]{saxe2013,lecun2015}. A wikilink [[saxe2013]] cites too. See arXiv:2003.02218.\n"
    )
    vault = write(tmp_path / "v", {"n.md": body, "refs.bib": BIB})
    run(store, vault)
    cites = store.edges("n", "out", ("cites",))
    targets = {e["target"] for e in cites}
    assert {
        "arxiv:hep-th/9901001",
        "arxiv:1806.07572",
        "arxiv:2001.08361",
        "doi:10.1103/physrevlett.61.259",
        "doi:10.1038/nature14539",
        "arxiv:1312.6120",  # saxe2013 by key, three ways
        "key:jacot2018",
        "key:lecun2015",
        "arxiv:2003.02218",
    } == targets
    ntk = next(e for e in cites if e["target"] == "arxiv:1806.07572")
    assert ntk["context"].startswith("The NTK paper is") and ntk["origin"] == "arxiv"
    assert store.node("key:jacot2018")["meta"]["stub"] is True
    assert "NTK paper" in " ".join(store.node("arxiv:1806.07572")["meta"]["cited_in"])


def test_a_later_bibliography_fills_the_stub(tmp_path: Path, store: Store):
    notes = write(tmp_path / "notes", {"n.md": "As shown in [@saxe2013]."})
    papers = write(tmp_path / "papers", {"refs.bib": BIB})
    run(store, notes)
    assert store.edges("n", "out", ("cites",))[0]["target"] == "key:saxe2013"
    run(store, papers)
    assert store.edges("n", "out", ("cites",))[0]["target"] == "arxiv:1312.6120"
    assert store.node("key:saxe2013") is None


def test_unresolved_links_stay_unresolved_with_a_probable_link(tmp_path: Path, store: Store):
    vault = write(
        tmp_path / "v",
        {
            "target.md": "---\ntitle: The Target\naliases: [TT]\n---\nx",
            "n.md": "[[The Target]] and [[tt]] and [[nope]]",
        },
    )
    run(store, vault)
    links = {e["target"] for e in store.edges("n", "out", ("links_to",))}
    assert links == {"The Target", "tt", "nope"}
    assert all(store.node(t)["meta"]["stub"] for t in links)
    assert {e["target"] for e in store.edges("n", "out", ("probable",))} == {"target"}
    assert store.node("n")["meta"]["links"] == {"nope": "nope", "the target": "The Target", "tt": "tt"}
