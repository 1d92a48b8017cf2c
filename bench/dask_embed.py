"""Bulk embedding: a 2-worker Dask LocalCluster against the in-process path, with the real model.

    python -m bench.dask_embed [--texts 2000] [--workers 2]

Makes `--texts` abstract-length texts from the synthetic vault generator, embeds them once in-process
(`SentenceEmbedder.encode`, torch using every core) and once with `kg.embed_dask.embed_partitions` on a
LocalCluster of single-threaded workers (model load included in both), checks the vectors agree, and prints
texts per second for each and their ratio. Writes bench/out/dask_embed.json. From the measured rate it
extrapolates the hours for 1M abstracts on N such workers (linear in N; the store write is not included).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def abstracts(n: int, seed: int = 0) -> list[str]:
    """Abstract-like texts (title plus about 150 words) from the benchmark vault's vocabulary."""
    rng = np.random.default_rng(seed)
    from bench.vault import vocabulary

    words = vocabulary()
    return [
        " ".join(rng.choice(words, size=8)).capitalize() + ". " + " ".join(rng.choice(words, size=150)) + "."
        for _ in range(n)
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--texts", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "dask_embed.json")
    args = ap.parse_args(argv)
    from kg.embed_dask import embed_partitions
    from kg.embeddings import MAX_CHARS, SentenceEmbedder

    texts = [t[:MAX_CHARS] for t in abstracts(args.texts)]
    t = time.monotonic()
    local = SentenceEmbedder().encode(texts)
    local_s = time.monotonic() - t
    t = time.monotonic()
    dask = embed_partitions(texts, args.workers, fake=False)
    dask_s = time.monotonic() - t
    agree = float(np.min(np.sum(local * dask, axis=1)))
    rate = args.texts / dask_s
    out = {
        "texts": args.texts,
        "workers": args.workers,
        "in_process_seconds": round(local_s, 1),
        "dask_seconds": round(dask_s, 1),
        "in_process_per_second": round(args.texts / local_s, 1),
        "dask_per_second": round(rate, 1),
        "dask_over_in_process_time": round(dask_s / local_s, 3),
        "min_cosine_between_paths": round(agree, 6),
        "hours_for_1M_on_this_cluster": round(1e6 / rate / 3600, 2),
        "hours_for_1M_per_worker_count": {n: round(1e6 / (rate / args.workers * n) / 3600, 2) for n in (8, 32, 128)},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))
    return 0 if agree > 0.999 else 1


if __name__ == "__main__":
    sys.exit(main())
