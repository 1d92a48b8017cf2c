"""The Obsidian-rules reference resolver (bench/obsidian_ref.py) against the hand-checked fixture table.

tests/data/realshapes/expected.yaml drives the ingest tests; these tests keep it and the reference in step, so
a change to either one that breaks the other is seen.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import yaml

from bench.obsidian_ref import Resolver, find_citations, list_files, note_title, read_text, rows

HERE = Path(__file__).resolve().parent / "data" / "realshapes"
VAULT = HERE / "vault"
EXPECTED: dict[str, Any] = yaml.safe_load((HERE / "expected.yaml").read_text(encoding="utf-8"))
RESOLVER = Resolver(list_files(VAULT))


def test_every_link_resolves_as_the_table_says() -> None:
    got = rows(VAULT)
    want = EXPECTED["links"]
    by_row = {(r["note"], r["line"], r["link"]): r for r in got}
    for row in want:
        assert by_row.get((row["note"], row["line"], row["link"])) == row
    assert got == want  # and nothing more, in file order


@pytest.mark.parametrize("row", EXPECTED["links"], ids=lambda r: f"{r['note']}:{r['line']}:{r['link']}")
def test_one_link(row: dict[str, Any]) -> None:
    key = row["link"].replace("\\|", "|").partition("|")[0].partition("#")[0].strip()
    if row["kind"].startswith("markdown"):
        key = unquote(row["link"].partition("#")[0]).strip()
    hit, n, _ = RESOLVER.resolve(key, row["note"])
    assert hit == row["target"]
    assert (n > 1) == row.get("ambiguous", False)


def test_notes_titles_and_attachments() -> None:
    files = list_files(VAULT)
    notes = [{"path": f, "title": note_title(read_text(VAULT / f), f)} for f in files if f.endswith(".md")]
    assert notes == EXPECTED["notes"]
    assert [f for f in files if not f.endswith(".md")] == EXPECTED["attachments"]
    assert len({n["title"] for n in notes}) == len(notes), "every note keeps a title of its own"


def test_unresolved_links_are_never_resolved_by_title_or_alias() -> None:
    probable = [r for r in EXPECTED["links"] if "probable" in r]
    assert probable and all(r["target"] is None for r in probable)
    titles = {n["title"].lower() for n in EXPECTED["notes"]}
    assert any(r["link"].lower() in titles for r in probable)


def test_citations_found_in_note_bodies() -> None:
    bib = (VAULT / "papers" / "refs.bib").read_text(encoding="utf-8")
    keys = set(re.findall(r"@\w+\{([^,\s]+),", bib))
    pdfs = {Path(f).name.lower() for f in list_files(VAULT) if f.lower().endswith(".pdf")}
    for note, want in EXPECTED["citations"].items():
        got = find_citations(read_text(VAULT / note), keys, pdfs)
        body = [{k: c[k] for k in ("written", "origin", "ref")} for c in want if c["origin"] != "front_matter"]
        assert got == body, note
        for c in want:
            if c["ref"].startswith("key:"):
                assert c["ref"][4:] in keys, f"{c['ref']} is not in refs.bib"


def test_code_and_math_hide_links() -> None:
    hub = read_text(VAULT / "links" / "Hub.md")
    assert "[[Not A Link]]" in hub and "[[0,1]]" in hub
    written = {r["link"] for r in EXPECTED["links"] if r["note"] == "links/Hub.md"}
    assert not written & {"Not A Link", "Also Not A Link", "Not Either", "0,1", "a,b"}


def test_a_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    shutil.copytree(VAULT, vault)
    for spec in EXPECTED["runtime_files"]:
        name = spec["path_latin1"].encode("latin-1")
        with pytest.raises(UnicodeDecodeError):
            name.decode("utf-8")
        with open(os.path.join(os.fsencode(vault), name), "wb") as f:
            f.write(spec["text"].encode("utf-8"))
        note = os.fsdecode(name)
        assert note in list_files(vault)
        assert note_title(read_text(vault / note), note) == spec["title"]
        got = [{k: r[k] for k in ("line", "link", "kind", "target")} for r in rows(vault) if r["note"] == note]
        assert got == spec["links"]
    assert [r for r in rows(vault) if r["note"] in {n["path"] for n in EXPECTED["notes"]}] == EXPECTED["links"]


def test_table_header_documents_every_section() -> None:
    header = (HERE / "expected.yaml").read_text(encoding="utf-8").split("\n\n", 1)[0]
    for section in EXPECTED:
        assert f"# {section}:" in header


def test_harness_figures_add_up_on_the_fixture() -> None:
    """bench/vault_real.py ingests the fixture with our `kg` and accounts for every link Obsidian sees."""
    from bench.vault_real import measure

    r = measure(VAULT, fake=True, examples=100)
    assert r["notes"] == len(EXPECTED["notes"])
    assert r["notes_in_store"] + r["files_rejected"] + r["notes_lost_otherwise"] >= r["notes"]
    links = r["links"]
    edges = [row for row in EXPECTED["links"] if row["target"] != row["note"]]
    assert links["links"] == len(edges)
    assert links["agree"] + sum(d["count"] for d in links["disagreements"].values()) == links["links"]
    table = {(row["note"], row["line"], row["link"]): row["target"] for row in edges}
    for d in links["disagreements"].values():
        for ex in d["examples"]:
            assert table[(ex["note"], ex["line"], ex["link"])] == ex["obsidian"]
            assert ex["ours"] != ex["obsidian"]
