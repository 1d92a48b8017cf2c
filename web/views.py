"""The data behind every page. The HTML page and its JSON twin are both built from these dicts."""

from __future__ import annotations

import re
import threading
from typing import Any

from kg import runlog, trust
from kg.embeddings import Embedder
from kg.linkmap import link_key, link_targets
from kg.search import fts_query, related, related_to_text, search
from kg.store import Store
from kg.store import text as stored_text
from web.render import Links, Target, render_markdown, section

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
        while len(_cache) > 64:  # filtered full-graph views are cached too; keep the most recent few
            _cache.pop(next(iter(_cache)))
    return value


def links_for(store: Store, node_id: str, depth: int = 0) -> Links:
    """How links in `node_id`'s body resolve (through the shared link map), and how its embeds render."""
    table = link_targets(store.conn, node_id)
    nodes = store.nodes(sorted(set(table.values())))

    def resolve(name: str) -> Target | None:
        n = nodes.get(table.get(link_key(name), ""))
        if n is None:
            return None
        return Target(n["id"], n["kind"], n["title"], bool(n["meta"].get("stub")))

    def embed(target: Target, heading: str) -> str | None:
        if depth >= 1 or target.kind not in NOTE_KINDS:
            return None  # one level deep: an embed inside an embed is a link
        n = store.node(target.id)
        text = (n or {}).get("text") or ""
        part = section(text, heading) if heading else text
        return None if part is None else render_markdown(part, links_for(store, target.id, depth + 1))

    return Links(resolve, embed)


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
    return runlog.latest_runs(store, claim_ids)


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
        for nid, snip in stored_text.mentions(store, phrase, 20):
            if nid != node["id"] and nid not in linked and nid not in out:
                out[nid] = {"id": nid, "snippet": snip}
    nodes = store.nodes(list(out))
    return [card(nodes[i], snippet=out[i]["snippet"]) for i in list(out)[:limit] if i in nodes]


def _relation_text(label: str, context: str) -> str:
    """The sentence of a relation, without the label it repeats ("extends: extends the …" → "extends the …").

    >>> _relation_text("extends", "extends: the five bodies of evidence")
    'the five bodies of evidence'
    """
    context = " ".join((context or "").split())
    if label and context.lower().startswith(label.lower() + ":"):
        context = context[len(label) + 1 :].strip()
    return context


def related_rows(store: Store, out_edges: list[dict[str, Any]], in_edges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Related concepts: one row per neighbour, with each distinct relation label and the sentence of each link,
    strongest first (summed weight of its links, then the number of links, then title)."""
    rows: dict[str, dict[str, Any]] = {}
    for e, other, inverse in [(e, e["target"], False) for e in out_edges] + [(e, e["source"], True) for e in in_edges]:
        row = rows.setdefault(other, {"links": [], "labels": [], "strength": 0.0})
        label = (e["label"] or "related").strip().rstrip(":").strip()
        text = _relation_text(label, e["context"] or "")
        if label not in row["labels"]:
            row["labels"].append(label)
        if not any(x["label"] == label and x["text"] == text for x in row["links"]):
            row["links"].append({"label": label, "text": text, "inverse": inverse})
        row["strength"] += float(e["weight"] or 1.0)
    nodes = store.nodes(list(rows))
    out = [card(nodes[i], **row) for i, row in rows.items() if i in nodes]
    return sorted(out, key=lambda r: (-r["strength"], -len(r["links"]), r["title"].lower()))


def related_papers(store: Store, node_id: str, cited: list[dict[str, Any]], limit: int = 8) -> list[dict[str, Any]]:
    """The note's own cited papers first (marked `cited`, with their cosine when known), then the nearest
    other papers by cosine."""
    near = related(store, node_id, kind="paper", limit=limit + len(cited))
    score = {r["id"]: r["score"] for r in near}
    seen = {c["id"] for c in cited}
    out = [{**c, "cited": True, "score": score.get(c["id"])} for c in cited]
    out += [{**r, "cited": False} for r in near if r["id"] not in seen][: max(limit - len(out), 3)]
    return out


def present_kinds(store: Store) -> dict[str, bool]:
    """Which kinds of material the store holds at all. A vault with no inquiries, typed relations or papers
    gets no empty sections for them on every page; where some exist, an empty section says this note has none."""
    stats = cached(store, "stats", store.stats)
    return {
        "inquiries": bool(stats["edges"].get("draws_on")),
        "relations": bool(stats["edges"].get("related")),
        "papers": bool(stats["nodes"].get("paper")),
    }


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
            "html": render_markdown(node["text"], links_for(store, node_id)) if node["kind"] in NOTE_KINDS else "",
            "meta": m,
        },
        "tags": _cards(store, by(out_edges, "tagged"), "target"),
        "sources": _cards(store, by(out_edges, "cites") + by(out_edges, "source"), "target"),
        "inquiries": _cards(store, by(in_edges, "draws_on"), "source"),
        "draws_on": _cards(store, by(out_edges, "draws_on"), "target"),
        "related": related_rows(store, by(out_edges, "related"), by(in_edges, "related")),
        "backlinks": _cards(store, by(in_edges, "links_to"), "source", context="context"),
        "links": _cards(store, by(out_edges, "links_to"), "target", context="context"),
        "claims": _cards(store, by(out_edges, "states"), "target"),
        "cited_by": _cards(store, by(in_edges, "cites") + by(in_edges, "source"), "source"),
        "tagged": _cards(store, by(in_edges, "tagged"), "source"),
        "narrower": _cards(store, by(in_edges, "broader"), "source"),
        "broader": _cards(store, by(out_edges, "broader"), "target"),
        "related_papers": [],
        "similar": [],
        "unlinked_mentions": [],
        "present": present_kinds(store),
    }
    if node["kind"] != "tag":
        view["related_papers"] = related_papers(store, node_id, view["sources"])
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


def prediction_rows(prediction: list[dict[str, Any]], run: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each predicted item beside what the last finished run measured, and whether it passed."""
    checks = {c.get("metric"): c for c in (run or {}).get("checks") or [] if isinstance(c, dict)}
    rows = []
    for p in prediction:
        c = checks.get(p.get("metric"), {})
        rows.append({**p, "measured": c.get("measured"), "ok": c.get("ok") if c else None, "problem": c.get("problem")})
    return rows


def claim_view(store: Store, node: dict[str, Any], in_edges: list[dict[str, Any]]) -> dict[str, Any]:
    from kg.verify import claim_distribution

    """A claim: its prediction, its experiment, the note that states it, and its runs."""
    m = node["meta"]
    stated_by = [e["source"] for e in in_edges if e["kind"] == "states"]
    exp = [e["source"] for e in in_edges if e["kind"] == "verifies"]
    listed = runlog.claim_runs(store, node["id"])
    runs = listed["runs"]
    latest = latest_runs(store, [node["id"]]).get(node["id"])
    return {
        "predictions": prediction_rows(m.get("prediction", []), latest),
        "prediction": m.get("prediction", []),
        "control": m.get("control", []),
        "params": m.get("params", {}),
        "timeout": m.get("timeout"),
        "experiment": exp[0] if exp else None,
        "stated_by": stated_by,
        "strand": m.get("strand", ""),
        "runs": runs,
        "runs_total": listed["total"],
        "verdict": latest["verdict"] if latest else None,
        "active": next((r for r in runs if r["status"] in ("queued", "running")), None),
        "trust": trust.status(store, exp[0]) if exp else None,
        "distribution": claim_distribution(store, node),
    }


def preview(store: Store, node_id: str) -> dict[str, Any]:
    """Title and dek of a node, for hover previews."""
    n = store.node(node_id)
    if n is None:
        raise NotFound(node_id)
    return card(n)


def graph_view(store: Store, node_id: str, depth: int, budget: int = 30, more: tuple[str, ...] = ()) -> dict[str, Any]:
    """A node's neighbourhood map as node-link JSON with vis-network styling, and what was left out."""
    from web.mapview import map_graph, select
    from web.vis import style_graph

    if store.node(node_id) is None:
        raise NotFound(node_id)
    ids, left = select(store, node_id, depth, budget, set(more))
    G = map_graph(store, ids)
    claims = [n for n, d in G.nodes(data=True) if d["kind"] == "claim"]
    verdicts = {c: r["verdict"] for c, r in latest_runs(store, claims).items()}
    data = style_graph(G, node_id, verdicts)
    data["graph"] = {
        "centre": node_id,
        "depth": depth,
        "budget": budget,
        "more": list(more),
        "shown": G.number_of_nodes(),
        "left_out": left,
        "truncated": bool(left),
    }
    return data


def search_view(store: Store, q: str, kind: str | None, embedder: Embedder | None, limit: int = 20) -> dict[str, Any]:
    """Hybrid results for a query, plus the papers nearest to it in meaning."""
    results = search(store, q, embedder, kind=kind, limit=limit) if q.strip() else []
    papers = related_to_text(store, q, embedder, kind="paper", limit=8) if q.strip() and embedder else []
    return {"q": q, "kind": kind or "", "results": results, "related_papers": papers, "fts": fts_query(q)}


def stats_view(store: Store) -> dict[str, Any]:
    return store.stats()
