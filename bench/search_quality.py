"""Search quality on the corpus: `python -m bench.search_quality [--json] [--db PATH]`.

Ingests data/ with the real model (KG_EMBEDDER is ignored) into a temporary store, or into `--db` so a second
run only re-ingests what changed, then runs `kg.search.search(..., kind="paper")` for every query in
bench/search_queries.yaml. A query's rank is the position of its best-placed expected paper (by BibTeX key).

Reports MRR (1/rank, 0 when no expected paper is in the top 10), recall@10 (share of expected papers in the top
10, averaged over queries) and the share of queries with an expected paper in the top 3 (goal: at least 0.9).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "bench" / "search_queries.yaml"
GOAL_TOP3 = 0.9
LIMIT = 10
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load_queries(path: Path = QUERIES) -> list[dict[str, Any]]:
    """The benchmark queries: each {"q": text, "expect": [bib keys]}."""
    items = yaml.safe_load(path.read_text(encoding="utf-8"))["queries"]
    for i, item in enumerate(items):
        if not item.get("q") or not item.get("expect"):
            raise SystemExit(f"{path}: query {i + 1} needs both q and expect")
    return items


def key_to_node(store: Any) -> dict[str, str]:
    """Map every BibTeX key to the id of the paper node that carries it."""
    out: dict[str, str] = {}
    for p in store.nodes_of_kind("paper"):
        for key in p["meta"].get("keys") or []:
            out[key] = p["id"]
    return out


def score(queries: list[dict[str, Any]], results: list[list[str]], keys: dict[str, str]) -> dict[str, Any]:
    """MRR, recall@10 and top-3 share for ranked node ids per query; unknown keys are listed, not scored."""
    rows, missing = [], sorted({k for q in queries for k in q["expect"] if k not in keys})
    for q, ids in zip(queries, results, strict=True):
        want = {keys[k] for k in q["expect"] if k in keys}
        ranks = [i + 1 for i, nid in enumerate(ids) if nid in want]
        rows.append(
            {
                "q": q["q"],
                "rank": ranks[0] if ranks else None,
                "recall": len(ranks) / len(want) if want else 0.0,
                "top": ids[:3],
            }
        )
    n = len(rows) or 1
    return {
        "queries": len(rows),
        "mrr": round(sum(1 / r["rank"] for r in rows if r["rank"]) / n, 4),
        "recall_at_10": round(sum(r["recall"] for r in rows) / n, 4),
        "top3_share": round(sum(1 for r in rows if r["rank"] and r["rank"] <= 3) / n, 4),
        "goal_top3": GOAL_TOP3,
        "unknown_keys": missing,
        "per_query": rows,
    }


def run(db_path: Path, data: Path) -> dict[str, Any]:
    """Ingest `data` into the store at `db_path` with the real model and score every benchmark query."""
    from kg.embeddings import SentenceEmbedder
    from kg.search import search
    from kg.store import Store
    from kg.writer import ingest

    embedder = SentenceEmbedder()
    store = Store(db_path)
    try:
        report = ingest(store, [str(data)], embedder, progress=False)
        if report.errors:
            print(f"warning: ingest reported {len(report.errors)} errors", file=sys.stderr)
        queries = load_queries()
        results = [[h["id"] for h in search(store, q["q"], embedder, kind="paper", limit=LIMIT)] for q in queries]
        return score(queries, results, key_to_node(store))
    finally:
        store.close()


def summary(res: dict[str, Any]) -> str:
    lines = [
        f"queries {res['queries']}  MRR {res['mrr']:.3f}  recall@10 {res['recall_at_10']:.3f}  "
        f"top-3 {res['top3_share']:.1%} (goal {res['goal_top3']:.0%})"
    ]
    for r in res["per_query"]:
        if not r["rank"] or r["rank"] > 3:
            lines.append(f"  miss  rank {r['rank'] or '>10':>4}  {r['q']!r}  top: {', '.join(r['top'])}")
    if res["unknown_keys"]:
        lines.append(f"  expected keys not in the corpus: {', '.join(res['unknown_keys'])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--db", type=Path, help="store to ingest into and keep (default: a temporary one)")
    ap.add_argument("--data", type=Path, default=ROOT / "data", help="corpus to ingest (default: data/)")
    args = ap.parse_args(argv)
    if args.db:
        res = run(args.db, args.data)
    else:
        with tempfile.TemporaryDirectory(prefix="kg-search-quality-") as tmp:
            res = run(Path(tmp) / "kg.db", args.data)
    print(json.dumps(res, indent=2) if args.json else summary(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
