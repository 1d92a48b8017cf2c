"""Watch mode latency: save a note under `kg serve --watch`, time until its page shows the saved text.

`python -m bench.watch_latency [--saves N] [--fake] [--json]` copies the starter corpus, serves it with
`--watch`, edits a note N times and reports the save-to-page times (goal: within 2 s).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from bench.server import start_server

ROOT = Path(__file__).resolve().parent.parent
NOTE = "edge-of-stability"


def page_text(base: str, node_id: str) -> str:
    with urllib.request.urlopen(f"{base}/api/node/{urllib.parse.quote(node_id)}", timeout=10) as r:
        return r.read().decode()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--saves", type=int, default=5)
    ap.add_argument("--fake", action="store_true", help="fake embedder")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    if args.fake:
        env["KG_EMBEDDER"] = "fake"
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(ROOT / "data", data, ignore=shutil.ignore_patterns("kg.db*", "runs"))
        note = next(data.rglob(f"{NOTE}.md"))
        proc, base = start_server(Path(tmp) / "kg.db", env, timeout=600, extra=("--watch", str(data)))
        times = []
        try:
            original = note.read_text()
            for i in range(args.saves):
                marker = f"Saved edit number {i} at {time.time():.3f}."
                t0 = time.perf_counter()
                note.write_text(original + "\n" + marker + "\n")
                while marker not in page_text(base, NOTE):
                    time.sleep(0.02)
                times.append(time.perf_counter() - t0)
                time.sleep(1.0)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    out = {
        "saves": len(times),
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
        "embedder": "fake" if args.fake else "all-MiniLM-L6-v2",
    }
    print(json.dumps(out) if args.json else f"save → page: median {out['median_s']} s, max {out['max_s']} s ({out})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
