"""Incremental ingest: content hashes decide what changed; unchanged input writes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import dump

from kg.embeddings import FakeEmbedder
from kg.similarity import update_similar
from kg.store import Store
from kg.writer import ingest


def test_reingest_unchanged_writes_nothing(vault_store, vault, fake):
    before, gen = dump(vault_store), vault_store.generation()
    stamps = list(vault_store.conn.execute("SELECT id, updated_at FROM nodes ORDER BY id"))
    report = ingest(vault_store, [str(vault)], fake, progress=False)
    assert (report.added, report.updated, report.removed, report.embedded) == (0, 0, 0, 0)
    assert report.unchanged == len(before["nodes"])
    assert vault_store.generation() == gen
    assert dump(vault_store) == before
    assert list(vault_store.conn.execute("SELECT id, updated_at FROM nodes ORDER BY id")) == stamps


def test_changed_file_updates_its_nodes_and_edges(vault_store, vault, fake):
    text = vault / "delta.md" if (vault / "delta.md").exists() else vault / "sub" / "deep" / "delta.md"
    text.write_text(text.read_text().replace("links nowhere but [[gamma]]", "now links to [[beta]] instead"))
    report = ingest(vault_store, [str(vault)], fake, progress=False)
    assert report.updated == 1 and report.embedded == 1 and report.added == 0
    assert {e["target"] for e in vault_store.edges("delta", "out", ("links_to",))} == {"beta"}


def test_removed_file_removes_its_nodes(vault_store, vault, fake):
    (vault / "inquiry-one.md").unlink()
    shutil.rmtree(vault / "experiments")
    report = ingest(vault_store, [str(vault)], fake, progress=False)
    assert vault_store.node("inquiry-one") is None
    assert vault_store.node("experiment:toy_square") is None
    assert report.removed == 2
    assert any("toy_square" in e["error"] for e in report.errors)  # alpha's claim now names a missing experiment


def test_deleted_target_becomes_stub_and_new_note_resolves_stub(vault_store, vault, fake):
    # [[Missing Note]] names the file "Missing Note.md" (any case); the stub and the note share the id.
    assert vault_store.node("Missing Note")["meta"]["stub"] is True
    (vault / "missing note.md").write_text('---\ntitle: "Now written?"\n---\nHere now.\n')
    ingest(vault_store, [str(vault)], fake, progress=False)
    node = vault_store.node("missing note")
    assert node["title"] == "Now written?" and not node["meta"].get("stub")
    assert vault_store.node("Missing Note") is None
    (vault / "missing note.md").unlink()
    ingest(vault_store, [str(vault)], fake, progress=False)
    assert vault_store.node("Missing Note")["meta"]["stub"] is True


def test_tags_are_garbage_collected(vault_store, vault, fake):
    assert vault_store.node("tag:draft")
    alpha = vault / "alpha.md"
    alpha.write_text(alpha.read_text().replace(" and #draft", ""))
    ingest(vault_store, [str(vault)], fake, progress=False)
    assert vault_store.node("tag:draft") is None
    assert vault_store.node("tag:topic/kernels/ntk")


def test_change_of_model_reembeds(vault_store, vault):
    class Other(FakeEmbedder):
        name = "other-model"

    n = vault_store.conn.execute("SELECT count(*) FROM nodes WHERE embed_key IS NOT NULL").fetchone()[0]
    report = ingest(vault_store, [str(vault)], Other(), progress=False)
    assert report.embedded == n and report.updated == n


def similar_edges(store: Store) -> set:
    return set(store.conn.execute("SELECT source, target, round(weight, 5) FROM edges WHERE kind = 'similar'"))


def test_incremental_similar_edges_match_full_recompute(tmp_path: Path, vault: Path):
    search = Path(__file__).parent / "data" / "search"
    for f in search.glob("*.md"):
        shutil.copy(f, vault / f.name)
    s = Store(tmp_path / "kg.db")
    fake = FakeEmbedder()
    ingest(s, [str(vault)], fake, k=3, threshold=0.0, progress=False)
    (vault / "eos.md").write_text((vault / "grokking.md").read_text() + "\nAlso weight decay and memorises.")
    (vault / "mp.md").unlink()
    ingest(s, [str(vault)], fake, progress=False)
    incremental = similar_edges(s)
    assert incremental
    ids, _k, mat = s.vectors(("concept", "paper", "claim", "inquiry", "experiment"))
    with s.transaction() as conn:
        update_similar(conn, ids, mat, set(), 3, 0.0, full=True)
    assert similar_edges(s) == incremental
    s.close()


def test_small_edits_end_where_a_clean_ingest_ends(tmp_path: Path, vault: Path):
    """Edits that take the fast path (a few notes, same titles) and ones that don't must both land exactly
    where ingesting the edited vault into an empty store lands."""
    from conftest import dump

    s = Store(tmp_path / "kg.db")
    fake = FakeEmbedder()
    ingest(s, [str(vault)], fake, progress=False)
    beta = vault / "beta.md"
    edits = [
        lambda: beta.write_text(beta.read_text().replace("Beta refers back", "Beta now refers back to [[delta]] and")),
        lambda: (vault / "gamma.md").write_text((vault / "gamma.md").read_text() + "\nMore about #newtag here.\n"),
        lambda: beta.write_text(beta.read_text().replace('title: "Why beta?"', 'title: "Why beta, really?"')),
        lambda: (vault / "inquiry-one.md").unlink(),
    ]
    for i, edit in enumerate(edits):
        edit()
        report = ingest(s, [str(vault)], fake, progress=False)
        assert report.errors == []
        fresh = Store(tmp_path / f"fresh-{i}.db")
        ingest(fresh, [str(vault)], fake, progress=False)
        assert dump(s) == dump(fresh), f"after edit {i}"
        fresh.close()
    s.close()


def test_reingest_after_an_edit_is_a_no_op(vault_store, vault, fake):
    beta = vault / "beta.md"
    beta.write_text(beta.read_text() + "\nOne more line.\n")
    assert ingest(vault_store, [str(vault)], fake, progress=False).updated == 1
    gen = vault_store.generation()
    again = ingest(vault_store, [str(vault)], fake, progress=False)
    assert (again.added, again.updated, again.removed, again.embedded) == (0, 0, 0, 0)
    assert vault_store.generation() == gen


@pytest.mark.slow
def test_broad_update_ends_where_a_clean_ingest_ends(tmp_path: Path):
    """Found by bench/crash.py: after an edit of many notes, tied `similar` scores let the incremental update
    and a clean ingest keep different neighbours."""
    from conftest import dump

    from bench.vault import make_vault

    vault = tmp_path / "v"
    make_vault(vault, 600)
    fake = FakeEmbedder()
    s = Store(tmp_path / "a.db")
    ingest(s, [str(vault)], fake, progress=False)
    for note in sorted((vault / "notes").rglob("*.md"))[1::7]:
        note.write_text(note.read_text() + "\nEdit.\n")
    assert ingest(s, [str(vault)], fake, progress=False).updated > 50
    fresh = Store(tmp_path / "b.db")
    ingest(fresh, [str(vault)], fake, progress=False)
    assert dump(s) == dump(fresh)
    s.close()
    fresh.close()
