"""Every starter claim on several seeds: `python -m bench.seeds [--seeds 0 1 2] [--out FILE]`.

Ingests data/ into a temporary store, runs `kg verify --all --seed S --json` for each seed, and prints a table of
verdicts and seconds. Exits 1 if any claim is not verified on some seed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KG = [sys.executable, "-m", "kg.cli"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "seeds.json")
    args = ap.parse_args(argv)
    env = {**os.environ, "KG_EMBEDDER": "fake"}
    table: dict[str, dict[int, tuple[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "kg.db"
        subprocess.run([*KG, "ingest", str(ROOT / "data"), "--db", str(db)], check=True, env=env, capture_output=True)
        for seed in args.seeds:
            proc = subprocess.run(
                [*KG, "verify", "--all", "--seed", str(seed), "--jobs", str(args.jobs), "--db", str(db), "--json",
                 "--runs-dir", str(Path(tmp) / "runs")],
                capture_output=True, text=True, env=env,
            )  # fmt: skip
            for r in json.loads(proc.stdout):
                table.setdefault(r["claim"], {})[seed] = (r["verdict"], r["seconds"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({c: {str(s): v for s, v in row.items()} for c, row in table.items()}, indent=1))
    header = "| claim | " + " | ".join(f"seed {s}" for s in args.seeds) + " |"
    print(header)
    print("|" + "---|" * (len(args.seeds) + 1))
    ok = True
    for claim, row in sorted(table.items()):
        cells = []
        for s in args.seeds:
            verdict, secs = row.get(s, ("missing", 0.0))
            ok &= verdict == "verified"
            cells.append(f"{verdict} {secs:.1f}s")
        print(f"| {claim[6:]} | " + " | ".join(cells) + " |")
    print(f"\n{'all verified' if ok else 'NOT all verified'} on seeds {args.seeds}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
