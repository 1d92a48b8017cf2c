"""The full graph: every node with a position, filtered by kind, tag, strand, relation and verdict.

Positions and Louvain communities are computed once per ingest (kg.graph.layout) and kept in the store's settings
table under the store's generation, so a restart or a second worker reuses them. Edges travel as index pairs
to keep the JSON small. Beyond `limit` nodes the view keeps the best-connected ones and says so."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import networkx as nx

from kg.graph import layout
from kg.store import Store
from kg.store import graph as stored
from web.text import plain_tex
from web.views import cached, latest_runs

PALETTE = [
    "#4f7cac", "#3f8f6b", "#b5533c", "#7a5aa6", "#b08d57", "#2a9d8f", "#c06c84", "#6c8a2a", "#d08a00", "#5c6bc0",
    "#8d6e63", "#00838f", "#ad1457", "#558b2f", "#6d4c41", "#3949ab",
]  # fmt: skip
EDGE_KINDS = ["related", "links_to", "cites", "source", "draws_on", "states", "verifies", "tagged", "broader",
              "similar", "embeds"]  # fmt: skip


def _positions(store: Store, G: nx.Graph) -> dict[str, list[float]]:
    key = f"layout:{store.generation()}"
    saved = store.setting(key)
    if saved:
        return json.loads(saved)
    pos, group = layout(G)
    out = {n: [round(x, 2), round(y, 2), group[n]] for n, (x, y) in pos.items()}
    try:
        with store.transaction():
            store.delete_settings("layout:")
            store.set_setting(key, json.dumps(out, separators=(",", ":")))
    except Exception:  # a read-only or busy store still gets a layout, just not a saved one
        pass
    return out


def _structure(store: Store) -> dict[str, Any]:
    nodes: dict[str, dict[str, Any]] = {}
    for nid, kind, title, meta in stored.node_rows(store):
        m = json.loads(meta)
        nodes[nid] = {"id": nid, "kind": kind, "title": title, "strand": m.get("strand", ""), "tags": m.get("tags", [])}
    edges = [
        {"source": s, "target": t, "kind": k, "label": lab}
        for s, t, k, lab in stored.edge_labels(store)
        if s in nodes and t in nodes
    ]
    G = nx.Graph()
    G.add_nodes_from(nodes)
    G.add_edges_from((e["source"], e["target"]) for e in edges)
    pos = _positions(store, G)
    degree = dict(G.degree())
    for nid, n in nodes.items():
        x, y, grp = pos.get(nid, (0.0, 0.0, 0))
        n.update(x=x, y=y, community=int(grp), degree=degree.get(nid, 0), label=plain_tex(n["title"]))
    return {"nodes": nodes, "edges": edges}


def warm(store: Store) -> None:
    """Build and cache the full graph's structure and layout for this generation."""
    cached(store, "fullgraph", lambda: _structure(store))


def full_graph_view(
    store: Store,
    kinds: list[str] | None = None,
    tag: str = "",
    strand: str = "",
    relation: str = "",
    verdict: str = "",
    focus: str = "",
    limit: int = 5000,
) -> dict[str, Any]:
    """The filtered full graph as {nodes, edges (index pairs and a kind code), edge_kinds, total, shown, ...}."""
    data = cached(store, "fullgraph", lambda: _structure(store))
    nodes, edges = data["nodes"], data["edges"]
    claims = [n for n, d in nodes.items() if d["kind"] == "claim"]
    verdicts = {c: r["verdict"] for c, r in latest_runs(store, claims).items()}

    def keep(n: dict[str, Any]) -> bool:
        if kinds and n["kind"] not in kinds:
            return False
        if strand and n["strand"] != strand:
            return False
        if tag and not any(t == tag or t.startswith(tag + "/") for t in n["tags"]) and n["id"] != "tag:" + tag:
            return False
        if verdict and (n["kind"] != "claim" or (verdicts.get(n["id"]) or "unverified") != verdict):
            return False
        return True

    chosen = {nid for nid, n in nodes.items() if keep(n)}
    kept_edges = [e for e in edges if e["source"] in chosen and e["target"] in chosen]
    if relation:
        kept_edges = [e for e in kept_edges if relation in (e["kind"], e["label"])]
        chosen = {x for e in kept_edges for x in (e["source"], e["target"])}
    total = len(chosen)
    sampled = total > limit
    if sampled:
        best = sorted(chosen, key=lambda nid: (-nodes[nid]["degree"], nid))[:limit]
        if focus in chosen and focus not in best:
            best[-1] = focus
        chosen = set(best)
        kept_edges = [e for e in kept_edges if e["source"] in chosen and e["target"] in chosen]
    order = sorted(chosen)
    index = {nid: i for i, nid in enumerate(order)}
    out_nodes = []
    for nid in order:
        n = nodes[nid]
        out_nodes.append(
            {
                "id": nid,
                "label": n["label"],
                "kind": n["kind"],
                "strand": n["strand"],
                "verdict": (verdicts.get(nid) or "unverified") if n["kind"] == "claim" else "",
                "x": n["x"],
                "y": n["y"],
                "size": round(1.5 + min(n["degree"], 60) ** 0.5 * 0.9, 1),
                "color": PALETTE[n["community"] % len(PALETTE)],
            }
        )
    codes = {k: i for i, k in enumerate(EDGE_KINDS)}
    seen: set[tuple[int, int]] = set()
    pairs = []
    for e in kept_edges:
        a, b = index[e["source"]], index[e["target"]]
        if (a, b) not in seen and a != b:
            seen.add((a, b))
            pairs.append([a, b, codes.get(e["kind"], 0)])
    facets = {
        "kinds": dict(Counter(n["kind"] for n in nodes.values())),
        "strands": dict(Counter(n["strand"] for n in nodes.values() if n["strand"])),
        "relations": dict(Counter(e["label"] or e["kind"] for e in edges)),
        "verdicts": dict(Counter(verdicts.get(c) or "unverified" for c in claims)),
    }
    return {
        "nodes": out_nodes,
        "edges": pairs,
        "edge_kinds": EDGE_KINDS,
        "total": total,
        "shown": len(out_nodes),
        "sampled": sampled,
        "limit": limit,
        "facets": facets,
    }
