"""Recall and speed of kg.index: `python -m bench.index_recall [--n 100000] [--extra DIR ...]`.

Two sets of vectors, each searched exactly (IndexFlatIP) and through HNSW at the settings in kg.index:
- real embeddings: every paper title in data/papers/*.bib, and every paragraph of the notes in data/notes and
  in any `--extra` vault, embedded by the real model (fp32 ONNX, whose vectors equal torch's);
- unstructured vectors: `--n` Gaussian vectors of 384 dimensions, normalised, the hard case for any index
  that leans on clusters.
For each: recall@10 against exact search of held-out queries and of the indexed rows themselves (as the
`similar` rebuild asks), with a kind-like filter letting 20 % of rows through, build time, single-query
latency, and the all-pairs neighbour pass. Results go to bench/out/index.json and a table to stdout.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


def real_texts(extra: list[Path]) -> list[str]:
    """Paper titles and note paragraphs (at least 80 characters), without duplicates."""
    texts = []
    for bib in sorted((ROOT / "data" / "papers").glob("*.bib")):
        for m in re.finditer(r"\btitle\s*=\s*[{\"](.+?)[}\"]\s*,?\s*\n", bib.read_text(errors="replace"), re.I):
            texts.append(re.sub(r"[{}]", "", m.group(1)))
    for d in [ROOT / "data" / "notes", *extra]:
        for p in sorted(d.rglob("*.md")):
            for para in re.split(r"\n\s*\n", p.read_text(errors="replace")):
                para = " ".join(para.split())
                if len(para) >= 80 and not para.startswith("---"):
                    texts.append(para[:1400])
    return list(dict.fromkeys(texts))


def real_vectors(extra: list[Path], limit: int) -> np.ndarray:
    cache = OUT / f"real-vectors-{limit}.npy"
    if cache.exists():
        return np.load(cache)
    from kg.onnx_encoder import FP32, OnnxEmbedder

    texts = real_texts(extra)[:limit]
    vecs = OnnxEmbedder(FP32).encode(texts)
    OUT.mkdir(parents=True, exist_ok=True)
    np.save(cache, vecs)
    return vecs


def gaussian(n: int, dim: int = 384, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def measure(name: str, base: np.ndarray, queries: np.ndarray, efs: list[int], params: Any) -> dict[str, Any]:
    from kg.index import VectorIndex, recall_at

    exact = VectorIndex(base, exact_limit=len(base))
    t = time.perf_counter()
    hnsw = VectorIndex(base, exact_limit=0, params=params)
    build_s = time.perf_counter() - t
    rng = np.random.default_rng(1)
    allowed = rng.random(len(base)) < 0.2
    rows = rng.choice(len(base), min(1000, len(base)), replace=False)
    truth_q = exact.search(queries, 10)[1]
    truth_rows = exact.search(base[rows], 11)[1][:, 1:]  # each row's 10 nearest others (itself first)
    truth_f = exact.search(queries, 10, allowed=allowed)[1]
    one = []
    for q in queries[:200]:
        t = time.perf_counter()
        exact.search(q, 10)
        one.append((time.perf_counter() - t) * 1000)
    out: dict[str, Any] = {
        "set": name, "n": len(base), "queries": len(queries), "m": params.m,
        "ef_construction": params.ef_construction, "build_s": build_s,
        "exact_query_p50_ms": float(np.percentile(one, 50)), "exact_query_p95_ms": float(np.percentile(one, 95)),
        "ef": {},
    }  # fmt: skip
    for ef in efs:
        lat = []
        for q in queries[:200]:
            t = time.perf_counter()
            hnsw.search(q, 10, ef_search=ef)
            lat.append((time.perf_counter() - t) * 1000)
        got_rows = hnsw.search(base[rows], 11, ef_search=ef)[1]
        got_rows = np.array([[r for r in g if r != i][:10] for g, i in zip(got_rows, rows, strict=True)])
        out["ef"][ef] = {
            "recall_queries": recall_at(truth_q, hnsw.search(queries, 10, ef_search=ef)[1]),
            "recall_rows": recall_at(truth_rows, got_rows),
            "recall_filtered_20pct": recall_at(truth_f, hnsw.search(queries, 10, allowed=allowed, ef_search=ef)[1]),
            "query_p50_ms": float(np.percentile(lat, 50)),
            "query_p95_ms": float(np.percentile(lat, 95)),
        }
    t = time.perf_counter()
    hnsw.neighbours(10)
    out["all_pairs_s_default_ef"] = time.perf_counter() - t
    return out


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| vectors | n | M / efC | build s | exact query p50/p95 ms | efSearch | recall@10 queries | rows | "
        "filtered 20 % | HNSW query p50/p95 ms | all-pairs s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for ef, e in r["ef"].items():
            lines.append(
                f"| {r['set']} | {r['n']} | {r['m']} / {r['ef_construction']} | {r['build_s']:.1f} | "
                f"{r['exact_query_p50_ms']:.2f} / {r['exact_query_p95_ms']:.2f} | {ef} | {e['recall_queries']:.3f} | "
                f"{e['recall_rows']:.3f} | {e['recall_filtered_20pct']:.3f} | "
                f"{e['query_p50_ms']:.2f} / {e['query_p95_ms']:.2f} | {r['all_pairs_s_default_ef']:.1f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from kg.index import HNSW, HnswParams

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="Gaussian vectors (default 100,000)")
    ap.add_argument("--real", type=int, default=6000, help="at most this many real texts (default 6,000)")
    ap.add_argument("--extra", type=Path, nargs="*", default=[], help="more vaults of real notes (not committed)")
    ap.add_argument("--ef", type=int, nargs="*", default=[64, HNSW.ef_search, 256])
    ap.add_argument("--m", type=int, default=HNSW.m)
    ap.add_argument("--ef-construction", type=int, default=HNSW.ef_construction)
    args = ap.parse_args(argv)
    params = HnswParams(args.m, args.ef_construction, HNSW.ef_search)
    results = []
    real = real_vectors(args.extra, args.real)
    real = real[np.random.default_rng(2).permutation(len(real))]
    results.append(measure("real embeddings", real[200:], real[:200], args.ef, params))
    g = gaussian(args.n + 1000)
    results.append(measure("Gaussian, normalised", g[1000:], g[:1000], args.ef, params))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "index.json").write_text(json.dumps(results, indent=1))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
