"""Every starter claim over its whole declared grid, its controls, and its web sweep: `python -m bench.seeds`.

Ingests data/ into a temporary store, then for every claim:
1. runs the declared grid (`kg verify --all`, each claim's own `seeds` and `sweep`, or `--seeds N`);
2. checks every flipped prediction item and the claim's control prediction against every run: each must be refuted;
3. runs the mechanism-removed variant (`--grid mechanism_off`) on as many seeds: every run must be refuted;
4. times the web sweep (`--grid web`) of each claim on its own, wall clock, with `--jobs` workers.

`--claims ID ...` limits steps 1-4 to those claims; `--web-only` skips steps 1-3 and only times the web sweeps
(of every claim, or of `--claims`), printing the machine's load average before and after each one.

Prints a Markdown table and writes bench/out/seeds.json. Exits 1 if any claim misses its declared pass rate or any
control is verified on some run. Run it under `nice` on a shared machine; it takes tens of minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def flipped_refuted(claim: dict[str, Any], runs: list[dict[str, Any]]) -> tuple[int, int]:
    """How many (run, item) flips come out refuted, of how many."""
    from kg.verdict import flipped, verdict

    prediction = claim["meta"]["prediction"]
    good = total = 0
    for r in runs:
        for i in range(len(prediction)):
            flip = [*prediction[:i], flipped(prediction[i]), *prediction[i + 1 :]]
            good += verdict(flip, r["metrics"])[0] == "refuted"
            total += 1
    return good, total


def control_refuted(claim: dict[str, Any], runs: list[dict[str, Any]]) -> tuple[int, int]:
    from kg.verdict import verdict

    control = claim["meta"].get("control") or []
    if not control:
        return 0, 0
    return sum(verdict(control, r["metrics"])[0] == "refuted" for r in runs), len(runs)


def campaign(
    db: Path, runs_dir: Path, seeds: int | None, jobs: int, executor: str, web: bool, only: list[str]
) -> dict[str, Any]:
    from kg.store import Store
    from kg.verify import verify_claims

    out: dict[str, Any] = {}
    with Store(db, create=False) as s:
        claims = {c["id"]: c for c in s.nodes_of_kind("claim") if c["meta"].get("experiment")}
        t = time.monotonic()
        declared = verify_claims(s, only, not only, jobs=jobs, seeds=seeds, executor=executor,
                                 runs_dir=str(runs_dir))  # fmt: skip
        out["declared_seconds"] = time.monotonic() - t
        t = time.monotonic()
        off = verify_claims(s, only, not only, jobs=jobs, seeds=seeds, grid="mechanism_off", executor=executor,
                            runs_dir=str(runs_dir))  # fmt: skip
        out["mechanism_off_seconds"] = time.monotonic() - t
        rows = {}
        for d, m in zip(declared, off, strict=True):
            c = claims[d["claim"]]
            rows[d["claim"]] = {
                "verdict": d["verdict"],
                "headline": d["headline"],
                "passed": d["passed"],
                "total": d["total"],
                "interval": d["interval"],
                "require": c["meta"].get("require", 1.0),
                "seconds_median": _median([r["seconds"] for r in d["runs"]]),
                "seconds_max": d["seconds"],
                "flipped_refuted": flipped_refuted(c, d["runs"]),
                "control_refuted": control_refuted(c, d["runs"]),
                "mechanism_off": {"verdict": m["verdict"], "passed": m["passed"], "total": m["total"]},
                "failures": sorted({r["error"] for r in d["runs"] if r["verdict"] != "verified"})[:5],
            }
        if web:
            for cid, timing in web_sweeps(s, list(rows), jobs, executor, runs_dir).items():
                rows[cid]["web"] = timing
        out["claims"] = rows
    return out


def web_sweeps(store: Any, ids: list[str], jobs: int, executor: str, runs_dir: Path) -> dict[str, dict[str, Any]]:
    """Each claim's web sweep on its own, wall clock, with the 1-minute load average before and after it."""
    from kg.verify import verify_claims

    out = {}
    for cid in ids:
        load = os.getloadavg()[0]
        t = time.monotonic()
        (w,) = verify_claims(store, [cid], False, jobs=jobs, grid="web", executor=executor, runs_dir=str(runs_dir))
        out[cid] = {"seconds": round(time.monotonic() - t, 1), "verdict": w["verdict"], "runs": w["total"],
                    "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2)}  # fmt: skip
        print(f"{cid}: {out[cid]}", file=sys.stderr, flush=True)
    return out


def web_only(db: Path, runs_dir: Path, jobs: int, executor: str, only: list[str]) -> dict[str, Any]:
    from kg.store import Store
    from kg.verify import runnable_claims

    with Store(db, create=False) as s:
        ids = [c if c.startswith("claim:") else f"claim:{c}" for c in only] or runnable_claims(s)
        return {"web": web_sweeps(s, ids, jobs, executor, runs_dir)}


def report_web(out: dict[str, Any]) -> bool:
    print("| claim | web sweep runs | verdict | seconds | load before, after |")
    print("|---|---|---|---|---|")
    for cid, w in sorted(out["web"].items()):
        print(f"| {cid[6:]} | {w['runs']} | {w['verdict']} | {w['seconds']:.1f} "
              f"| {w['load_before']:.1f}, {w['load_after']:.1f} |")  # fmt: skip
    worst = max(w["seconds"] for w in out["web"].values())
    print(f"\nslowest web sweep {worst:.1f} s (acceptance: each <= 60 s)")
    return worst <= 60 and all(w["verdict"] == "verified" for w in out["web"].values())


def _median(xs: list[float]) -> float:
    xs = sorted(x for x in xs if x is not None)
    return xs[len(xs) // 2] if xs else 0.0


def report(out: dict[str, Any]) -> bool:
    print("| claim | verdict | passed | Wilson 95% | s/run (median, max) | flipped refuted | control refuted "
          "| mechanism off | web sweep |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    ok = True
    for cid, r in sorted(out["claims"].items()):
        f_ok, f_n = r["flipped_refuted"]
        c_ok, c_n = r["control_refuted"]
        m = r["mechanism_off"]
        ok &= r["verdict"] == "verified" and f_ok == f_n and c_ok == c_n and m["passed"] == 0
        web = f"{r['web']['seconds']:.0f} s ({r['web']['runs']} runs, {r['web']['verdict']})" if "web" in r else ""
        lo, hi = r["interval"]
        print(f"| {cid[6:]} | {r['headline']} | {r['passed']}/{r['total']} | [{lo:.2f}, {hi:.2f}] "
              f"| {r['seconds_median']:.1f}, {r['seconds_max']:.1f} | {f_ok}/{f_n} | {c_ok}/{c_n} "
              f"| {m['verdict']} ({m['total'] - m['passed']}/{m['total']} refuted) | {web} |")  # fmt: skip
    print(f"\ndeclared grids {out['declared_seconds']:.0f} s, mechanism-off grids {out['mechanism_off_seconds']:.0f} s")
    print("all verified, every control refuted" if ok else "NOT all verified / some control not refuted")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, help="Seeds per grid point (default: each claim's declared seeds).")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--executor", choices=["local", "dask"], default="local")
    ap.add_argument("--no-web", action="store_true", help="Skip timing the web sweeps.")
    ap.add_argument("--web-only", action="store_true", help="Only time the web sweeps (no campaign).")
    ap.add_argument("--claims", nargs="*", default=[], help="Only these claims (ids with or without `claim:`).")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "seeds.json")
    ap.add_argument("--workdir", type=Path, help="Keep the store and run folders here (default: a temporary one).")
    args = ap.parse_args(argv)
    os.environ.setdefault("KG_EMBEDDER", "fake")
    from kg.embeddings import FakeEmbedder
    from kg.store import Store
    from kg.writer import ingest

    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        db = work / "kg.db"
        with Store(db) as s:
            assert ingest(s, [str(ROOT / "data")], FakeEmbedder(), progress=False).errors == []
        if args.web_only:
            out = web_only(db, work / "runs", args.jobs, args.executor, args.claims)
        else:
            out = campaign(db, work / "runs", args.seeds, args.jobs, args.executor, not args.no_web, args.claims)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    return 0 if (report_web(out) if args.web_only else report(out)) else 1


if __name__ == "__main__":
    sys.exit(main())
