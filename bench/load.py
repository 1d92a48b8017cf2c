"""A bounded load test against `kg serve` on 127.0.0.1: `python -m bench.load [--clients 50] [--seconds 60]`.

Ingests the starter corpus, starts the server (waitress), and runs N client threads for S seconds over note
pages, search and graph JSON. Prints requests, errors and p50/p99 latency; exit 1 on any error.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import numpy as np

from bench.server import start_server

ROOT = Path(__file__).resolve().parent.parent
KG = [sys.executable, "-m", "kg.cli"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--real-model", action="store_true", help="embed with the real model (default: fake vectors)")
    a = ap.parse_args(argv)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if not a.real_model:
        env["KG_EMBEDDER"] = "fake"
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "kg.db"
        subprocess.run([*KG, "ingest", str(ROOT / "data"), "--db", str(db)], env=env, check=True, capture_output=True)
        server, base = start_server(db, env)
        port = int(base.rsplit(":", 1)[1])
        home = json.loads(urllib.request.urlopen(base + "/api/home").read())
        notes = [n["id"] for s in home["strands"] for n in s["notes"]]
        words = ["sharpness", "kernel", "width", "scaling law", "grokking weight decay", "learning rate", "collapse"]
        lat: list[tuple[str, float]] = []
        errors: list[str] = []
        lock = threading.Lock()
        deadline = time.monotonic() + a.seconds

        def client(k: int) -> None:
            rng = random.Random(k)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            while time.monotonic() < deadline:
                kind = rng.choice(["page", "page", "search", "graph"])
                nid = quote(rng.choice(notes))
                path = {"page": f"/node/{nid}", "search": f"/api/search?q={quote(rng.choice(words))}",
                        "graph": f"/api/graph/{nid}?depth=2"}[kind]  # fmt: skip
                t = time.perf_counter()
                try:
                    conn.request("GET", path)
                    r = conn.getresponse()
                    r.read()
                    ok = r.status == 200
                except (OSError, http.client.HTTPException) as exc:
                    ok = False
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    path += f" ({exc})"
                dt = (time.perf_counter() - t) * 1000
                with lock:
                    lat.append((kind, dt))
                    if not ok:
                        errors.append(path)

        threads = [threading.Thread(target=client, args=(k,)) for k in range(a.clients)]
        t0 = time.monotonic()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.monotonic() - t0
        server.terminate()
        server.wait()
    all_ms = np.array([d for _, d in lat])
    res = {"clients": a.clients, "seconds": round(wall, 1), "requests": len(lat), "errors": len(errors),
           "rps": round(len(lat) / wall, 1), "p50_ms": round(float(np.percentile(all_ms, 50)), 1),
           "p99_ms": round(float(np.percentile(all_ms, 99)), 1),
           "by_kind": {k: {"n": int(sum(1 for x, _ in lat if x == k)),
                           "p50_ms": round(float(np.percentile([d for x, d in lat if x == k], 50)), 1),
                           "p99_ms": round(float(np.percentile([d for x, d in lat if x == k], 99)), 1)}
                       for k in ("page", "search", "graph")}}  # fmt: skip
    out = ROOT / "bench" / "out" / "load.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))
    for e in errors[:5]:
        print("error:", e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
