"""A folder of bad input: the good files land, each bad one is named with its reason, the store stays whole."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from conftest import DATA, KG, dump, kg_env

from kg.embeddings import FakeEmbedder
from kg.store import Store
from kg.writer import ingest

GOOD_NOTE = '---\ntitle: "Is this fine?"\ndek: "A good note."\n---\nIt links to [[other]].\n'


# Files Obsidian opens without complaint: ingested, each with a warning of this kind.
WARNED = {
    "bad-yaml.md": "bad-front-matter",
    "binary.md": "nul-bytes",
    "latin1.md": "invalid-utf8",
    "list-front.md": "bad-front-matter",
    "empty.pdf": "empty-file",
}


def make_bad_folder(root: Path) -> dict[str, str]:
    """Write good files and at least 10 kinds of bad input; return bad file name -> expected reason."""
    (root / "experiments").mkdir(parents=True)
    (root / "good.md").write_text(GOOD_NOTE)
    (root / "other.md").write_text('---\ntitle: "Other?"\n---\nPlain.\n')
    shutil.copy(DATA / "vault" / "papers" / "refs.bib", root / "good.bib")
    bad = {
        "huge.md": "over the 5 MB limit",
        "bad-claim.md": "is not one of",
        "missing-exp.md": "no experiments/nowhere.py",
        "broken.bib": "unbalanced braces",
        "corrupt.pdf": "corrupt or unreadable",
        "notpdf.pdf": "not a PDF",
        "bad.jsonl": "not valid JSON",
        "bad.xml": "not well-formed",
        "xxe.xml": "DOCTYPE",
        "experiments/broken.py": "not valid Python",
    }
    (root / "bad-yaml.md").write_text('---\ntitle: "unclosed\ntags: [a\n---\nbody\n')
    (root / "binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (root / "latin1.md").write_bytes("---\ntitle: ok\n---\nna\xefve caf\xe9\n".encode("latin-1"))
    (root / "empty.md").write_bytes(b"")
    with open(root / "huge.md", "wb") as f:
        f.write(b"# huge\n" + b"word " * (10 * 1024 * 1024))
    (root / "list-front.md").write_text("---\n- a\n- b\n---\nbody\n")
    (root / "bad-claim.md").write_text(
        '---\ntitle: "C?"\nclaims:\n  - {title: "t", experiment: toy, '
        "prediction: [{metric: m, op: about, value: 1}]}\n---\nx\n"
    )
    (root / "missing-exp.md").write_text(
        '---\ntitle: "M?"\nclaims:\n  - {title: "t", experiment: nowhere, '
        'prediction: [{metric: m, op: "<", value: 1}]}\n---\nx\n'
    )
    (root / "broken.bib").write_text("@article{fine, title={A fine entry}, year={2001}}\n\n@article{bad, title={Oops\n")
    (root / "empty.pdf").write_bytes(b"")
    (root / "corrupt.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer\n%%EOF")
    (root / "notpdf.pdf").write_text("this is text pretending to be a PDF")
    (root / "bad.jsonl").write_text('{"id": "2008.08186", "title": "Fine line"}\n{broken\n')
    (root / "bad.xml").write_text("<feed xmlns='http://www.w3.org/2005/Atom'><entry></feed>")
    (root / "xxe.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE f [<!ENTITY x SYSTEM "file:///etc/passwd">]><feed>&x;</feed>'
    )
    (root / "experiments" / "broken.py").write_text("def run(params, seed, outdir:\n    pass\n")
    return bad


def test_bad_folder_cli(tmp_path: Path):
    folder = tmp_path / "in"
    bad = make_bad_folder(folder)
    db = tmp_path / "kg.db"
    proc = subprocess.run(
        [*KG, "ingest", str(folder), "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        env=kg_env(),
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    by_file = {}
    for e in report["errors"]:
        by_file.setdefault(e["path"].split("/in/", 1)[1], []).append(e)
    assert len(bad) >= 10
    for name, reason in bad.items():
        assert name in by_file, f"{name} not reported"
        assert any(reason in e["error"] for e in by_file[name]), (name, by_file[name])
    # What Obsidian opens is ingested, with a warning where something was repaired or left out.
    warned = {}
    for w in report["warnings"]:
        warned.setdefault(w["path"].split("/in/", 1)[1], []).append(w)
    for name, kind in WARNED.items():
        assert name not in by_file, (name, by_file.get(name))
        assert kind in {w["kind"] for w in warned.get(name, [])}, (name, warned.get(name))
    assert warned["bad-yaml.md"][0]["line"] >= 2
    assert [w["line"] for w in warned["latin1.md"]] == [4]
    assert by_file["broken.bib"][0]["line"] == 3
    assert by_file["bad.jsonl"][0]["line"] == 2
    with Store(db) as s:
        assert s.node("good") and s.node("other")
        assert s.node("empty")["title"] == "empty" and s.node("bad-yaml")["title"] == "bad-yaml"
        assert "naïve" not in s.node("latin1")["text"] and "na\ufffdve" in s.node("latin1")["text"]
        assert s.node("arxiv:1806.07572")  # good.bib
        from ingest.papers import paper_id

        assert s.node(paper_id(None, None, "A fine entry", 2001))  # the good entry of broken.bib
        assert s.node("arxiv:2008.08186")  # the good line of bad.jsonl
        # The note naming a missing experiment still lands, its claim without a `verifies` edge.
        assert s.node("claim:t")["path"] == "missing-exp.md"
        assert s.edges("claim:t", "in", ("verifies",)) == []
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # No edge points at a node that isn't there.
        dangling = s.conn.execute(
            "SELECT count(*) FROM edges "
            "WHERE source NOT IN (SELECT id FROM nodes) OR target NOT IN (SELECT id FROM nodes)"
        ).fetchone()[0]
        assert dangling == 0


def test_file_turning_bad_keeps_what_was_stored(tmp_path: Path, vault: Path):
    db = Store(tmp_path / "kg.db")
    fake = FakeEmbedder()
    ingest(db, [str(vault)], fake, progress=False)
    before = dump(db)
    (vault / "beta.md").write_text('---\ntitle: "B?"\nclaims:\n  - {title: t, experiment: toy, prediction: 3}\n---\n')
    report = ingest(db, [str(vault)], fake, progress=False)
    assert [e["path"].endswith("beta.md") for e in report.errors] == [True]
    assert report.removed == 0
    assert dump(db) == before  # beta's nodes and edges are exactly as they were
    db.close()
