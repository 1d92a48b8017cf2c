"""`kg verify`: run many claims in parallel, each in its own subprocess, with a progress bar."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tqdm import tqdm

from kg.runner import RunError, create_run, execute, normalise_claim_id, plan, recover_interrupted
from kg.store import Store


def runnable_claims(store: Store) -> list[str]:
    return [
        r[0]
        for r in store.conn.execute(
            "SELECT id FROM nodes WHERE kind = 'claim' AND CASE WHEN json_valid(meta) "
            "THEN json_extract(meta, '$.experiment') IS NOT NULL ELSE instr(meta, '\"experiment\"') END ORDER BY id"
        )
    ]


def verify_claims(
    store: Store,
    claims: list[str],
    run_all: bool,
    *,
    jobs: int = 2,
    seed: int = 0,
    runs_dir: str | None = None,
    progress: bool | None = None,
) -> list[dict[str, Any]]:
    """Run the claims; returns [{claim, experiment, strand, verdict, metrics, seconds, run, error}] in claim order."""
    recover_interrupted(store)
    ids = runnable_claims(store) if run_all else [normalise_claim_id(c) for c in claims]
    folder = Path(runs_dir) if runs_dir else Path(store.path).resolve().parent / "runs"
    plans = []
    for cid in ids:
        try:
            plans.append(plan(store, cid))
        except RunError as exc:
            raise ValueError(str(exc)) from None
    created = [(p, create_run(store, p, seed)) for p in plans]

    def work(p: Any, run_id: str) -> dict[str, Any]:
        with Store(store.path, create=False) as own:
            return execute(own, run_id, p, seed, folder)

    show = sys.stderr.isatty() if progress is None else progress
    results: dict[str, dict[str, Any]] = {}
    with (
        ThreadPoolExecutor(max_workers=jobs) as pool,
        tqdm(total=len(created), desc="verifying", unit="claim", disable=not show) as bar,
    ):
        futures = {pool.submit(work, p, rid): p for p, rid in created}
        for fut in as_completed(futures):
            p = futures[fut]
            run = fut.result()
            results[p.claim] = {
                "claim": p.claim,
                "experiment": p.experiment,
                "strand": p.strand,
                "verdict": run["verdict"],
                "metrics": run["metrics"],
                "seconds": run["seconds"],
                "run": run["id"],
                "error": run["error"],
            }
            bar.set_postfix_str(f"{p.claim[6:]}: {run['verdict']}")
            bar.update()
    return [results[p.claim] for p, _ in created]
