"""Search latency on a real vault, query embedding included: `python -m bench.search_latency --db DB [--n 200]`.

The queries are the titles of notes in the store (a reader looking a note up by name), each asked once, so the
query-embedding cache never answers. Each is timed four ways, in one process: `kg.search.search` as the library runs
it (top 10), the `/api/search` endpoint through Flask's test client (view, related papers and JSON included) for the
top 10 and for the search page's default 20, and the query's embedding alone. Reports p50/p95/max in ms and whether
the note itself came first. The store must have been ingested with the encoder the server uses (the default).
Results go to bench/out/search_latency.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

from bench.run import pct

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


def summary(xs: list[float]) -> dict[str, float]:
    return {"p50_ms": round(pct(xs, 50), 2), "p95_ms": round(pct(xs, 95), 2), "max_ms": round(max(xs), 2)}


def measure(db: str, n: int, seed: int = 0) -> dict[str, Any]:
    from kg.embeddings import default_embedder
    from kg.search import encode_query, search
    from kg.store import Store
    from web import create_app

    embedder = default_embedder()
    store = Store(db, create=False)
    notes = [(r["id"], r["title"]) for r in store.nodes_of_kind("concept") if r["title"].strip()]
    picked = random.Random(seed).sample(notes, min(n, len(notes)))
    search(store, "warm up the index and the encoder", embedder)
    app = create_app(db, embedder=embedder)
    client = app.test_client()
    client.get("/api/search?q=warm+up")
    lib, api, api20, enc, first = [], [], [], [], 0
    for nid, title in picked:
        # The query cache is cleared before each step, so no step reuses another's query vector.
        t = time.perf_counter()
        embedder.encode([title + " ."])
        enc.append((time.perf_counter() - t) * 1000)
        encode_query.cache_clear()
        t = time.perf_counter()
        hits = search(store, title, embedder, limit=10)
        lib.append((time.perf_counter() - t) * 1000)
        first += bool(hits) and hits[0]["id"] == nid
        encode_query.cache_clear()
        t = time.perf_counter()
        r = client.get("/api/search?limit=10&q=" + urllib.parse.quote(title + " "))
        api.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (title, r.status_code)
        encode_query.cache_clear()
        t = time.perf_counter()
        r = client.get("/api/search?q=" + urllib.parse.quote(title + "  "))
        api20.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (title, r.status_code)
    app.extensions["kg_runs"].shutdown()
    store.close()
    return {
        "db": db,
        "queries": len(picked),
        "encoder": embedder.name,
        "library_search": summary(lib),
        "api_search_top10": summary(api),
        "api_search_page_default_top20": summary(api20),
        "query_embedding": summary(enc),
        "note_first": round(first / max(len(picked), 1), 3),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True)
    ap.add_argument("--n", type=int, default=200)
    args = ap.parse_args(argv)
    res = measure(args.db, args.n)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "search_latency.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
