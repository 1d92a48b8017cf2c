"""Reading and pruning the run log: each claim's latest verdict and a page of its runs without reading the rest,
and `kg runs prune`, which keeps the recent runs of every claim and every run that is a claim's latest verdict."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from kg.store import Store
from kg.store import runs as stored

JSON_COLUMNS = ("params", "metrics", "checks", "environment", "artefacts", "prediction")
RUN_ID = re.compile(r"^[0-9a-f]{16}$")
KEEP = 20


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for k in JSON_COLUMNS:
        if isinstance(row.get(k), str):
            try:
                row[k] = json.loads(row[k])
            except ValueError:
                row[k] = None
    return row


def latest_runs(store: Store, claim_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The most recent finished run of each claim, found through the (claim, status, created_at) index."""
    ids = stored.latest_done_ids(store, claim_ids)
    return {r["claim"]: _decode(r) for r in stored.runs_by_id(store, ids)}


def claim_runs(store: Store, claim_id: str, page: int = 1, per_page: int = KEEP) -> dict[str, Any]:
    """One page of a claim's runs, newest first: {runs, page, per_page, total}."""
    total = stored.count_runs(store, claim_id)
    rows = stored.claim_run_rows(store, claim_id, per_page, (max(1, page) - 1) * per_page)
    return {"runs": [_decode(r) for r in rows], "page": page, "per_page": per_page, "total": total}


def prunable(store: Store, keep: int = KEEP) -> list[str]:
    """Finished runs beyond the newest `keep` of their claim that are not a claim's latest verdict."""
    return stored.prunable_ids(store, keep)


def prune(store: Store, runs_dir: str | Path | None = None, keep: int = KEEP, dry_run: bool = False) -> dict[str, Any]:
    """Remove old runs and their folders. Returns {removed, kept, folders}."""
    ids = prunable(store, keep)
    folder = Path(runs_dir) if runs_dir else Path(store.path).resolve().parent / "runs"
    folders = 0
    if not dry_run:
        with store.transaction() as conn:
            stored.delete_runs(conn, ids)
        for run_id in ids:
            target = folder / run_id
            if RUN_ID.match(run_id) and target.is_dir() and not target.is_symlink():
                shutil.rmtree(target, ignore_errors=True)
                folders += 1
    kept = stored.count_runs(store) - (len(ids) if dry_run else 0)
    return {"removed": len(ids), "kept": kept, "folders": folders, "dry_run": dry_run}
