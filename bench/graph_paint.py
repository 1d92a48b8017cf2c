"""First paint of /graph in Chromium on a generated 5,000-note vault, and the size of its JSON.

Runs the same vault under two code trees (e.g. `--before /work/main --after .`), each served by its own
`kg serve`, and reports for each: the JSON the page fetches (raw and gzip bytes), the first paint on a cold
server (layout computed) and on a warm one (layout cached), as milliseconds from navigation start until the
graph container turns ready. Ratios are what to compare; the absolute times depend on the machine.

`python -m bench.graph_paint --notes 5000 --before /work/main --after .`
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.vault import make_vault

CHROMIUM = "/usr/bin/chromium"
READY = """
window.__ready = null;
new MutationObserver((_m, obs) => {
  const el = document.getElementById('fullgraph');
  if (el && el.dataset.state === 'ready') { window.__ready = performance.now(); obs.disconnect(); }
}).observe(document, { attributes: true, subtree: true, attributeFilter: ['data-state'] });
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(code: Path, db: Path) -> tuple[subprocess.Popen, str]:
    port = _port()
    env = {**os.environ, "KG_EMBEDDER": "fake", "PYTHONPATH": str(code)}
    log = tempfile.TemporaryFile()
    cmd = [sys.executable, "-m", "kg.cli", "serve", "--db", str(db), "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=code, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/api/stats", timeout=1)
            return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def paint(browser, url: str) -> float:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.add_init_script(READY)
    page = ctx.new_page()
    page.goto(url, timeout=300_000)
    page.wait_for_function("() => window.__ready !== null", timeout=300_000)
    ms = page.evaluate("() => window.__ready")
    ctx.close()
    return round(ms, 1)


def measure(code: Path, db: Path, browser) -> dict[str, float | int]:
    proc, base = serve(code, db)
    try:
        cold = paint(browser, base + "/graph")
        warm = paint(browser, base + "/graph")
        q = "/api/graph?kind=concept&kind=inquiry&kind=claim"
        raw = urllib.request.urlopen(base + q, timeout=300).read()
        data = json.loads(raw)
        return {
            "nodes": len(data["nodes"]),
            "edges": len(data["edges"]),
            "json_bytes": len(raw),
            "json_gzip_bytes": len(gzip.compress(raw)),
            "first_paint_cold_ms": cold,
            "first_paint_warm_ms": warm,
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--notes", type=int, default=5000)
    ap.add_argument("--before", type=Path, required=True, help="code tree of the baseline (holds kg/ and web/)")
    ap.add_argument("--after", type=Path, default=Path("."))
    ap.add_argument("--work", type=Path, default=None, help="where the vault and stores go (default: a temp dir)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    work = args.work or Path(tempfile.mkdtemp(prefix="graph-paint-"))
    vault = work / "vault"
    if not vault.exists():
        make_vault(vault, args.notes, n_papers=0)
    results = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        for name, code in (("before", args.before.resolve()), ("after", args.after.resolve())):
            db = work / f"{name}.db"
            if not db.exists():
                env = {**os.environ, "KG_EMBEDDER": "fake", "PYTHONPATH": str(code)}
                cmd = [sys.executable, "-m", "kg.cli", "ingest", str(vault), "--db", str(db), "--json"]
                subprocess.run(cmd, cwd=code, env=env, check=True, capture_output=True)
            results[name] = measure(code, db, browser)
        browser.close()
    b, a = results["before"], results["after"]
    results["ratio_after_over_before"] = {
        k: round(a[k] / b[k], 3) for k in a if isinstance(a[k], int | float) and b.get(k) and k not in ("nodes",)
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
