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
from dataclasses import dataclass, field
from typing import Any

from ingest.assemble import Assembly
from ingest.records import EdgeRecord, NodeRecord
from kg.embeddings import EMBED_KINDS, embed_key, embed_text

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
    edge_upserts: list[tuple[str, EdgeRecord, str]] = field(default_factory=list)  # id, edge, root
    edge_removed: list[str] = field(default_factory=list)
    embed_needed: dict[str, str] = field(default_factory=dict)  # embed key -> node id
    changed_vectors: set[str] = field(default_factory=set)  # nodes whose vector is new, changed or gone
    added: int = 0
    updated: int = 0
    unchanged: int = 0

    def empty(self) -> bool:
        return not (self.upserts or self.removed or self.edge_upserts or self.edge_removed)


def edge_id(e: EdgeRecord) -> str:
    return hashlib.sha1("\0".join(e.key()).encode()).hexdigest()


def plan(asm: Assembly, stored: Stored, model: str) -> ChangeSet:
    """Diff the desired graph against the stored one."""
    cs = ChangeSet()
    for nid, node in asm.nodes.items():
        h = node.content_hash()
        ekey = None
        if node.kind in EMBED_KINDS and not node.meta.get("stub"):
            ekey = embed_key(embed_text(node.title, node.text, node.meta), model)
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
    want: set[str] = set()  # ids only: a dict of (edge, root) per id cost ~100 MB more at 100k notes
    for key, e in asm.edges.items():
        eid = edge_id(e)
        want.add(eid)
        root = asm.edge_roots[key]
        if stored.edges.get(eid) != (root, e.path, e.weight, e.origin, e.context, e.line, e.ref):
            cs.edge_upserts.append((eid, e, root))
    for eid, (root, path, *_rest) in stored.edges.items():
        if eid not in want and (root, path) not in stored.preserve:
            cs.edge_removed.append(eid)
    return cs
