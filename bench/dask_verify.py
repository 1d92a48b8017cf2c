"""`kg verify` on a Dask LocalCluster against local threads: same verdicts? how much overhead?

    python -m bench.dask_verify [--seeds 2] [--first-seed 0] [--grid web] [--workers 2] [--claims ID ...]

Ingests data/ into a temporary store and runs the same grids twice, with the local executor (`--jobs` threads)
and with a LocalCluster of as many single-threaded worker processes. Prints both wall times, their ratio, the
per-run overhead, and whether every claim's verdict, pass count and every run's metrics agree. Writes
bench/out/dask_verify.json. Exits 1 if any verdict differs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--first-seed", type=int, default=0, help="Seeds run from here (to split a long comparison).")
    ap.add_argument("--grid", choices=["declared", "web", "mechanism_off"], default="web")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--claims", nargs="*", default=[])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "dask_verify.json")
    args = ap.parse_args(argv)
    os.environ.setdefault("KG_EMBEDDER", "fake")
    from kg.embeddings import FakeEmbedder
    from kg.store import Store
    from kg.verify import verify_claims
    from kg.writer import ingest

    timings, results = {}, {}
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "kg.db") as s:
        assert ingest(s, [str(ROOT / "data")], FakeEmbedder(), progress=False).errors == []
        for executor in ("local", "dask"):
            t = time.monotonic()
            results[executor] = verify_claims(
                s, args.claims, not args.claims, jobs=args.workers, seeds=args.seeds, seed=args.first_seed,
                grid=args.grid, executor=executor, runs_dir=str(Path(tmp) / executor),
            )  # fmt: skip
            timings[executor] = time.monotonic() - t
    runs = sum(r["total"] for r in results["local"])
    same_verdicts = [(r["claim"], r["verdict"], r["passed"]) for r in results["local"]] == [
        (r["claim"], r["verdict"], r["passed"]) for r in results["dask"]
    ]
    same_metrics = all(
        sorted((x["seed"], str(x["params"]), json.dumps(x["metrics"], sort_keys=True)) for x in a["runs"])
        == sorted((x["seed"], str(x["params"]), json.dumps(x["metrics"], sort_keys=True)) for x in b["runs"])
        for a, b in zip(results["local"], results["dask"], strict=True)
    )
    out = {
        "claims": len(results["local"]),
        "runs": runs,
        "workers": args.workers,
        "grid": args.grid,
        "seeds": args.seeds,
        "first_seed": args.first_seed,
        "local_seconds": round(timings["local"], 1),
        "dask_seconds": round(timings["dask"], 1),
        "dask_over_local": round(timings["dask"] / timings["local"], 3),
        "overhead_per_run_seconds": round((timings["dask"] - timings["local"]) / max(1, runs), 3),
        "same_verdicts": same_verdicts,
        "same_metrics": same_metrics,
        "verdicts": {r["claim"]: [r["verdict"], r["passed"], r["total"]] for r in results["dask"]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    print(json.dumps({k: v for k, v in out.items() if k != "verdicts"}, indent=1))
    for cid, (v, p, n) in out["verdicts"].items():
        print(f"{v:<9} {p}/{n}  {cid}")
    return 0 if same_verdicts else 1


if __name__ == "__main__":
    sys.exit(main())
