"""Crash safety: `python -m bench.crash [--kills 20] [--notes 1500]`.

1. SIGKILL `kg ingest` at random moments, `--kills` times. After each kill the store must pass
   `PRAGMA integrity_check` and hold either nothing or a complete graph; after a re-run it must equal a clean run.
2. SIGKILL `kg serve` while an experiment runs. At restart the run must not be left "running", and the
   experiment's process must be gone.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.server import free_port, start_server

ROOT = Path(__file__).resolve().parent.parent
KG = [sys.executable, "-m", "kg.cli"]
ENV = {**os.environ, "KG_EMBEDDER": "fake"}


def dump(db: Path) -> dict:
    from bench.storedump import dump as _dump
    from kg.store import Store
    from kg.store.snapshot import integrity_ok

    with Store(db) as s:
        return {"ok": integrity_ok(s), **_dump(s)}


def kill_ingest(kills: int, notes: int, tmp: Path, seed: int) -> dict:
    from bench.vault import make_vault

    src = tmp / "corpus"
    shutil.copytree(ROOT / "data", src / "data", ignore=shutil.ignore_patterns("kg.db*", "runs"))
    make_vault(src / "synthetic", notes)
    clean = tmp / "clean.db"
    t0 = time.monotonic()
    subprocess.run([*KG, "ingest", str(src), "--db", str(clean)], env=ENV, capture_output=True, check=False)
    clean_s = time.monotonic() - t0
    expected = dump(clean)
    rng = random.Random(seed)
    outcomes = []
    for i in range(kills):
        db = tmp / f"k{i}.db"
        span = clean_s
        if i % 2:  # half the kills interrupt an update of an existing store, not a first ingest
            shutil.copy(clean, db)
            for note in sorted((src / "synthetic" / "notes").rglob("*.md"))[i::7]:  # a broad edit: a full update
                note.write_text(note.read_text() + f"\nEdit {i}.\n")
            t0 = time.monotonic()
            subprocess.run([*KG, "ingest", str(src), "--db", str(clean)], env=ENV, capture_output=True)
            span = time.monotonic() - t0
            expected = dump(clean)
        at = rng.uniform(0.05, span * 0.95)
        proc = subprocess.Popen([*KG, "ingest", str(src), "--db", str(db)], env=ENV,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(at)
        mid_run = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        after_kill = dump(db) if db.exists() else {"ok": True, "nodes": []}
        consistent = after_kill["ok"]
        subprocess.run([*KG, "ingest", str(src), "--db", str(db)], env=ENV, capture_output=True)
        final = dump(db)
        same = final == expected
        outcomes.append(
            {"kill_at_s": round(at, 2), "mid_run": mid_run, "integrity_ok": consistent, "equal_to_clean": same}
        )
        print(f"kill {i + 1:2d} at {at:5.2f}s ({'mid-run' if mid_run else 'after it ended'}, "
              f"{'first ingest' if i % 2 == 0 else 'update'}): integrity {'ok' if consistent else 'FAILED'}, "
              f"after re-run {'identical' if same else 'DIFFERENT'}", flush=True)  # fmt: skip
    good = sum(o["integrity_ok"] and o["equal_to_clean"] for o in outcomes)
    return {
        "kills": kills,
        "clean_recoveries": good,
        "mid_run": sum(o["mid_run"] for o in outcomes),
        "clean_ingest_s": round(clean_s, 2),
        "outcomes": outcomes,
    }


def kill_server(tmp: Path) -> dict:
    vault = tmp / "runs_vault"
    shutil.copytree(ROOT / "tests" / "data" / "runs_vault", vault)
    text = (
        (vault / "claims.md")
        .read_text()
        .replace("experiment: slow\n    prediction", "experiment: slow\n    params: {seconds: 30}\n    prediction", 1)
    )
    (vault / "claims.md").write_text(text)
    db = tmp / "srv.db"
    subprocess.run([*KG, "ingest", str(vault), "--db", str(db)], env=ENV, check=True, capture_output=True)
    trust = [*KG, "trust", str(vault / "experiments"), "--db", str(db)]
    subprocess.run(trust, env=ENV, check=True, capture_output=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"  # the same port again after the restart

    def start() -> subprocess.Popen:
        return start_server(db, ENV, port=port)[0]

    server = start()
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(base + "/").read().decode()
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    headers = {"X-CSRF-Token": token, "Origin": base}
    req = urllib.request.Request(base + "/api/claims/claim:slow/rerun", method="POST", headers=headers)
    run_id = json.loads(opener.open(req).read())["id"]
    for _ in range(100):
        run = json.loads(opener.open(f"{base}/api/runs/{run_id}").read())
        if run["status"] == "running":
            break
        time.sleep(0.1)
    # The run's own experiment process: its command line holds the run id (other runs may be going on).
    children = subprocess.run(["pgrep", "-f", run_id], capture_output=True, text=True).stdout.split()
    server.send_signal(signal.SIGKILL)
    server.wait()
    time.sleep(0.5)
    orphans = [c for c in subprocess.run(["pgrep", "-f", run_id], capture_output=True, text=True).stdout.split()
               if c in children]  # fmt: skip
    server = start()
    run = json.loads(urllib.request.urlopen(f"{base}/api/runs/{run_id}").read())
    server.terminate()
    server.wait()
    return {"status_before_kill": "running", "experiment_processes_before_kill": len(children),
            "status_after_restart": run["status"], "verdict": run["verdict"],
            "error": run["error"], "experiment_processes_left": len(orphans)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--notes", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args(argv)
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    with tempfile.TemporaryDirectory() as tmp:
        res = {"seed": seed, "ingest": kill_ingest(a.kills, a.notes, Path(tmp), seed), "server": kill_server(Path(tmp))}
    out = ROOT / "bench" / "out" / "crash.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    i, s = res["ingest"], res["server"]
    print(f"\n{i['clean_recoveries']}/{i['kills']} clean recoveries, {i['mid_run']} kills mid-run (seed {seed})")
    print(f"server killed mid-run: after restart the run is {s['status_after_restart']} "
          f"({s['verdict']}: {s['error']}); "
          f"{s['experiment_processes_left']} experiment processes left")  # fmt: skip
    ok = (
        i["clean_recoveries"] == i["kills"]
        and s["status_after_restart"] == "done"
        and not s["experiment_processes_left"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
