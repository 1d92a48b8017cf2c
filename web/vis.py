"""Neighbourhood graphs styled for vis-network, built with pyvis: colour by kind (claims by verdict),
size by degree, labels on typed edges. The browser loads vis-network once, as a cached static file."""

from __future__ import annotations

from typing import Any

import networkx as nx
from pyvis.network import Network

from web.text import plain_tex

KIND_COLOURS = {
    "concept": "#4f7cac",
    "paper": "#b08d57",
    "claim": "#7a5aa6",
    "inquiry": "#3f8f6b",
    "experiment": "#b5533c",
    "tag": "#8a8a8a",
}
VERDICT_COLOURS = {"verified": "#2e8b57", "refuted": "#c0392b", "error": "#d35400", "timeout": "#d35400"}
EDGE_COLOURS = {"similar": "#c9c9c9", "related": "#555", "links_to": "#8aa4c8", "source": "#c8b48a", "cites": "#c8b48a"}
MAIN_LABELS = 10  # nodes labelled at rest besides the centre; the rest show their title on hover


def _short(title: str, n: int = 42) -> str:
    return title if len(title) <= n else title[: n - 1].rstrip() + "…"


def style_graph(G: nx.MultiDiGraph, centre: str, verdicts: dict[str, str | None]) -> dict[str, Any]:
    """Node-link JSON of `G` whose nodes and links carry vis-network attributes."""
    net = Network(directed=True)
    degree = dict(G.to_undirected(as_view=True).degree())
    typed = {t for s, t, d in G.edges(data=True) if s == centre and d["kind"] not in ("similar", "tagged")}
    typed |= {s for s, t, d in G.edges(data=True) if t == centre and d["kind"] not in ("similar", "tagged")}
    ranked = sorted((n for n in G if n != centre), key=lambda n: (n not in typed, -degree.get(n, 0), str(n)))
    main = {centre, *ranked[:MAIN_LABELS]}
    for n, d in G.nodes(data=True):
        colour = KIND_COLOURS.get(d["kind"], "#777")
        if d["kind"] == "claim" and verdicts.get(n):
            colour = VERDICT_COLOURS.get(verdicts[n] or "", colour)
        net.add_node(
            n,
            label=_short(plain_tex(d["title"])),
            main=n in main,
            color=colour,
            size=(26 if n == centre else 10 + 2.5 * min(degree.get(n, 0), 8)),
            shape="dot",
            borderWidth=3 if n == centre else 1,
            kind=d["kind"],
            dek=d.get("dek", ""),
            fulltitle=plain_tex(d["title"]),
            stub=d.get("stub", False),
            verdict=verdicts.get(n),
        )
    pairs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for s, t, d in G.edges(data=True):
        pairs.setdefault((s, t), []).append(d)
    for (s, t), ds in pairs.items():
        kinds = sorted({d["kind"] for d in ds})
        labels = [d["label"] or d["kind"] for d in ds if d["kind"] not in ("similar", "tagged", "links_to")]
        top = next(
            (k for k in ("related", "draws_on", "states", "verifies", "cites", "source", "links_to") if k in kinds),
            kinds[0],
        )
        net.add_edge(
            s,
            t,
            # Only the centre's typed relations carry a label at rest: the map stays readable at a glance.
            label=", ".join(sorted(set(labels))) if labels and centre in (s, t) and "related" in kinds else "",
            relation=", ".join(sorted(set(labels))),
            color=EDGE_COLOURS.get(top, "#999"),
            dashes=kinds == ["similar"],
            kinds=kinds,
            weight=max(d["weight"] for d in ds),
        )
    nodes = []
    for n in net.nodes:
        full = n.pop("fulltitle")
        nodes.append({**n, "title": full})
    links = [{"source": e.pop("from"), "target": e.pop("to"), **e} for e in net.edges]
    return {"directed": True, "multigraph": False, "graph": {}, "nodes": nodes, "links": links}
