"""Pages with a long run log: `/` and a claim page with 10,000 stored runs. `python -m bench.runs [--runs N]`.

Ingests data/ (stand-in vectors) into two stores, and stores N finished runs spread over the claims in one of
them (each with a few KB of log, as a real run has). Then it requests `/` and the busiest claim's page from each
store in turn through the app's test client: server-side median and p95 in ms, and the ratio with runs to
without. It also times the query the pages used before migration 004 (every finished run of every claim, read
in full) on the store with the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def fill(db: Path, n: int) -> list[str]:
    """Store n finished runs over the claims; returns the claim ids, busiest first."""
    from kg.store import Store
    from kg.store.runs import insert_runs

    with Store(db) as s:
        claims = [n["id"] for n in s.nodes_of_kind("claim")]
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        log = "step 1000 loss 0.0123\n" * 150
        rows = []
        for i in range(n):
            claim = claims[0] if i % 4 == 0 else claims[i % len(claims)]
            when = (t0 + timedelta(seconds=i)).isoformat(timespec="milliseconds")
            verdict = "refuted" if i % 7 == 0 else "verified"
            metrics, env = json.dumps({"value": i / n}), json.dumps({"python": "3.11"})
            rows.append((uuid.uuid4().hex[:16], claim, "experiment:x", "done", verdict, metrics, env, log, log[:500],
                         when, when))  # fmt: skip
        columns = ("id", "claim", "experiment", "status", "verdict", "metrics", "environment", "stdout", "stderr",
                   "created_at", "started_at")  # fmt: skip
        with s.transaction() as conn:
            insert_runs(conn, columns, rows)
    return claims


CPU: dict[str, list[float]] = {}


def timed(client, url: str, rounds: int, key: str = "") -> list[float]:  # type: ignore[no-untyped-def]
    """Wall-clock ms per request; the thread's CPU ms go to CPU[key], a figure that a busy machine inflates less."""
    out = []
    for _ in range(rounds):
        t, c = time.perf_counter(), time.thread_time()
        r = client.get(url)
        out.append((time.perf_counter() - t) * 1000)
        CPU.setdefault(key, []).append((time.thread_time() - c) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=30)
    a = ap.parse_args(argv)
    from kg.embeddings import FakeEmbedder
    from kg.store import Store
    from kg.store.runs import done_runs_of
    from kg.store.snapshot import checkpoint
    from kg.writer import ingest
    from web import create_app

    with tempfile.TemporaryDirectory() as tmp:
        empty, full = Path(tmp) / "empty.db", Path(tmp) / "full.db"
        with Store(empty) as s:
            ingest(s, [str(ROOT / "data")], FakeEmbedder(), progress=False)
            checkpoint(s)
        shutil.copy(empty, full)
        claims = fill(full, a.runs)
        busiest = "/node/" + claims[0]
        apps = [create_app(str(db), embedder=FakeEmbedder(), RUNS_DIR=str(Path(tmp) / "runs")) for db in (empty, full)]
        clients = [app.test_client() for app in apps]
        times: dict[tuple[int, str], list[float]] = {(i, u): [] for i in (0, 1) for u in ("/", busiest)}
        for c in clients:
            timed(c, "/", 2)
            timed(c, busiest, 1)
        # Alternate the two stores request by request, so a change in the machine's load hits both alike.
        for _ in range(a.rounds):
            for url in ("/", busiest):
                for i, c in enumerate(clients):
                    times[(i, url)] += timed(c, url, 1, f"{i}{url}")
        with Store(full) as s:
            t = time.perf_counter()
            done_runs_of(s, claims)
            old_query = (time.perf_counter() - t) * 1000
        for app in apps:
            app.extensions["kg_runs"].shutdown()
    home0, home, claim0, claim = times[(0, "/")], times[(1, "/")], times[(0, busiest)], times[(1, busiest)]

    def stats(xs: list[float], key: str) -> dict[str, float]:
        return {"median_ms": round(float(np.median(xs)), 1), "p95_ms": round(float(np.percentile(xs, 95)), 1),
                "cpu_median_ms": round(float(np.median(CPU[key])), 1)}  # fmt: skip

    res = {
        "runs": a.runs,
        "claims": len(claims),
        "home": stats(home, "1/"),
        "home_without_runs": stats(home0, "0/"),
        "claim_page": {
            **stats(claim, "1" + busiest),
            "url": busiest,
            "runs_of_that_claim": a.runs // 4 + a.runs // len(claims),
        },
        "claim_page_without_runs": stats(claim0, "0" + busiest),
        "home_ratio_with_vs_without_runs": round(float(np.median(home) / np.median(home0)), 2),
        "claim_ratio_with_vs_without_runs": round(float(np.median(claim) / np.median(claim0)), 2),
        "old_latest_runs_query_ms": round(old_query, 1),
        "home_vs_old_query": round(float(np.median(home)) / old_query, 3),
    }
    out = ROOT / "bench" / "out" / "runs.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
