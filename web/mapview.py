"""The neighbourhood map of a node: a small, explained selection rather than every edge within reach.

Depth 1 keeps about 30 nodes, chosen by kind and weight: typed relations first, then citations, then wikilinks,
then the strongest `similar` links, then tags. Depths 2 and 3 grow outwards from what is shown. Whatever is left
out is counted in the JSON (`left_out`), so the page can offer "+36 similar" instead of cutting silently."""

from __future__ import annotations

from typing import Any

import networkx as nx

from kg.store import Store
from kg.store import graph as stored

# Edge kind → the group a neighbour joins, in the order groups are filled.
GROUPS = {
    "related": "relations", "draws_on": "relations", "states": "relations", "verifies": "relations",
    "broader": "relations", "embeds": "relations",
    "cites": "citations", "source": "citations",
    "links_to": "links",
    "similar": "similar",
    "tagged": "tags",
}  # fmt: skip
ORDER = ["relations", "citations", "links", "similar", "tags"]
DEFAULT_BUDGET = 30
HOP_BUDGET = 20  # nodes each further hop may add


def _candidates(edges: list[tuple[str, str, str, str, float]], frontier: set[str]) -> dict[str, list[tuple]]:
    """For nodes one hop beyond `frontier`: the group and weight by which each is reached, best reach first."""
    best: dict[str, tuple[int, float]] = {}
    for s, t, kind, _label, w in edges:
        for a, b in ((s, t), (t, s)):
            if a in frontier and b not in frontier:
                rank = (ORDER.index(GROUPS.get(kind, "links")), -float(w or 0))
                if b not in best or rank < best[b]:
                    best[b] = rank
    groups: dict[str, list[tuple]] = {g: [] for g in ORDER}
    for nid, (gi, negw) in best.items():
        groups[ORDER[gi]].append((negw, nid))
    return {g: sorted(v) for g, v in groups.items()}


def select(store: Store, centre: str, depth: int, budget: int, more: set[str]) -> tuple[list[str], dict[str, Any]]:
    """The ids to show, and counts of what was left out: {"similar": 36, "hop 2": 12, ...}."""
    shown = [centre]
    left: dict[str, int] = {}
    frontier = {centre}
    edges = stored.edges_touching(store, [centre])
    cands = _candidates(edges, frontier)
    room = budget - 1
    for g in ORDER:
        take = len(cands[g]) if g in more else max(room, 0)
        picked = [nid for _w, nid in cands[g][:take]]
        shown += picked
        room -= len(picked)
        if len(cands[g]) > len(picked):
            left[g] = len(cands[g]) - len(picked)
    for hop in range(2, depth + 1):
        frontier = set(shown)
        # A tag's only edges are `tagged` ones, which hops do not follow: asking for a hub tag's thousands of
        # edges only to drop them was most of a depth-2 map's time at 100k notes.
        tags = set(stored.ids_of_kinds_among(store, shown[1:], ("tag",)))
        reach = [nid for nid in shown[1:] if nid not in tags]
        hop_edges = [e for e in stored.edges_touching(store, reach) if GROUPS.get(e[2]) != "tags"]
        cands = _candidates(hop_edges, frontier)
        pool = [nid for g in ORDER for _w, nid in cands[g]]
        cap = HOP_BUDGET * (2 if "hops" in more else 1)
        shown += pool[:cap]
        if len(pool) > cap:
            left[f"hop {hop}"] = len(pool) - cap
    return list(dict.fromkeys(shown)), left


def map_graph(store: Store, ids: list[str]) -> nx.MultiDiGraph:
    """The chosen nodes and the edges among them; `similar` edges only where they touch the centre's ring."""
    nodes = store.nodes(ids)
    G = nx.MultiDiGraph()
    for nid in ids:
        n = nodes.get(nid)
        if n:
            m = n["meta"]
            G.add_node(nid, kind=n["kind"], title=n["title"], dek=m.get("dek", ""), stub=bool(m.get("stub")))
    centre = ids[0]
    # An edge between two shown nodes leaves one of them: the outgoing edges are enough, and a shown hub tag's
    # incoming edges are never read.
    for s, t, kind, label, w in stored.edges_from(store, ids):
        if s in G and t in G and s != t:
            if kind == "similar" and centre not in (s, t):
                continue
            G.add_edge(s, t, key=f"{kind}:{label}", kind=kind, label=label, weight=w)
    return G
