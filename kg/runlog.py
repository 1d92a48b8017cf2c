"""Reading and pruning the run log: each claim's latest verdict and a page of its runs without reading the rest,
and `kg runs prune`, which keeps the recent runs of every claim and every run that is a claim's latest verdict."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from kg.store import Store

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
    ids: list[str] = []
    for i in range(0, len(claim_ids), 500):
        rows = store.conn.execute(
            "SELECT (SELECT id FROM runs r WHERE r.claim = c.value AND r.status = 'done' "
            "ORDER BY r.created_at DESC LIMIT 1) FROM json_each(?) c",
            [json.dumps(claim_ids[i : i + 500])],
        )
        ids += [r[0] for r in rows if r[0]]
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        found = store.db.query(f"SELECT * FROM runs WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        out.update({r["claim"]: _decode(r) for r in found})
    return out


def claim_runs(store: Store, claim_id: str, page: int = 1, per_page: int = KEEP) -> dict[str, Any]:
    """One page of a claim's runs, newest first: {runs, page, per_page, total}."""
    total = store.conn.execute("SELECT count(*) FROM runs WHERE claim = ?", (claim_id,)).fetchone()[0]
    rows = store.db.query(
        "SELECT * FROM runs WHERE claim = ? ORDER BY created_at DESC LIMIT ? OFFSET ?",
        [claim_id, per_page, (max(1, page) - 1) * per_page],
    )
    return {"runs": [_decode(r) for r in rows], "page": page, "per_page": per_page, "total": total}


def prunable(store: Store, keep: int = KEEP) -> list[str]:
    """Finished runs beyond the newest `keep` of their claim that are not a claim's latest verdict."""
    rows = store.conn.execute(
        """
        WITH ranked AS (
            SELECT id, claim, status,
                row_number() OVER (PARTITION BY claim ORDER BY created_at DESC) AS rank,
                row_number() OVER (PARTITION BY claim, status ORDER BY created_at DESC) AS done_rank
            FROM runs
        )
        SELECT id FROM ranked WHERE status = 'done' AND rank > ? AND done_rank > 1 ORDER BY id
        """,
        (keep,),
    )
    return [r[0] for r in rows]


def prune(store: Store, runs_dir: str | Path | None = None, keep: int = KEEP, dry_run: bool = False) -> dict[str, Any]:
    """Remove old runs and their folders. Returns {removed, kept, folders}."""
    ids = prunable(store, keep)
    folder = Path(runs_dir) if runs_dir else Path(store.path).resolve().parent / "runs"
    folders = 0
    if not dry_run:
        with store.transaction() as conn:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                conn.execute(f"DELETE FROM runs WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        for run_id in ids:
            target = folder / run_id
            if RUN_ID.match(run_id) and target.is_dir() and not target.is_symlink():
                shutil.rmtree(target, ignore_errors=True)
                folders += 1
    kept = store.conn.execute("SELECT count(*) FROM runs").fetchone()[0] - (len(ids) if dry_run else 0)
    return {"removed": len(ids), "kept": kept, "folders": folders, "dry_run": dry_run}
