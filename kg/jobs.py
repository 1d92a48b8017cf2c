"""Background runs for the web app: a small pool, and one run (or one web sweep) per claim at a time."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kg import bwrap, trust
from kg.runner import create_run, execute, get_run, normalise_claim_id, plan
from kg.store import Store
from kg.verify import build_grid, finish_sweep, get_sweep, start_sweep


class RunQueue:
    """Starts runs in the background. A second request for a claim joins the run already going.

    Only trusted experiments are queued: `submit` raises kg.trust.NotTrusted for any other, and
    kg.bwrap.SandboxUnavailable where no sandbox can start (unless the queue was made with unsafe_no_sandbox)."""

    def __init__(self, db_path: str, runs_dir: str | Path, workers: int = 2, **limits: Any) -> None:
        self.db_path = db_path
        self.runs_dir = Path(runs_dir)
        self.limits = limits
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kg-run")
        self.lock = threading.Lock()
        self.active: dict[str, str] = {}
        self.sweeps: dict[str, str] = {}
        self.left: dict[str, int] = {}

    def submit(self, claim_id: str, seed: int = 0) -> tuple[dict[str, Any], bool]:
        """Queue a run of the claim, or return the one already going. Returns (run, joined)."""
        claim_id = normalise_claim_id(claim_id)
        with self.lock, Store(self.db_path, create=False) as store:
            current = self.active.get(claim_id)
            if current:
                run = get_run(store, current)
                if run and run["status"] in ("queued", "running"):
                    return run, True
            p = plan(store, claim_id)
            trust.check(store, p.file)
            if not self.limits.get("unsafe_no_sandbox") and (why := bwrap.probe()):
                raise bwrap.SandboxUnavailable(f"{why}; start the server with --unsafe-no-sandbox to run unconfined")
            run_id = create_run(store, p, seed)
            self.active[claim_id] = run_id
            run = get_run(store, run_id) or {}
        self.pool.submit(self._work, claim_id, run_id, p, seed)
        return run, False

    def _work(self, claim_id: str, run_id: str, p: Any, seed: int) -> None:
        try:
            with Store(self.db_path, create=False) as store:
                execute(store, run_id, p, seed, self.runs_dir, **self.limits)
        finally:
            with self.lock:
                if self.active.get(claim_id) == run_id:
                    del self.active[claim_id]

    def submit_sweep(self, claim_id: str, grid: str = "web") -> tuple[dict[str, Any], bool]:
        """Queue the claim's web sweep (each run in the pool), or return the sweep already going.

        Returns (sweep row, joined). Progress is the sweep's runs: each is a run row that ends on its own.
        """
        claim_id = normalise_claim_id(claim_id)
        with self.lock, Store(self.db_path, create=False) as store:
            current = self.sweeps.get(claim_id)
            if current:
                sweep = get_sweep(store, current)
                if sweep and sweep["status"] == "running":
                    return sweep, True
            p = plan(store, claim_id)
            trust.check(store, p.file)
            if not self.limits.get("unsafe_no_sandbox") and (why := bwrap.probe()):
                raise bwrap.SandboxUnavailable(f"{why}; start the server with --unsafe-no-sandbox to run unconfined")
            g = build_grid(p, grid)
            sweep_id, run_ids = start_sweep(store, g, "local")
            self.sweeps[claim_id] = sweep_id
            self.active[claim_id] = run_ids[0]
            self.left[sweep_id] = len(run_ids)
            sweep = get_sweep(store, sweep_id) or {}
        for (_params, seed), run_id in zip(g.points, run_ids, strict=True):
            self.pool.submit(self._sweep_work, claim_id, sweep_id, run_id, p, seed)
        return sweep, False

    def _sweep_work(self, claim_id: str, sweep_id: str, run_id: str, p: Any, seed: int) -> None:
        try:
            with Store(self.db_path, create=False) as store:
                execute(store, run_id, p, seed, self.runs_dir, **self.limits)
        finally:
            with self.lock:
                self.left[sweep_id] -= 1
                last = self.left[sweep_id] == 0
            if last:
                with Store(self.db_path, create=False) as store:
                    finish_sweep(store, sweep_id, self.runs_dir)
                with self.lock:
                    del self.left[sweep_id]
                    if self.sweeps.get(claim_id) == sweep_id:
                        del self.sweeps[claim_id]
                        self.active.pop(claim_id, None)

    def active_sweep(self, claim_id: str) -> str | None:
        with self.lock:
            return self.sweeps.get(normalise_claim_id(claim_id))

    def active_run(self, claim_id: str) -> str | None:
        with self.lock:
            return self.active.get(normalise_claim_id(claim_id))

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
