"""Time to first page on a new vault: `python -m bench.first_page VAULT [--port 5077]`.

Starts `kg serve --watch VAULT` on an empty store, as a new user would, and polls from the moment the process
is spawned: when the server first answers, when a note page of the vault first answers 200, when that page
first lists related items, and when the ingest reports it has finished. The stages the server reports
(`/api/status`) are timed as they appear. Results go to bench/out/first_page.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


def probe_note(vault: Path) -> str:
    """A note whose id is its file name: the first Markdown file, in path order, with a name no other shares."""
    files = sorted(p for p in vault.rglob("*.md") if not any(part.startswith(".") for part in p.parts))
    names = [p.stem.casefold() for p in files]
    for p in files:
        if names.count(p.stem.casefold()) == 1:
            return p.stem
    raise SystemExit(f"{vault}: no Markdown note with a unique name")


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, ""
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, ""


def measure(vault: Path, port: int, limit: float) -> dict[str, Any]:
    note = probe_note(vault)
    base = f"http://127.0.0.1:{port}"
    page = f"{base}/node/{urllib.parse.quote(note)}"
    marks: dict[str, float] = {}
    stages: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "kg.db")
        cmd = [sys.executable, "-m", "kg.cli", "serve", "--db", db, "--port", str(port), "--watch", str(vault)]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while time.perf_counter() - t0 < limit and proc.poll() is None:
                now = time.perf_counter() - t0
                code, body = get(base + "/api/status")
                if code == 200:
                    marks.setdefault("server_up", now)
                    state = json.loads(body).get("ingest")
                    if state:
                        stages.setdefault(state["stage"], now)
                    elif "note_page" in marks and "embedding" in stages:
                        marks["ingest_done"] = now
                if code == 200 and "note_page" not in marks and get(page)[0] == 200:
                    marks["note_page"] = time.perf_counter() - t0
                if "note_page" in marks and "related_filled" not in marks:
                    code, body = get(f"{base}/api/related/{urllib.parse.quote(note)}")
                    if code == 200 and json.loads(body):
                        marks["related_filled"] = time.perf_counter() - t0
                if "ingest_done" in marks and "related_filled" in marks:
                    break
                time.sleep(0.1)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    notes = sum(1 for _ in vault.rglob("*.md"))
    return {"vault": vault.name, "notes": notes, "probe": note, "seconds": marks, "stages_seen_at": stages}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("vault", type=Path)
    ap.add_argument("--port", type=int, default=5077)
    ap.add_argument("--limit", type=float, default=1800.0, help="give up after this many seconds")
    args = ap.parse_args(argv)
    res = measure(args.vault.resolve(), args.port, args.limit)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "first_page.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))
    return 0 if "note_page" in res["seconds"] else 1


if __name__ == "__main__":
    sys.exit(main())
