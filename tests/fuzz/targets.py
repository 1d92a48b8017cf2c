"""Fuzz targets shared by the quick hypothesis tests and the long run (`python -m tests.fuzz.long`).

Every parser entry point takes bytes and must give records or a per-file error with a message: never an
unhandled exception, a hang, or memory that grows with nesting depth.
"""

from __future__ import annotations

from ingest.pipeline import ParsedFile, SourceFile, parse_source
from ingest.records import EdgeRecord, FileError, FileWarning, NodeRecord

FORMATS = {
    "markdown": "note.md",
    "bibtex": "refs.bib",
    "atom": "feed.xml",
    "jsonl": "papers.jsonl",
    "pdf": "paper.pdf",
    "notepage": "page.txt",
    "experiment": "experiments/exp.py",
}

SEEDS = {
    "markdown": b'---\ntitle: "Q?"\ntags: [a/b]\nrelated:\n  - {to: x, relation: extends, note: "n"}\nclaims:\n'
    b'  - {title: t, experiment: e, prediction: [{metric: m, op: "<", value: 1}]}\n---\nBody [[x|y]] #t ![[z]]\n',
    "bibtex": b"@article{k, title={T}, author={A, B and C, D}, journal={arXiv:1806.07572}, year={2018}}\n",
    "atom": b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2103.00065v1</id>'
    b"<title>T</title><author><name>A</name></author></entry></feed>",
    "jsonl": b'{"id": "2008.08186", "title": "T", "authors": ["A"]}\n',
    "pdf": b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF",
    "notepage": b"Q?\nDek.\nBody.\nInquiring lines 1\n- A?\nRelated concepts 1\n-\nB?\nDek\nadjacent: why\n"
    b"Related papers 1\n- P\nOriginal note title\nclaim\n",
    "experiment": b'"""Doc."""\nPARAMS = {"a": 1}\n\n\ndef run(params, seed, outdir):\n    return {}\n',
}


def parse_any(fmt: str, data: bytes) -> ParsedFile:
    """Parse `data` as format `fmt`; checks the result's shape and returns it."""
    sf = SourceFile("/fuzz", "fuzz", FORMATS[fmt])
    pf = parse_source(sf, data, "0" * 64)
    assert isinstance(pf, ParsedFile)
    for r in pf.records:
        assert isinstance(r, (NodeRecord, EdgeRecord, FileError, FileWarning))
        if isinstance(r, FileError):
            assert r.error and r.path
        if isinstance(r, FileWarning):
            assert r.message and r.kind and r.path
    return pf


def nested(fmt: str, depth: int) -> bytes:
    """Deeply nested input for each format, to check that depth never crashes or blows up."""
    if fmt == "markdown":
        return b"---\na: " + b"[" * depth + b"]" * depth + b"\n---\nx\n"
    if fmt == "jsonl":
        return b'{"title": "t", "x": ' + b"[" * depth + b"]" * depth + b"}\n"
    if fmt == "atom":
        return b'<feed xmlns="http://www.w3.org/2005/Atom">' + b"<a>" * depth + b"</a>" * depth + b"</feed>"
    if fmt == "bibtex":
        return b"@article{k, title={" + b"{" * depth + b"x" + b"}" * depth + b"}}\n"
    if fmt == "experiment":
        return b"PARAMS = " + b"(" * depth + b"1" + b")" * depth + b"\ndef run(p, s, o):\n    return {}\n"
    if fmt == "notepage":
        return b"Q?\nDek\n" + b"- " * depth + b"\nRelated papers\n- x\nOriginal note title\nc\n"
    return b"%PDF-1.4\n" + b"<<" * depth + b">>" * depth + b"\n%%EOF"
