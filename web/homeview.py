"""The home page, built from what the store holds."""

from __future__ import annotations

from collections import Counter
from typing import Any

from kg.graph import build_graph, communities
from kg.store import Store
from kg.store import graph as stored
from web.views import cached, card, latest_runs

STRANDS = [
    ("solvable-settings", "Solvable settings"),
    ("tractable-limits", "Tractable limits"),
    ("empirical-laws", "Empirical laws"),
    ("hyperparameter-theories", "Hyperparameter theories"),
    ("universal-behaviours", "Universal behaviours"),
]


def _community_data(store: Store) -> list[dict[str, Any]]:
    G = build_graph(store, similar=True)
    keep = [n for n, d in G.nodes(data=True) if d["kind"] in ("concept", "inquiry", "claim") and not d["stub"]]
    H = G.subgraph(keep).copy()
    groups = []
    for members in communities(H):
        if len(members) < 2:
            continue
        deg = sorted(members, key=lambda n: (-H.degree(n), n))
        strands = Counter(G.nodes[n].get("strand") for n in members if G.nodes[n].get("strand"))
        tags = Counter(
            t[4:]
            for n in members
            if G.nodes[n]["kind"] == "concept"
            for _s, t, d in G.out_edges(n, data=True)
            if d["kind"] == "tagged" and not t.startswith(("tag:strand", "tag:claim", "tag:inquiry"))
        )
        label = tags.most_common(1)[0][0] if tags else G.nodes[deg[0]]["title"]
        groups.append(
            {
                "label": label.replace("topic/", "").replace("-", " "),
                "size": len(members),
                "strand": strands.most_common(1)[0][0] if strands else "",
                "members": [{"id": n, "title": G.nodes[n]["title"], "kind": G.nodes[n]["kind"]} for n in deg[:12]],
            }
        )
    return groups


def home_view(store: Store) -> dict[str, Any]:
    """The home page, built from what the store holds: strands where notes name them (our corpus); otherwise
    top folders, top tags and the most-linked notes. Sections with nothing in them are left out."""
    notes = stored.recent_notes(store)
    strands = []
    for slug, name in STRANDS:
        members = [card(n) for n in notes if n["meta"].get("strand") == slug and n["kind"] == "concept"]
        if members:
            strands.append({"slug": slug, "name": name, "count": len(members), "notes": sorted(members, key=_title)})
    claims = store.nodes_of_kind("claim")
    runs = latest_runs(store, [c["id"] for c in claims])
    by_verdict = Counter(runs[c["id"]]["verdict"] if c["id"] in runs else "unverified" for c in claims)
    folders = Counter(n["path"].split("/")[0] for n in notes if n["path"] and "/" in n["path"])
    tags = stored.top_tags(store, 15)
    linked = stored.most_linked(store, 12)
    most = store.nodes([t for t, _c in linked])
    return {
        "stats": store.stats(),
        "ours": bool(strands),
        "communities": cached(store, "communities", lambda: _community_data(store)),
        "strands": strands,
        "frame": [card(n) for n in notes if n["meta"].get("strand") == "frame" and n["kind"] == "concept"],
        "folders": [{"name": f, "count": c} for f, c in folders.most_common(10)] if len(folders) > 1 else [],
        "tags": [{"id": t, "name": t.removeprefix("tag:"), "count": c} for t, c in tags],
        "most_linked": [card(most[t], links=c) for t, c in linked if t in most],
        "recent": [card(n, updated_at=n["updated_at"]) for n in notes[:8]],
        "claims_by_verdict": dict(sorted(by_verdict.items())),
        "claims": [
            card(c, verdict=runs[c["id"]]["verdict"] if c["id"] in runs else None, strand=c["meta"].get("strand", ""))
            for c in claims
        ],
    }


def _title(c: dict[str, Any]) -> str:
    return str(c["title"]).lower()
