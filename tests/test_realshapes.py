"""Table-driven: the fixture vault built from the shapes of real public vaults (tests/data/realshapes), checked
row by row against expected.yaml, which the Obsidian-rules reference resolver in bench/ produced and a person
checked. Every note is its own node, every link lands where Obsidian puts it, every citation reaches its paper."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from kg.embeddings import FakeEmbedder
from kg.linkmap import link_key, link_targets
from kg.store import Store
from kg.writer import ingest

HERE = Path(__file__).parent / "data" / "realshapes"
EXPECTED = yaml.safe_load((HERE / "expected.yaml").read_text(encoding="utf-8"))
WARNING_KINDS = {"nul_bytes": "nul-bytes", "invalid_utf8": "invalid-utf8", "bad_front_matter": "bad-front-matter"}


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    base = tmp_path_factory.mktemp("realshapes")
    vault = base / "vault"
    shutil.copytree(HERE / "vault", vault)
    for f in EXPECTED.get("runtime_files") or []:
        if "path_latin1" in f:
            target = bytes(vault) + b"/" + f["path_latin1"].encode("latin-1")
            with open(target, "wb") as out:
                out.write(f["text"].encode("utf-8"))
    store = Store(base / "kg.db")
    report = ingest(store, [str(vault)], FakeEmbedder(), progress=False)
    by_path = {r[1]: r[0] for r in store.conn.execute("SELECT id, path FROM nodes WHERE root != '' AND path != ''")}
    yield store, report, by_path
    store.close()


def test_nothing_is_rejected_and_every_note_is_its_own_node(shapes):
    store, report, by_path = shapes
    assert report.errors == []
    ids = [by_path.get(n["path"]) for n in EXPECTED["notes"]]
    assert None not in ids, [n["path"] for n in EXPECTED["notes"] if n["path"] not in by_path]
    assert len(set(ids)) == len(ids)


def _rows():
    return [pytest.param(r, id=f"{r['note']}:{r['line']}:{r['link']}") for r in EXPECTED["links"]]


@pytest.mark.parametrize("row", _rows())
def test_link_lands_where_obsidian_puts_it(shapes, row):
    store, _report, by_path = shapes
    source = by_path[row["note"]]
    if row["target"] == row["note"]:
        return  # [[#Heading]]: a link inside the note, not an edge
    links = link_targets(store.conn, source)
    name = row["link"].replace("\\|", "|").split("|", 1)[0].split("#", 1)[0]
    if row["kind"] in ("markdown", "markdown_embed"):
        from urllib.parse import unquote

        name = unquote(name)
    got = links.get(link_key(name))
    if row["target"] is None:
        if got is not None:
            node = store.node(got)
            assert node["meta"].get("stub") or node["kind"] == "paper", (row, node["id"])
        for p in row.get("probable") or []:
            assert by_path[p] in {e["target"] for e in store.edges(source, "out", ("probable",))}, row
        return
    expected = by_path.get(row["target"])
    if expected is None:  # an attachment: its node, or the paper a PDF gives
        node = store.node(got) if got else None
        assert node is not None and node["path"] == row["target"].split("/")[-1] or node["path"] == row["target"]
        return
    assert got == expected, row


def test_warnings_name_what_was_repaired(shapes):
    _store, report, _by_path = shapes
    got = {(w["path"].split("vault/", 1)[1], w["kind"]) for w in report.warnings}
    for w in EXPECTED["warnings"]:
        if w["kind"] in WARNING_KINDS:
            assert (w["path"], WARNING_KINDS[w["kind"]]) in got, w
    clean = set(EXPECTED.get("no_warnings") or [])
    assert not {p for p, _k in got} & clean


def test_citations_reach_their_papers(shapes):
    store, _report, by_path = shapes
    for note, cites in EXPECTED["citations"].items():
        targets = {e["target"] for e in store.edges(by_path[note], "out", ("cites", "links_to", "embeds"))}
        for c in cites:
            if c.get("id"):
                assert c["id"] in targets, (note, c)
            elif c.get("pdf"):
                pdf_paper = [t for t in targets if (store.node(t) or {}).get("kind") == "paper"]
                assert pdf_paper, (note, c)
