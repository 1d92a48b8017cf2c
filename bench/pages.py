"""Note pages on the starter corpus: server time and weight. `python -m bench.pages`.

Ingests data/ (stand-in vectors), then requests every note, inquiry and claim page through the app's test
client: the server-side time of each, p50/p95, and the page weight without its cached static files.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    from kg.embeddings import FakeEmbedder
    from kg.store import Store
    from kg.store.graph import ids_of_kinds
    from kg.writer import ingest
    from web import create_app

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "kg.db"
        with Store(db) as s:
            ingest(s, [str(ROOT / "data")], FakeEmbedder(), progress=False)
            ids = ids_of_kinds(s, ("concept", "inquiry", "claim"))
        app = create_app(str(db), embedder=FakeEmbedder())
        client = app.test_client()
        client.get("/node/" + ids[0])
        times, sizes = [], {}
        for _round in range(3):
            for nid in ids:
                t = time.perf_counter()
                r = client.get("/node/" + nid)
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, nid
                sizes[nid] = len(r.data)
        app.extensions["kg_runs"].shutdown()
    heaviest = max(sizes, key=sizes.get)
    res = {
        "pages": len(ids),
        "requests": len(times),
        "p50_ms": round(float(np.percentile(times, 50)), 1),
        "p95_ms": round(float(np.percentile(times, 95)), 1),
        "max_kb": round(sizes[heaviest] / 1024, 1),
        "heaviest": heaviest,
        "median_kb": round(float(np.median(list(sizes.values()))) / 1024, 1),
    }
    out = ROOT / "bench" / "out" / "pages.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
