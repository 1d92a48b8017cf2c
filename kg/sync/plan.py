"""Plan: the change set that takes the stored graph to the desired one. Pure: no database, no model.

>>> from ingest.records import NodeRecord
>>> from ingest.assemble import Assembly
>>> asm = Assembly(nodes={"a": NodeRecord("a", "concept", "A")}, roots={"a": "/v"})
>>> cs = plan(asm, Stored(nodes={"b": ("h", "/v", "b.md", None)}), "fake")
>>> [n.id for n, _h, _k in cs.upserts], cs.removed, cs.added
(['a'], ['b'], 1)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ingest.assemble import Assembly
from ingest.records import EdgeRecord, NodeRecord
from kg.embeddings import EMBED_KINDS, embed_key, embed_text
from kg.store.stash import text_of

StoredNode = tuple[str, str, str, str | None]  # hash, root, path, embed_key
StoredEdge = tuple[Any, ...]  # root, path, weight, origin, context, line, ref


@dataclass
class Stored:
    """The store's index: what a plan compares against."""

    nodes: dict[str, StoredNode] = field(default_factory=dict)
    edges: dict[str, StoredEdge] = field(default_factory=dict)
    preserve: set[tuple[str, str]] = field(default_factory=set)  # (root, path) of files whose rows stay as they are


@dataclass
class ChangeSet:
    upserts: list[tuple[NodeRecord, str, str | None]] = field(default_factory=list)  # node, hash, embed key
    removed: list[str] = field(default_factory=list)
    # The edges to write and each one's root, side by side: no tuple and no id string per edge, which at 100k
    # notes (a million edges) held about 150 MB; `edge_upserts()` makes the ids as they are written.
    edges_to_write: list[EdgeRecord] = field(default_factory=list)
    edge_roots: list[str] = field(default_factory=list)
    edge_removed: list[str] = field(default_factory=list)
    embed_needed: dict[str, str] = field(default_factory=dict)  # embed key -> node id
    changed_vectors: set[str] = field(default_factory=set)  # nodes whose vector is new, changed or gone
    added: int = 0
    updated: int = 0
    unchanged: int = 0

    def add_edge(self, e: EdgeRecord, root: str) -> None:
        self.edges_to_write.append(e)
        self.edge_roots.append(root)

    def edge_upserts(self) -> Iterator[tuple[str, EdgeRecord, str]]:
        """Each edge to write with its id and root."""
        for e, root in zip(self.edges_to_write, self.edge_roots, strict=True):
            yield edge_id(e), e, root

    def empty(self) -> bool:
        return not (self.upserts or self.removed or self.edges_to_write or self.edge_removed)


def edge_id(e: EdgeRecord) -> str:
    return hashlib.sha1("\0".join(e.key()).encode()).hexdigest()


def plan(asm: Assembly, stored: Stored, model: str) -> ChangeSet:
    """Diff the desired graph against the stored one."""
    cs = ChangeSet()
    for nid, node in asm.nodes.items():
        text = text_of(node.text)  # read once: the body may wait on disk (kg/store/stash.py)
        h = node.content_hash(text)
        ekey = None
        if node.kind in EMBED_KINDS and not node.meta.get("stub"):
            ekey = embed_key(embed_text(node.title, text, node.meta), model)
            cs.embed_needed[ekey] = nid
        old = stored.nodes.get(nid)
        if old is None:
            cs.added += 1
        elif old[0] != h or old[1] != asm.roots[nid] or old[3] != ekey:
            cs.updated += 1
        else:
            cs.unchanged += 1
            continue
        cs.upserts.append((node, h, ekey))
        if old is None or old[3] != ekey:
            cs.changed_vectors.add(nid)
    for nid, (_h, root, path, _k) in stored.nodes.items():
        if nid not in asm.nodes and (root, path) not in stored.preserve:
            cs.removed.append(nid)
            cs.changed_vectors.add(nid)
    cs.removed.sort()
    # The stored ids the desired graph does not have: a set of the stored ids (their strings shared with the
    # index) shrinks as the desired edges are met, so a first ingest holds no set of a million new ids.
    unmet = set(stored.edges)
    for key, e in asm.edges.items():
        eid = edge_id(e)
        unmet.discard(eid)
        root = asm.edge_roots[key]
        if stored.edges.get(eid) != (root, e.path, e.weight, e.origin, e.context, e.line, e.ref):
            cs.add_edge(e, root)
    for eid, (root, path, *_rest) in stored.edges.items():
        if eid in unmet and (root, path) not in stored.preserve:
            cs.edge_removed.append(eid)
    return cs
