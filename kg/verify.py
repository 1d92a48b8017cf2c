"""`kg verify`: run each claim over its grid (seeds × swept params), record a sweep, and decide its verdict.

The grid comes from the claim's declaration (`seeds`, `sweep`, `require`), or its smaller `web_sweep` for the
web's Rerun; `--seeds` and `--set key=value` override it. Runs go to an executor (threads here, or Dask);
only this process writes to the store: run rows as records come back, then one sweep row per claim.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from kg.distribution import grid_points, summarise
from kg.executors import Executor, make_executor
from kg.runner import (
    Plan,
    RunError,
    RunRecord,
    create_run,
    get_run,
    mark_runs_dir,
    normalise_claim_id,
    now,
    plan,
    record_run,
    recover_interrupted,
    refusal,
    refused_record,
    spec_for,
)
from kg.store import Store
from kg.store import runs as stored

GRIDS = ("declared", "web", "mechanism_off")
HISTORY_FIELDS = ("id", "kind", "status", "verdict", "passed", "total", "executor", "created_at", "seconds")


def runnable_claims(store: Store) -> list[str]:
    return stored.runnable_claim_ids(store)


@dataclass
class Grid:
    """The runs one sweep of a claim makes: base params, swept values and seeds."""

    plan: Plan
    kind: str
    params: dict[str, Any]
    sweep: dict[str, list[Any]]
    seeds: list[int]
    points: list[tuple[dict[str, Any], int]] = field(default_factory=list)


def build_grid(
    p: Plan,
    kind: str = "declared",
    *,
    seeds: int | None = None,
    first_seed: int = 0,
    overrides: dict[str, Any] | None = None,
) -> Grid:
    """The claim's grid of a kind: declared, web (the Rerun button's smaller grid) or mechanism_off (no sweep).

    An override with a list value sweeps that param; a scalar fixes it (and drops it from the sweep).
    """
    if kind not in GRIDS:
        raise ValueError(f"unknown grid '{kind}'; choose one of {', '.join(GRIDS)}")
    params, sweep, n = dict(p.params), dict(p.sweep), p.seeds
    if kind == "web" and p.web_sweep:
        sweep, n = dict(p.web_sweep.get("sweep") or {}), int(p.web_sweep.get("seeds") or 1)
    if kind == "mechanism_off":
        if not p.mechanism_off:
            raise ValueError(f"claim '{p.claim}' declares no mechanism_off variant")
        # the mechanism-removed variant runs at the claim's own point: it must fail on every seed there
        params.update(p.mechanism_off)
        sweep = {}
    for key, value in (overrides or {}).items():
        if isinstance(value, list):
            sweep[key] = value
        else:
            params[key] = value
            sweep.pop(key, None)
    seed_list = list(range(first_seed, first_seed + (seeds or n)))
    points = [({**params, **point}, s) for point in grid_points(sweep) for s in seed_list]
    return Grid(p, kind, params, sweep, seed_list, points)


def start_sweep(store: Store, g: Grid, executor: str) -> tuple[str, list[str]]:
    """Record a sweep and its queued runs; returns (sweep id, run ids in grid order)."""
    sweep_id = uuid.uuid4().hex[:16]
    row = {"id": sweep_id, "claim": g.plan.claim, "kind": g.kind, "status": "running", "grid": json.dumps(g.sweep),
           "params": json.dumps(g.params), "seeds": json.dumps(g.seeds), "require": g.plan.require,
           "total": len(g.points), "executor": executor, "pid": os.getpid(), "created_at": now()}  # fmt: skip
    with store.transaction() as conn:
        stored.insert_sweep(conn, row)
    run_ids = [create_run(store, g.plan, seed, params=params, sweep=sweep_id) for params, seed in g.points]
    return sweep_id, run_ids


def finish_sweep(store: Store, sweep_id: str, runs_dir: Path | None = None) -> dict[str, Any]:
    """Aggregate a sweep's finished runs into its verdict, draw its plot, and close the sweep row."""
    from kg.sweepplot import plot_sweep

    row = get_sweep(store, sweep_id)
    if row is None:
        raise RunError(f"no sweep '{sweep_id}'")
    runs = sweep_runs(store, sweep_id)
    prediction = runs[0]["prediction"] if runs else []
    summary = summarise(runs, prediction, require=row["require"], seeds=row["seeds"], sweep=row["grid"])
    artefacts: list[str] = []
    if runs_dir is not None and runs:
        artefacts = plot_sweep(summary, runs, Path(runs_dir) / "sweeps" / sweep_id, title=row["claim"][6:])
    seconds = (time.time() - _epoch(row["created_at"])) if row["created_at"] else None
    fields = {"status": "done", "verdict": summary["verdict"], "passed": summary["passed"], "total": summary["total"],
              "summary": json.dumps(summary), "artefacts": json.dumps(artefacts), "ended_at": now(),
              "seconds": round(seconds, 3) if seconds is not None else None}  # fmt: skip
    with store.transaction() as conn:
        stored.update_sweep(conn, sweep_id, fields)
    return get_sweep(store, sweep_id) or {}


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def get_sweep(store: Store, sweep_id: str) -> dict[str, Any] | None:
    row = stored.sweep_row(store, sweep_id)
    return _decode(row) if row else None


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("grid", "params", "seeds", "summary", "artefacts"):
        row[key] = json.loads(row[key])
    return row


def claim_sweeps(store: Store, claim_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """A claim's sweeps, newest first."""
    return [_decode(r) for r in stored.claim_sweep_rows(store, claim_id, limit)]


def claim_distribution(store: Store, claim: dict[str, Any]) -> dict[str, Any]:
    """What a claim page shows of its distribution: the declaration, the latest finished sweep (pass rate,
    interval, per item the predicted band beside the measured median and range, its plot files) and the history."""
    m = claim["meta"]
    history = claim_sweeps(store, claim["id"])
    done = [h for h in history if h["status"] == "done" and h["kind"] == "declared"] or [
        h for h in history if h["status"] == "done"
    ]
    latest = None
    if done:
        h, summary = done[0], done[0]["summary"]
        latest = {
            "sweep": h["id"],
            "kind": h["kind"],
            "created_at": h["created_at"],
            **{k: summary.get(k) for k in ("verdict", "headline", "passed", "total", "rate", "interval", "grid")},
            "items": [
                {k: it.get(k) for k in ("metric", "op", "value", "tolerance", "band", "passed", "total", "measured")}
                for it in summary.get("items", [])
            ],
            "points": summary.get("points", []),
            "plots": h["artefacts"],
        }
    return {
        "declared": {
            "seeds": m.get("seeds", 1),
            "require": m.get("require", 1.0),
            "sweep": m.get("sweep", {}),
            "web_sweep": m.get("web_sweep", {}),
            "mechanism_off": m.get("mechanism_off", {}),
        },
        "latest": latest,
        "history": [
            {k: h[k] for k in HISTORY_FIELDS} | {"headline": h["summary"].get("headline", "")} for h in history
        ],
    }


def sweep_progress(store: Store, sweep_id: str) -> dict[str, Any] | None:
    """A sweep as the Rerun button follows it: each run's status as it goes, the verdict once done."""
    sweep = get_sweep(store, sweep_id)
    if sweep is None:
        return None
    runs = [{**r, "params": json.loads(r["params"])} for r in stored.sweep_run_states(store, sweep_id)]
    return {
        "id": sweep_id,
        "claim": sweep["claim"],
        "status": sweep["status"],
        "verdict": sweep["verdict"],
        "headline": sweep["summary"].get("headline", ""),
        "done": sum(r["status"] == "done" for r in runs),
        "total": len(runs),
        "runs": runs,
        "plots": sweep["artefacts"],
    }


def sweep_runs(store: Store, sweep_id: str) -> list[dict[str, Any]]:
    """The finished runs of a sweep, in the order they were created."""
    runs = [get_run(store, i) for i in stored.sweep_run_ids(store, sweep_id)]
    return [r for r in runs if r and r["status"] == "done"]


def recover_sweeps(store: Store, runs_dir: Path | None = None) -> int:
    """Close sweeps whose runs have all ended (their process stopped before it could). Returns how many."""
    stale = stored.stale_sweep_ids(store)
    for sweep_id in stale:
        finish_sweep(store, sweep_id, runs_dir)
    return len(stale)


OnRun = Callable[[str, dict[str, Any]], None]


def run_grids(
    store: Store, grids: list[Grid], ex: Executor, folder: Path, on_run: OnRun | None = None
) -> list[dict[str, Any]]:
    """Run the grids' points on one executor; write each record as it arrives, and close each sweep (verdict,
    summary, plot) as soon as its last run is in. Returns the closed sweeps in grid order."""
    started = [(g, *start_sweep(store, g, ex.name)) for g in grids]
    jobs = []  # (sweep id, run id, spec)
    left: dict[str, int] = {}
    refused: list[tuple[str, str, RunRecord]] = []  # runs the parent refuses to start (untrusted, non-finite)
    for g, sweep_id, run_ids in started:
        left[sweep_id] = len(run_ids)
        why = refusal(store, g.plan)
        for (params, seed), run_id in zip(g.points, run_ids, strict=True):
            outdir = folder / run_id if ex.name == "local" else None
            spec = spec_for(g.plan, seed, params, outdir=outdir, run_id=run_id)
            if why:
                refused.append((sweep_id, run_id, refused_record(spec, why)))
            else:
                jobs.append((sweep_id, run_id, spec))
    if jobs or refused:
        mark_runs_dir(folder)
    closed = {sweep_id: finish_sweep(store, sweep_id, folder) for sweep_id, n in left.items() if n == 0}

    def land(sweep_id: str, run_id: str, rec: RunRecord) -> None:
        """Write one run's record; close its sweep when it is the sweep's last."""
        row = record_run(store, run_id, rec, folder)
        if on_run:
            on_run(sweep_id, row)
        left[sweep_id] -= 1
        if left[sweep_id] == 0:
            closed[sweep_id] = finish_sweep(store, sweep_id, folder)

    for sweep_id, run_id, rec in refused:
        land(sweep_id, run_id, rec)
    for i, rec in ex.run([spec for _, _, spec in jobs]):
        land(jobs[i][0], jobs[i][1], rec)
    return [closed[sweep_id] for _g, sweep_id, _ids in started]


def verify_claims(
    store: Store,
    claims: list[str],
    run_all: bool,
    *,
    jobs: int = 2,
    seed: int = 0,
    seeds: int | None = None,
    overrides: dict[str, Any] | None = None,
    grid: str = "declared",
    executor: str = "local",
    scheduler: str | None = None,
    runs_dir: str | None = None,
    progress: bool | None = None,
) -> list[dict[str, Any]]:
    """Run the claims over their grids; returns one result per claim, in claim order (see `result`)."""
    recover_interrupted(store)
    folder = Path(runs_dir) if runs_dir else Path(store.path).resolve().parent / "runs"
    recover_sweeps(store, folder)
    ids = runnable_claims(store) if run_all else [normalise_claim_id(c) for c in claims]
    try:
        plans = [plan(store, cid) for cid in ids]
    except RunError as exc:
        raise ValueError(str(exc)) from None
    grids = [build_grid(p, grid, seeds=seeds, first_seed=seed, overrides=overrides) for p in plans]
    show = sys.stderr.isatty() if progress is None else progress
    ex = make_executor(executor, jobs=jobs, scheduler=scheduler)
    total = sum(len(g.points) for g in grids)
    try:
        with tqdm(total=total, desc="verifying", unit="run", disable=not show) as bar:

            def tick(_sweep: str, run: dict[str, Any]) -> None:
                bar.set_postfix_str(f"{run['claim'][6:]} seed {run['seed']}: {run['verdict']}")
                bar.update()

            sweeps = run_grids(store, grids, ex, folder, tick)
    finally:
        ex.close()
    return [result(store, g.plan, s) for g, s in zip(grids, sweeps, strict=True)]


def result(store: Store, p: Plan, sweep: dict[str, Any]) -> dict[str, Any]:
    """What `kg verify --json` prints for one claim: the sweep's verdict, its summary and its runs."""
    summary = sweep["summary"]
    runs = sweep_runs(store, sweep["id"])
    return {
        "claim": p.claim,
        "experiment": p.experiment,
        "strand": p.strand,
        "verdict": sweep["verdict"],
        "headline": summary["headline"],
        "passed": summary["passed"],
        "total": summary["total"],
        "interval": summary["interval"],
        "grid": summary["grid"],
        "sweep": sweep["id"],
        "seconds": max((r["seconds"] or 0.0 for r in runs), default=0.0),
        "wall_seconds": sweep["seconds"],
        "metrics": summary["metrics"],
        "items": summary["items"],
        "runs": [{k: r[k] for k in ("id", "seed", "params", "verdict", "seconds", "metrics", "error")} for r in runs],
        "error": "; ".join(summary["problems"]),
    }
