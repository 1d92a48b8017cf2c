"""The graph as networkx sees it, and pure algorithms over it: neighbourhoods, communities, centrality."""

from __future__ import annotations

import json
import math
from collections import deque
from typing import Any

import networkx as nx
import numpy as np

from kg.store import Store
from kg.store import graph as stored


def build_graph(store: Store, similar: bool = True) -> nx.MultiDiGraph:
    """The whole store as a MultiDiGraph: node attributes kind/title, edge attributes kind/label/weight."""
    G = nx.MultiDiGraph()
    for nid, kind, title, meta in stored.node_rows(store):
        m = json.loads(meta)
        G.add_node(
            nid,
            kind=kind,
            title=title,
            strand=m.get("strand", ""),
            stub=bool(m.get("stub")),
        )
    for s, t, kind, label, weight, origin in stored.edge_rows(store, similar):
        if s in G and t in G:
            G.add_edge(
                s,
                t,
                key=f"{kind}:{label}",
                kind=kind,
                label=label,
                weight=weight,
                origin=origin,
            )
    return G


def neighbourhood(G: nx.Graph, node: Any, depth: int = 1) -> set[Any]:
    """Nodes within `depth` hops of `node`, following edges either way.

    >>> G = nx.path_graph(5, create_using=nx.DiGraph)
    >>> sorted(neighbourhood(G, 2, 1))
    [1, 2, 3]
    >>> sorted(neighbourhood(G, 0, 2))
    [0, 1, 2]
    """
    seen = {node}
    frontier = deque([(node, 0)])
    while frontier:
        n, d = frontier.popleft()
        if d == depth:
            continue
        nbrs = set(G.successors(n)) | set(G.predecessors(n)) if G.is_directed() else set(G.neighbors(n))
        for m in nbrs - seen:
            seen.add(m)
            frontier.append((m, d + 1))
    return seen


def communities(G: nx.Graph, seed: int = 7) -> list[set[Any]]:
    """Louvain communities of the undirected, weighted graph, largest first.

    >>> G = nx.barbell_graph(4, 0)
    >>> [len(c) for c in communities(G)]
    [4, 4]
    """
    U = nx.Graph()
    U.add_nodes_from(G.nodes)
    for u, v, data in G.edges(data=True):
        if u != v:
            w = float(data.get("weight", 1.0) or 1.0)
            U.add_edge(u, v, weight=U.get_edge_data(u, v, {"weight": 0.0})["weight"] + w)
    found = nx.community.louvain_communities(U, weight="weight", seed=seed)
    return sorted(found, key=lambda c: (-len(c), min(map(str, c))))


def centrality(G: nx.Graph, top: int | None = None) -> list[tuple[Any, float]]:
    """PageRank over the undirected graph, highest first.

    >>> [n for n, _ in centrality(nx.star_graph(3), top=1)]
    [0]
    """
    U = nx.Graph(G) if G.is_directed() or G.is_multigraph() else G
    ranks = nx.pagerank(U, weight=None)
    ordered = sorted(ranks.items(), key=lambda p: (-p[1], str(p[0])))
    return ordered[:top] if top else ordered


def neighbourhood_from_store(
    store: Store,
    node_id: str,
    depth: int = 1,
    max_nodes: int = 150,
    similar: bool = True,
) -> nx.MultiDiGraph:
    """A node's neighbourhood read straight from the store, without loading the whole graph.

    Breadth-first; stops adding nodes at `max_nodes` so a hub's page stays small.
    """
    seen = {node_id}
    frontier = [node_id]
    for _ in range(depth):
        nxt: list[str] = []
        for s, t in stored.neighbour_pairs(store, frontier, similar):
            for m in (s, t):
                if m not in seen and len(seen) < max_nodes:
                    seen.add(m)
                    nxt.append(m)
        frontier = nxt
        if not frontier:
            break
    G = nx.MultiDiGraph()
    nodes = store.nodes(sorted(seen))
    for nid, n in nodes.items():
        G.add_node(
            nid,
            kind=n["kind"],
            title=n["title"],
            dek=n["meta"].get("dek", ""),
            stub=bool(n["meta"].get("stub")),
        )
    for s, t, kind, label, weight in stored.edges_from(store, list(nodes), similar):
        if t in nodes:
            G.add_edge(s, t, key=f"{kind}:{label}", kind=kind, label=label, weight=weight)
    return G


def to_node_link(G: nx.MultiDiGraph) -> dict[str, Any]:
    """Node-link JSON that networkx reads back with `node_link_graph(data, edges="links")`."""
    return nx.node_link_data(G, edges="links")


def _fa2(G: nx.Graph, seed: int, scale: float, mass: dict[Any, float] | None = None) -> dict[Any, tuple[float, float]]:
    """ForceAtlas2 positions scaled into a disc of radius `scale` (networkx's dense solver: small graphs only)."""
    n = G.number_of_nodes()
    if n == 1:
        return {next(iter(G)): (0.0, 0.0)}
    if n > 600:  # dense n×n forces; above this the sparse spring layout is the affordable one
        raw = nx.spring_layout(G, seed=seed, iterations=30)
    else:
        # Strong gravity on the graph of communities keeps groups with no link between them close by.
        raw = nx.forceatlas2_layout(
            G, max_iter=80, seed=seed, node_mass=mass, weight="weight" if mass else None, strong_gravity=bool(mass)
        )
    arr = np.array([raw[v] for v in G], dtype=float)
    arr -= arr.mean(axis=0)
    radius = float(np.abs(arr).max()) or 1.0
    arr *= scale / radius
    return {v: (float(x), float(y)) for v, (x, y) in zip(G, arr, strict=True)}


def layout(G: nx.Graph, seed: int = 3) -> tuple[dict[Any, tuple[float, float]], dict[Any, int]]:
    """2-D positions and a Louvain community index for every node of `G`; stable for the same graph and seed.

    Communities are placed by ForceAtlas2 over the graph of communities, and each community's members by
    ForceAtlas2 inside a disc sized to it, so a 5,000-node graph lays out in seconds without n² forces.

    >>> pos, group = layout(nx.barbell_graph(4, 0))
    >>> sorted(pos) == list(range(8)) and len(set(group.values())) == 2
    True
    """
    U = nx.Graph(G) if G.is_directed() or G.is_multigraph() else G
    if U.number_of_nodes() == 0:
        return {}, {}
    groups = communities(U, seed=seed)
    group = {v: i for i, members in enumerate(groups) for v in members}
    Q = nx.Graph()
    Q.add_nodes_from(range(len(groups)))
    for u, v in U.edges():
        if group[u] != group[v]:
            a, b = group[u], group[v]
            Q.add_edge(a, b, weight=Q.get_edge_data(a, b, {"weight": 0})["weight"] + 1)
    radii = {i: 2.5 * math.sqrt(len(m)) for i, m in enumerate(groups)}
    span = 2.5 * math.sqrt(U.number_of_nodes()) * 2.2
    centres = _fa2(Q, seed, span, {i: float(len(m)) for i, m in enumerate(groups)}) if len(groups) > 1 else {0: (0, 0)}
    pos: dict[Any, tuple[float, float]] = {}
    for i, members in enumerate(groups):
        cx, cy = centres[i]
        inner = _fa2(U.subgraph(members), seed, radii[i]) if len(members) > 1 else {next(iter(members)): (0.0, 0.0)}
        for v, (x, y) in inner.items():
            pos[v] = (cx + x, cy + y)
    return pos, group
