"""Apply: write one change set in one transaction, with the files it came from and the similar edges."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from ingest.records import NodeRecord
from kg.embeddings import EMBED_KINDS
from kg.similarity import update_similar
from kg.store import Store
from kg.store import sync as stored
from kg.sync.plan import ChangeSet, Stored

FileRow = tuple[str, str, str, str]  # root, rel, hash, fmt


def stored_index(store: Store, preserve: set[tuple[str, str]]) -> Stored:
    """The store's index of nodes and non-similar edges, for a plan."""
    nodes, edges = stored.index_rows(store)
    return Stored(nodes, edges, preserve)


def fts_body(node: NodeRecord, text: str) -> str:
    """What keyword search reads for a node beside its title; `text` is its body."""
    m = node.meta
    extra = [str(m.get("dek") or ""), str(m.get("claim") or ""), " ".join(m.get("aliases") or [])]
    if node.kind == "paper":
        extra += [
            " ".join(m.get("authors") or []),
            str(m.get("venue") or ""),
            str(m.get("year") or ""),
            " ".join(m.get("cited_in") or []),
        ]
    return "\n".join([*filter(None, extra), text])


def apply(
    store: Store,
    cs: ChangeSet,
    roots: dict[str, str],
    files: tuple[list[FileRow], Iterable[tuple[str, str]]],
    settings: dict[str, str],
) -> None:
    """Write the change set, the file rows (new or changed, and gone) and settings in one transaction.

    The graph lands first, so pages, links and keyword search work while vectors are still being made;
    `finish_vectors` then adds the `similar` edges."""
    conn = store.conn
    now = datetime.now(UTC).isoformat(timespec="seconds")
    file_rows, gone = files
    with store.transaction():
        for node, h, ekey in cs.upserts:
            stored.upsert_node(conn, node, h, ekey, roots[node.id], now, fts_body)
        stored.delete_nodes(conn, cs.removed)
        stored.delete_edges(conn, cs.edge_removed)
        stored.upsert_edges(
            conn,
            (  # a generator: the rows are written as they are made, not held as a second copy of the edges
                (eid, e.source, e.target, e.kind, e.origin, e.weight, e.label, e.context, root, e.path, e.line, e.ref)
                for eid, e, root in cs.edge_upserts()
            ),
        )
        stored.delete_files(conn, gone)
        stored.upsert_files(conn, [(r, p, h, now, f) for r, p, h, f in file_rows])
        generation = store.generation() + (0 if cs.empty() and not file_rows else 1)
        for key, value in {**settings, "generation": str(generation)}.items():
            store.set_setting(key, value.replace("{generation}", str(generation)))


def finish_vectors(store: Store, changed: set[str], similar: tuple[int, float, bool], settings: dict[str, str]) -> None:
    """Update the `similar` edges the changed vectors affect, then record the settings (in one transaction)."""
    k, threshold, full = similar
    with store.transaction() as conn:
        if changed or full:
            ids, _kinds, mat = store.vectors(EMBED_KINDS)
            update_similar(conn, ids, mat, changed, k, threshold, full=full)
        generation = store.generation() + (1 if changed or full else 0)
        for key, value in {**settings, "generation": str(generation)}.items():
            store.set_setting(key, value.replace("{generation}", str(generation)))
