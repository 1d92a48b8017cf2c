"""The data behind every page. The HTML page and its JSON twin are both built from these dicts."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from typing import Any

from ingest.records import slugify
from kg.embeddings import Embedder
from kg.graph import communities, neighbourhood_from_store
from kg.render import render_markdown
from kg.search import fts_query, related, related_to_text, search
from kg.store import Store

STRANDS = [
    ("solvable-settings", "Solvable settings"),
    ("tractable-limits", "Tractable limits"),
    ("empirical-laws", "Empirical laws"),
    ("hyperparameter-theories", "Hyperparameter theories"),
    ("universal-behaviours", "Universal behaviours"),
]
NOTE_KINDS = ("concept", "inquiry")


class NotFound(LookupError):
    """No node with that id."""


_cache: dict[tuple[str, str], tuple[int, Any]] = {}
_cache_lock = threading.Lock()


def cached(store: Store, name: str, build: Any) -> Any:
    """Compute once per store generation: results change only when an ingest changes the graph."""
    gen = store.generation()
    key = (store.path, name)
    with _cache_lock:
        hit = _cache.get(key)
    if hit and hit[0] == gen:
        return hit[1]
    value = build()
    with _cache_lock:
        _cache[key] = (gen, value)
    return value


def _resolver_table(store: Store) -> dict[str, tuple[str, bool, str]]:
    table: dict[str, tuple[str, bool, str]] = {}
    rows = store.conn.execute("SELECT id, title, meta FROM nodes WHERE kind IN ('concept', 'inquiry')")
    for nid, title, meta in rows:
        m = json.loads(meta)
        aliases = m.get("aliases") or []
        entry = (nid, bool(m.get("stub")), str(aliases[0]) if aliases else title)
        for name in [*(m.get("aliases") or []), title, nid]:
            table.setdefault(str(name).strip().lower(), entry)
    return table


def resolver(store: Store) -> Any:
    table = cached(store, "resolver", lambda: _resolver_table(store))

    def resolve(name: str) -> tuple[str, bool, str] | None:
        low = name.strip().lower().removesuffix(".md")
        return table.get(low) or table.get(low.rsplit("/", 1)[-1]) or table.get(slugify(low.rsplit("/", 1)[-1]))

    return resolve


def card(n: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The short form of a node used in lists and previews."""
    m = n.get("meta") or {}
    out = {"id": n["id"], "kind": n["kind"], "title": n["title"], "dek": m.get("dek", ""), "stub": bool(m.get("stub"))}
    if n["kind"] == "paper":
        out.update(year=m.get("year", ""), authors=m.get("authors", [])[:6], venue=m.get("venue", ""))
    out.update(extra)
    return out


def latest_runs(store: Store, claim_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The most recent finished run of each claim."""
    if not claim_ids:
        return {}
    marks = ",".join("?" * len(claim_ids))
    rows = store.db.query(
        f"SELECT * FROM runs WHERE claim IN ({marks}) AND status = 'done' ORDER BY created_at",
        claim_ids,
    )
    return {r["claim"]: r for r in rows}


def _cards(store: Store, edges: list[dict[str, Any]], end: str, **fields: str) -> list[dict[str, Any]]:
    nodes = store.nodes([e[end] for e in edges])
    out = []
    for e in edges:
        n = nodes.get(e[end])
        if n:
            out.append(card(n, **{k: e[v] for k, v in fields.items()}))
    return out


def unlinked_mentions(store: Store, node: dict[str, Any], linked: set[str], limit: int = 8) -> list[dict[str, Any]]:
    """Notes that name this node (by an alias) in their text without linking to it."""
    names = [a for a in node["meta"].get("aliases") or [] if len(a) >= 4]
    if node["meta"].get("stub"):
        names.append(node["title"])
    out: dict[str, dict[str, Any]] = {}
    for name in names[:5]:
        phrase = '"' + " ".join(re.findall(r"\w+", name)) + '"'
        if phrase == '""':
            continue
        rows = store.conn.execute(
            "SELECT n.id, snippet(nodes_fts, 1, '<<', '>>', '…', 12) "
            "FROM nodes_fts f JOIN nodes n ON n.rowid = f.rowid "
            "WHERE nodes_fts MATCH ? AND f.kind IN ('concept', 'inquiry') LIMIT 20",
            (f"body : {phrase}",),
        )
        for nid, snip in rows:
            if nid != node["id"] and nid not in linked and nid not in out:
                out[nid] = {"id": nid, "snippet": snip}
    nodes = store.nodes(list(out))
    return [card(nodes[i], snippet=out[i]["snippet"]) for i in list(out)[:limit] if i in nodes]


def node_view(store: Store, node_id: str) -> dict[str, Any]:
    """Everything a node page shows, for any kind of node."""
    node = store.node(node_id)
    if node is None:
        raise NotFound(node_id)
    m = node["meta"]
    out_edges = store.edges(node_id, "out")
    in_edges = store.edges(node_id, "in")

    def by(edges: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
        return [e for e in edges if e["kind"] == kind]

    view: dict[str, Any] = {
        "node": {
            **card(node),
            "claim": m.get("claim", ""),
            "strand": m.get("strand", ""),
            "aliases": m.get("aliases", []),
            "path": node["path"],
            "line": node["line"],
            "updated_at": node["updated_at"],
            "text": node["text"],
            "html": render_markdown(node["text"], resolver(store)) if node["kind"] in NOTE_KINDS else "",
            "meta": m,
        },
        "tags": _cards(store, by(out_edges, "tagged"), "target"),
        "sources": _cards(store, by(out_edges, "source"), "target"),
        "inquiries": _cards(store, by(in_edges, "draws_on"), "source"),
        "draws_on": _cards(store, by(out_edges, "draws_on"), "target"),
        "related": _cards(store, by(out_edges, "related"), "target", label="label", context="context")
        + _cards(store, by(in_edges, "related"), "source", label="label", context="context"),
        "backlinks": _cards(store, by(in_edges, "links_to"), "source", context="context"),
        "links": _cards(store, by(out_edges, "links_to"), "target", context="context"),
        "claims": _cards(store, by(out_edges, "states"), "target"),
        "cited_by": _cards(store, by(in_edges, "source"), "source"),
        "tagged": _cards(store, by(in_edges, "tagged"), "source"),
        "narrower": _cards(store, by(in_edges, "broader"), "source"),
        "broader": _cards(store, by(out_edges, "broader"), "target"),
        "related_papers": [],
        "similar": [],
        "unlinked_mentions": [],
    }
    for rel in view["related"]:
        rel["inverse"] = rel["id"] in {e["source"] for e in by(in_edges, "related")} and rel["id"] not in {
            e["target"] for e in by(out_edges, "related")
        }
    if node["kind"] != "tag":
        view["related_papers"] = related(store, node_id, kind="paper", limit=8)
        view["similar"] = [r for r in related(store, node_id, limit=12) if r["kind"] != "paper"][:6]
    if node["kind"] in NOTE_KINDS:
        linked = {e["source"] for e in by(in_edges, "links_to")}
        view["unlinked_mentions"] = unlinked_mentions(store, node, linked)
    # Claims stated by the notes this one relates to: a concept page shows the verdicts that bear on it.
    neighbours = [e["target"] for e in by(out_edges, "related")] + [e["source"] for e in by(in_edges, "related")]
    stated = [c["id"] for c in view["claims"]]
    nearby = []
    for nb in dict.fromkeys(neighbours):
        for e in store.edges(nb, "out", ("states",)):
            if e["target"] not in stated:
                nearby.append(e)
                stated.append(e["target"])
    view["nearby_claims"] = _cards(store, nearby, "target")
    runs = latest_runs(store, [c["id"] for c in view["claims"] + view["nearby_claims"]])
    for c in view["claims"] + view["nearby_claims"]:
        c["verdict"] = runs[c["id"]]["verdict"] if c["id"] in runs else None
    if node["kind"] == "claim":
        view["claim"] = claim_view(store, node, in_edges)
    if node["kind"] == "experiment":
        view["experiment"] = {
            "params": m.get("params", {}),
            "file": m.get("file", ""),
            "code_hash": m.get("code_hash", ""),
        }
        view["verifies"] = _cards(store, by(out_edges, "verifies"), "target")
    if node["kind"] == "paper":
        view["paper"] = {
            "authors": m.get("authors", []),
            "year": m.get("year", ""),
            "venue": m.get("venue", ""),
            "arxiv": m.get("arxiv", ""),
            "doi": m.get("doi", ""),
            "arxiv_url": f"https://arxiv.org/abs/{m['arxiv']}" if m.get("arxiv") else "",
            "doi_url": f"https://doi.org/{m['doi']}" if m.get("doi") else "",
            "abstract": node["text"],
            "keys": m.get("keys", []),
        }
    return view


def claim_view(store: Store, node: dict[str, Any], in_edges: list[dict[str, Any]]) -> dict[str, Any]:
    from kg.verify import claim_distribution

    """A claim: its prediction, its experiment, the note that states it, and its runs."""
    m = node["meta"]
    stated_by = [e["source"] for e in in_edges if e["kind"] == "states"]
    exp = [e["source"] for e in in_edges if e["kind"] == "verifies"]
    runs = list(store.db.query("SELECT * FROM runs WHERE claim = ? ORDER BY created_at DESC LIMIT 50", [node["id"]]))
    for r in runs:
        for k in ("params", "metrics", "checks", "environment", "artefacts", "prediction"):
            r[k] = json.loads(r[k]) if isinstance(r.get(k), str) else r.get(k)
    done = [r for r in runs if r["status"] == "done"]
    return {
        "prediction": m.get("prediction", []),
        "control": m.get("control", []),
        "params": m.get("params", {}),
        "timeout": m.get("timeout"),
        "experiment": exp[0] if exp else None,
        "stated_by": stated_by,
        "strand": m.get("strand", ""),
        "runs": runs,
        "verdict": done[0]["verdict"] if done else None,
        "active": next((r for r in runs if r["status"] in ("queued", "running")), None),
        "distribution": claim_distribution(store, node),
    }


def preview(store: Store, node_id: str) -> dict[str, Any]:
    """Title and dek of a node, for hover previews."""
    n = store.node(node_id)
    if n is None:
        raise NotFound(node_id)
    return card(n)


def _community_data(store: Store) -> list[dict[str, Any]]:
    from kg.graph import build_graph

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
    """The concept map: counts, communities, the five strands, recent notes, and claims by verdict."""
    notes = store.db.query(
        "SELECT id, kind, title, meta, updated_at FROM nodes WHERE kind IN ('concept', 'inquiry') "
        "AND json_extract(meta, '$.stub') IS NOT 1 ORDER BY updated_at DESC, id"
    )
    notes = [{**n, "meta": json.loads(n["meta"])} for n in notes]
    strands = []
    for slug, name in STRANDS:
        members = [card(n) for n in notes if n["meta"].get("strand") == slug and n["kind"] == "concept"]
        strands.append(
            {"slug": slug, "name": name, "count": len(members), "notes": sorted(members, key=lambda c: c["title"])}
        )
    claims = store.nodes_of_kind("claim")
    runs = latest_runs(store, [c["id"] for c in claims])
    by_verdict = Counter(runs[c["id"]]["verdict"] if c["id"] in runs else "unverified" for c in claims)
    return {
        "stats": store.stats(),
        "communities": cached(store, "communities", lambda: _community_data(store)),
        "strands": strands,
        "frame": [card(n) for n in notes if n["meta"].get("strand") == "frame" and n["kind"] == "concept"],
        "recent": [card(n, updated_at=n["updated_at"]) for n in notes[:8]],
        "claims_by_verdict": dict(sorted(by_verdict.items())),
        "claims": [
            card(c, verdict=runs[c["id"]]["verdict"] if c["id"] in runs else None, strand=c["meta"].get("strand", ""))
            for c in claims
        ],
    }


def graph_view(store: Store, node_id: str, depth: int, max_nodes: int = 150) -> dict[str, Any]:
    """A node's neighbourhood as node-link JSON, with vis-network styling: colour by kind, size by degree."""
    from kg.vis import style_graph

    if store.node(node_id) is None:
        raise NotFound(node_id)
    G = neighbourhood_from_store(store, node_id, depth, max_nodes=max_nodes)
    claims = [n for n, d in G.nodes(data=True) if d["kind"] == "claim"]
    verdicts = {c: r["verdict"] for c, r in latest_runs(store, claims).items()}
    data = style_graph(G, node_id, verdicts)
    data["graph"] = {"centre": node_id, "depth": depth, "truncated": G.number_of_nodes() >= max_nodes}
    return data


def search_view(store: Store, q: str, kind: str | None, embedder: Embedder | None, limit: int = 20) -> dict[str, Any]:
    """Hybrid results for a query, plus the papers nearest to it in meaning."""
    results = search(store, q, embedder, kind=kind, limit=limit) if q.strip() else []
    papers = related_to_text(store, q, embedder, kind="paper", limit=8) if q.strip() and embedder else []
    return {"q": q, "kind": kind or "", "results": results, "related_papers": papers, "fts": fts_query(q)}


def stats_view(store: Store) -> dict[str, Any]:
    return store.stats()
