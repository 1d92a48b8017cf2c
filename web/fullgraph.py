"""The full graph: every node with a position, filtered by kind, tag, strand, relation and verdict.

Beyond `limit` nodes the view keeps the best-connected ones and says so."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import networkx as nx

from kg.graph import layout
from kg.store import Store
from web.views import cached, latest_runs
from web.vis import KIND_COLOURS, VERDICT_COLOURS


def _structure(store: Store) -> dict[str, Any]:
    nodes: dict[str, dict[str, Any]] = {}
    for nid, kind, title, meta in store.conn.execute("SELECT id, kind, title, meta FROM nodes"):
        m = json.loads(meta)
        nodes[nid] = {"id": nid, "kind": kind, "title": title, "strand": m.get("strand", ""), "tags": m.get("tags", [])}
    edges = [
        {"source": s, "target": t, "kind": k, "label": lab}
        for s, t, k, lab in store.conn.execute("SELECT source, target, kind, label FROM edges")
        if s in nodes and t in nodes
    ]
    G = nx.Graph()
    G.add_nodes_from(nodes)
    G.add_edges_from((e["source"], e["target"]) for e in edges)
    pos = layout(G)
    degree = dict(G.degree())
    for nid, n in nodes.items():
        x, y = pos.get(nid, (0.0, 0.0))
        n.update(x=round(x, 3), y=round(y, 3), degree=degree.get(nid, 0))
    return {"nodes": nodes, "edges": edges}


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
    """The filtered full graph as {nodes, edges, total, shown, sampled, facets}."""
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
    out_nodes = []
    for nid in sorted(chosen):
        n = nodes[nid]
        colour = VERDICT_COLOURS.get(verdicts.get(nid) or "", KIND_COLOURS.get(n["kind"], "#777"))
        out_nodes.append(
            {
                "id": nid,
                "label": n["title"],
                "kind": n["kind"],
                "x": n["x"],
                "y": n["y"],
                "size": 2 + min(n["degree"], 40) ** 0.5 * 2,
                "color": colour,
            }
        )
    facets = {
        "kinds": dict(Counter(n["kind"] for n in nodes.values())),
        "strands": dict(Counter(n["strand"] for n in nodes.values() if n["strand"])),
        "relations": dict(Counter(e["label"] or e["kind"] for e in edges)),
        "verdicts": dict(Counter(verdicts.get(c) or "unverified" for c in claims)),
    }
    return {
        "nodes": out_nodes,
        "edges": kept_edges,
        "total": total,
        "shown": len(out_nodes),
        "sampled": sampled,
        "limit": limit,
        "facets": facets,
    }
