"""Obsidian's link rules on the test vault: every link lands where Obsidian would put it."""

from __future__ import annotations


def targets(store, source, kind="links_to"):
    return sorted({(e["target"], e["label"]) for e in store.edges(source, "out", (kind,))})


def test_wikilink_forms_resolve(vault_store):
    got = targets(vault_store, "alpha")
    assert ("beta", "") in got  # [[beta]] and [[Beta|alias]] collapse to one edge
    assert targets(vault_store, "alpha", "embeds") == [("beta", "")]  # ![[beta]]
    assert ("gamma", "") in got  # [[gamma#Section two]]: the shortest path among same-named files
    assert ("delta", "") in got  # [[sub/deep/delta]]: a path from the vault root
    assert ("Missing Note", "") in got  # unresolved: a stub named by the link
    assert not any("not-a-link" in t for t, _ in got)  # links in code are ignored


def test_alias_title_path_and_markdown_links(vault_store):
    got = [t for t, _ in targets(vault_store, "beta")]
    # [[first letter]] (an alias) and [[what is alpha?]] (a title) stay unresolved, as in Obsidian, each with a
    # weaker `probable` edge to the note they name.
    assert {"first letter", "what is alpha?"} <= set(got) and "alpha" not in got
    assert targets(vault_store, "beta", "probable") == [("alpha", "")]
    assert "gamma" in got  # [[gamma]] → top-level gamma.md, the shortest path
    assert "folder/gamma" in got  # [[folder/gamma.md]] and [the nested gamma](folder/gamma.md)
    assert all(not t.startswith("example") for t in got)  # web links are not notes


def test_same_named_files_get_distinct_ids(vault_store):
    top, nested = vault_store.node("gamma"), vault_store.node("folder/gamma")
    assert top["path"] == "gamma.md" and nested["path"] == "folder/gamma.md"
    assert targets(vault_store, "folder/gamma") == [("alpha", "")]


def test_unresolved_link_is_stub_concept(vault_store):
    stub = vault_store.node("Missing Note")
    assert stub["kind"] == "concept" and stub["meta"]["stub"] is True
    assert stub["title"] == "Missing Note"


def test_context_sentence_reads_as_text(vault_store):
    e = [e for e in vault_store.edges("alpha", "out", ("links_to",)) if e["target"] == "Missing Note"][0]
    assert e["context"] == "This sentence names Missing Note that nobody wrote."
    assert e["line"] == 26  # the line in the file, front matter included


def test_nested_tags_and_inline_tags(vault_store):
    tags = targets(vault_store, "alpha", "tagged")
    assert ("tag:topic/kernels/ntk", "") in tags and ("tag:draft", "") in tags
    assert ("tag:notatag", "") not in tags
    assert targets(vault_store, "tag:topic/kernels/ntk", "broader") == [("tag:topic/kernels", "")]
    assert targets(vault_store, "tag:topic/kernels", "broader") == [("tag:topic", "")]


def test_related_labels_and_sources(vault_store):
    rel = {(e["target"], e["label"], e["context"]) for e in vault_store.edges("alpha", "out", ("related",))}
    assert rel == {
        ("beta", "extends", "beta carries the idea further"),
        ("delta", "contrasts", "delta argues the other way"),
    }
    saxe = [p for p in vault_store.nodes_of_kind("paper") if "saxe2014exact" in p["meta"]["keys"]]
    assert len(saxe) == 1 and saxe[0]["id"].startswith("paper:exact-solutions-to-the-nonlinear")
    assert targets(vault_store, "alpha", "cites") == sorted(
        [("arxiv:1806.07572", ""), ("doi:10.1103/physrevlett.61.259", ""), (saxe[0]["id"], "")]
    )


def test_inquiry_claim_and_experiment(vault_store):
    assert vault_store.node("inquiry-one")["kind"] == "inquiry"
    assert targets(vault_store, "inquiry-one", "draws_on") == [("alpha", ""), ("beta", ""), ("delta", "")]
    claim = vault_store.node("claim:toy-square")
    assert claim["kind"] == "claim" and claim["meta"]["experiment"] == "toy_square"
    assert targets(vault_store, "alpha", "states") == [("claim:toy-square", "")]
    assert targets(vault_store, "experiment:toy_square", "verifies") == [("claim:toy-square", "")]
    assert vault_store.node("experiment:toy_square")["meta"]["params"] == {"x": 2}
