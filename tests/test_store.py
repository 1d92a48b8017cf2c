"""The store package on a real SQLite file: apply's one transaction, settings, and the reads pages use."""

from __future__ import annotations

import sqlite3

import pytest

from ingest.records import EdgeRecord, NodeRecord
from kg.store import Store, graph, runs, snapshot
from kg.store import sync as stored_sync
from kg.sync.apply import apply
from kg.sync.plan import ChangeSet


def test_a_failing_apply_leaves_the_store_as_it_was(vault_store: Store) -> None:
    """Every write of a change set lands in one transaction: a bad edge undoes the node added and the node
    removed before it, and nothing after it (file rows, settings, the generation) is written."""
    before = snapshot.snapshot(vault_store)
    files_before = stored_sync.file_hashes(vault_store)
    generation = vault_store.generation()
    victim = before["nodes"][0][0]
    cs = ChangeSet(
        upserts=[(NodeRecord("brand-new", "concept", "Brand new", "text"), "h", None)],
        removed=[victim],
        edges_to_write=[EdgeRecord("brand-new", victim, "no-such-kind")],
        edge_roots=["/r"],
    )
    with pytest.raises(sqlite3.IntegrityError, match="unknown edge kind"):
        apply(vault_store, cs, {"brand-new": "/r"}, ([("/r", "x.md", "h", "markdown")], []), {"k": "v"})
    assert snapshot.snapshot(vault_store) == before
    assert stored_sync.file_hashes(vault_store) == files_before
    assert vault_store.generation() == generation and vault_store.setting("k") is None
    assert snapshot.integrity_ok(vault_store)


def test_delete_settings_takes_only_the_prefix(store: Store) -> None:
    for key in ("layout:1", "layout:2", "layoutx", "generation"):
        store.set_setting(key, "1")
    store.delete_settings("layout:")
    assert [store.setting(k) for k in ("layout:1", "layout:2", "layoutx", "generation")] == [None, None, "1", "1"]


def test_graph_reads_agree_with_the_node_reads(vault_store: Store) -> None:
    ids = [n["id"] for n in vault_store.nodes_of_kind()]
    assert sorted(r[0] for r in graph.node_rows(vault_store)) == ids
    assert graph.node_count(vault_store) == len(ids)
    links = vault_store.stats()["edges"].get("links_to", 0)
    assert links > 0 and graph.edge_count(vault_store, ["links_to"]) == links
    concepts = [n["id"] for n in vault_store.nodes_of_kind("concept")]
    assert sorted(graph.ids_of_kinds(vault_store, ["concept"])) == concepts
    # the edges around one node, read in chunks, are the edges the node's own reads give
    hub = max(concepts, key=lambda c: len(vault_store.edges(c)) + len(vault_store.edges(c, "in")))
    touching = graph.edges_touching(vault_store, [hub])
    expected = {(e["source"], e["target"], e["kind"]) for e in vault_store.edges(hub) + vault_store.edges(hub, "in")}
    assert {(s, t, k) for s, t, k, _l, _w in touching} == expected


def test_prunable_runs_keep_each_claims_latest_verdict(store: Store) -> None:
    with store.transaction() as conn:
        for i in range(5):
            status = "running" if i == 4 else "done"
            row = {"id": f"r{i}", "claim": "claim:a", "experiment": "experiment:x", "status": status,
                   "created_at": f"2026-01-0{i + 1}"}  # fmt: skip
            runs.insert_run(conn, row)
    # keep 1: r4 is the newest (but running); r3 is the latest finished, so it stays too
    assert runs.prunable_ids(store, 1) == ["r0", "r1", "r2"]
    assert runs.latest_done_ids(store, ["claim:a", "claim:none"]) == ["r3"]
    with store.transaction() as conn:
        runs.delete_runs(conn, runs.prunable_ids(store, 1))
    assert runs.count_runs(store) == 2 and runs.count_runs(store, "claim:a") == 2
