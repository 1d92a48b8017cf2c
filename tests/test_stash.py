"""Note bodies held on disk during an ingest: read back whole, hashed the same, never mistaken for text."""

from __future__ import annotations

import sqlite3

import pytest

from ingest.records import EdgeRecord, NodeRecord
from kg.store import Store
from kg.store.stash import MIN_CHARS, Stashed, TextStash, text_of
from kg.sync.run import ingest


def test_a_stashed_body_reads_back_and_hashes_the_same(tmp_path) -> None:
    body = "Sharpness rises to 2/η — and hovers there. " * 40
    node = NodeRecord("n", "concept", "N", body, path="/v/n.md", line=1, meta={"tags": ["eos"]})
    short = NodeRecord("s", "concept", "S", "short")
    paper = NodeRecord("p", "paper", "P", body)
    before = node.content_hash()
    with TextStash(str(tmp_path)) as stash:
        assert stash.stash([node, short, paper, EdgeRecord("n", "s", "links_to")]) == 1
        assert isinstance(node.text, Stashed) and short.text == "short" and paper.text == body
        assert text_of(node.text) == body and node.content_hash() == before
        path = stash.path
    assert not (tmp_path / path).exists()
    with pytest.raises(sqlite3.ProgrammingError):  # the stash is gone: a late reader fails rather than reading ""
        str(node.text)
    with pytest.raises(TypeError):
        "x" + node.text  # type: ignore[operator]


def test_an_ingest_stores_every_long_body_whole(tmp_path) -> None:
    vault = tmp_path / "v"
    vault.mkdir()
    bodies = {
        f"note {i}": f"Body {i} with [[note {(i + 1) % 5}]]. " + "word " * (MIN_CHARS // 5 * (i + 1)) for i in range(5)
    }
    for name, body in bodies.items():
        (vault / f"{name}.md").write_text(body)
    store = Store(tmp_path / "kg.db")
    report = ingest(store, [str(vault)], progress=False)
    assert report.added >= 5 and not report.errors
    stored = store.nodes(list(bodies))
    assert {n: stored[n]["text"] for n in bodies} == {n: b.strip() for n, b in bodies.items()}
    assert not list(tmp_path.glob("kg-stash-*"))  # the stash is deleted with its ingest
    # A new note makes the next ingest plan again: the hashes made from stashed bodies must match the rows.
    (vault / "extra.md").write_text("A note nothing links to.")
    again = ingest(store, [str(vault)], progress=False)
    assert (again.added, again.updated) == (1, 0) and again.unchanged >= 5
