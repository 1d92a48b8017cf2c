"""Property: ingesting A then B gives the same graph as B then A, or both together."""

from __future__ import annotations

import tempfile
from pathlib import Path

from conftest import dump
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg.embeddings import FakeEmbedder
from kg.store import Store
from kg.writer import ingest

# A pool of files that refer to each other across the two roots: citations by key, arXiv id and DOI, the
# same paper under an arXiv id in one source and its DOI in another, links and unresolved links.
POOL = {
    "n1.md": "Links [[n2]] and [[missing]]; cites [@saxe2013] and arXiv:1806.07572. #topic/a",
    "n2.md": "---\nsources: [jacot2018]\naliases: [second]\n---\nSee [[n1]] and doi:10.1103/physrevlett.61.259.",
    "n3.md": "[[second]] is probable only; \\cite{sompolinsky1988,saxe2013}. #topic/b",
    "a.bib": "@article{saxe2013, title={Exact solutions to the nonlinear dynamics}, author={Saxe, A.},"
    " year={2013}, eprint={1312.6120}}\n",
    "b.bib": "@article{jacot2018, title={Neural tangent kernel}, author={Jacot, A.}, year={2018},"
    " journal={arXiv preprint arXiv:1806.07572}}\n"
    "@article{sompolinsky1988, title={Chaos in random neural networks}, author={Sompolinsky, H.}, year={1988},"
    " doi={10.1103/PhysRevLett.61.259}}\n",
    "c.jsonl": '{"id": "1312.6120", "title": "Exact solutions to the nonlinear dynamics", "authors": ["A. Saxe"]}\n',
}


def build(base: Path, split: dict[str, bool]) -> tuple[Path, Path]:
    a, b = base / "A", base / "B"
    for d in (a, b):
        d.mkdir(parents=True)
    for name, in_a in split.items():
        ((a if in_a else b) / name).write_text(POOL[name])
    return a, b


def graph_after(base: Path, split: dict[str, bool], order: list[list[str]]) -> dict:
    a, b = build(base, split)
    roots = {"A": str(a), "B": str(b)}
    store = Store(base / "kg.db")
    try:
        for step in order:
            ingest(store, [roots[r] for r in step], FakeEmbedder(), progress=False)
        return dump(store)
    finally:
        store.close()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({name: st.booleans() for name in POOL}))
def test_graph_does_not_depend_on_ingest_order(split):
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        together = graph_after(base / "1", split, [["A", "B"]])
        a_then_b = graph_after(base / "2", split, [["A"], ["B"]])
        b_then_a = graph_after(base / "3", split, [["B"], ["A"]])
    assert a_then_b == together
    assert b_then_a == together
