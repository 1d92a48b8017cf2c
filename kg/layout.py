"""Positions for the full-graph view: communities placed on a spiral, members laid out inside each."""

from __future__ import annotations

import math
from typing import Any

import networkx as nx
import numpy as np

from kg.graph import communities


def layout(G: nx.Graph, seed: int = 3) -> dict[Any, tuple[float, float]]:
    """2-D positions for every node of `G`; stable for the same graph and seed.

    >>> pos = layout(nx.path_graph(4))
    >>> sorted(pos) == [0, 1, 2, 3] and all(len(p) == 2 for p in pos.values())
    True
    """
    U = nx.Graph(G) if G.is_directed() or G.is_multigraph() else G
    if U.number_of_nodes() == 0:
        return {}
    groups = communities(U, seed=seed)
    rng = np.random.default_rng(seed)
    pos: dict[Any, tuple[float, float]] = {}
    golden = math.pi * (3 - math.sqrt(5))
    offset = 0.0
    for i, members in enumerate(groups):
        radius = 2.5 * math.sqrt(len(members))
        r = offset + radius if i else 0.0
        cx, cy = r * math.cos(i * golden), r * math.sin(i * golden)
        offset = max(offset, r + radius)
        if 2 < len(members) <= 400:
            inner = nx.spring_layout(U.subgraph(members), seed=seed, iterations=40, scale=radius)
            for n, (x, y) in inner.items():
                pos[n] = (cx + float(x), cy + float(y))
        else:
            for n in sorted(members, key=str):
                a, d = rng.uniform(0, 2 * math.pi), radius * math.sqrt(rng.uniform())
                pos[n] = (cx + d * math.cos(a), cy + d * math.sin(a))
    return pos
