"""Runs and sweeps: their rows, each claim's latest finished run, pages of a claim's runs, and pruning.

Rows come back as dicts with their JSON columns still as text; kg/runner.py, kg/runlog.py and kg/verify.py
decode them. Writes run on the caller's connection, inside the caller's transaction."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from kg.store import Store


def _marks(n: int) -> str:
    return ",".join("?" * n)


# -- runs ------------------------------------------------------------------------------------------------------


def insert_run(conn: sqlite3.Connection, row: dict[str, Any]) -> None:
    """Add a run row; `row` maps column names to values (JSON columns already as text)."""
    cols = ", ".join(row)
    conn.execute(f"INSERT INTO runs ({cols}) VALUES ({_marks(len(row))})", list(row.values()))


def insert_runs(conn: sqlite3.Connection, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Add many run rows at once, each a tuple of values for `columns`."""
    conn.executemany(f"INSERT INTO runs ({', '.join(columns)}) VALUES ({_marks(len(columns))})", rows)


def update_run(conn: sqlite3.Connection, run_id: str, fields: dict[str, Any]) -> None:
    """Set some columns of one run (values as stored: JSON columns already as text)."""
    cols = ", ".join(f"{k} = ?" for k in fields)
    conn.execute(f"UPDATE runs SET {cols} WHERE id = ?", [*fields.values(), run_id])


def run_row(store: Store, run_id: str) -> dict[str, Any] | None:
    rows = list(store.db.query("SELECT * FROM runs WHERE id = ?", [run_id]))
    return rows[0] if rows else None


def runs_by_id(store: Store, run_ids: list[str]) -> list[dict[str, Any]]:
    """The rows of these runs, in no set order."""
    out: list[dict[str, Any]] = []
    for i in range(0, len(run_ids), 500):
        chunk = run_ids[i : i + 500]
        out += store.db.query(f"SELECT * FROM runs WHERE id IN ({_marks(len(chunk))})", chunk)
    return out


def unfinished_runs(store: Store) -> list[tuple[str, int | None, str]]:
    """(id, owner pid, created_at) of every queued or running run."""
    return store.conn.execute("SELECT id, pid, created_at FROM runs WHERE status IN ('queued', 'running')").fetchall()


def latest_done_ids(store: Store, claim_ids: list[str]) -> list[str]:
    """The id of each claim's most recent finished run (claims without one are left out), found through the
    (claim, status, created_at) index without reading the other runs."""
    ids: list[str] = []
    for i in range(0, len(claim_ids), 500):
        rows = store.conn.execute(
            "SELECT (SELECT id FROM runs r WHERE r.claim = c.value AND r.status = 'done' "
            "ORDER BY r.created_at DESC LIMIT 1) FROM json_each(?) c",
            [json.dumps(claim_ids[i : i + 500])],
        )
        ids += [r[0] for r in rows if r[0]]
    return ids


def done_runs_of(store: Store, claim_ids: list[str]) -> list[dict[str, Any]]:
    """Every finished run of these claims, oldest first (the full read that `latest_done_ids` avoids)."""
    return list(
        store.db.query(
            f"SELECT * FROM runs WHERE claim IN ({_marks(len(claim_ids))}) AND status = 'done' ORDER BY created_at",
            claim_ids,
        )
    )


def count_runs(store: Store, claim_id: str | None = None) -> int:
    """How many runs there are, of one claim or of all."""
    if claim_id is None:
        return store.conn.execute("SELECT count(*) FROM runs").fetchone()[0]
    return store.conn.execute("SELECT count(*) FROM runs WHERE claim = ?", (claim_id,)).fetchone()[0]


def claim_run_rows(store: Store, claim_id: str, limit: int, offset: int) -> list[dict[str, Any]]:
    """A claim's runs, newest first, `limit` of them after skipping `offset`."""
    return list(
        store.db.query(
            "SELECT * FROM runs WHERE claim = ? ORDER BY created_at DESC LIMIT ? OFFSET ?", [claim_id, limit, offset]
        )
    )


def prunable_ids(store: Store, keep: int) -> list[str]:
    """Finished runs beyond the newest `keep` of their claim that are not a claim's latest finished run."""
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


def delete_runs(conn: sqlite3.Connection, run_ids: list[str]) -> None:
    for i in range(0, len(run_ids), 500):
        chunk = run_ids[i : i + 500]
        conn.execute(f"DELETE FROM runs WHERE id IN ({_marks(len(chunk))})", chunk)


def runnable_claim_ids(store: Store) -> list[str]:
    """Every claim that names an experiment, by id."""
    return [
        r[0]
        for r in store.conn.execute(
            "SELECT id FROM nodes WHERE kind = 'claim' AND CASE WHEN json_valid(meta) "
            "THEN json_extract(meta, '$.experiment') IS NOT NULL ELSE instr(meta, '\"experiment\"') END ORDER BY id"
        )
    ]


# -- sweeps ----------------------------------------------------------------------------------------------------


def insert_sweep(conn: sqlite3.Connection, row: dict[str, Any]) -> None:
    """Add a sweep row; `row` maps column names to values (JSON columns already as text)."""
    conn.execute(f"INSERT INTO sweeps ({', '.join(row)}) VALUES ({_marks(len(row))})", list(row.values()))


def update_sweep(conn: sqlite3.Connection, sweep_id: str, fields: dict[str, Any]) -> None:
    """Set some columns of one sweep."""
    cols = ", ".join(f"{k} = ?" for k in fields)
    conn.execute(f"UPDATE sweeps SET {cols} WHERE id = ?", [*fields.values(), sweep_id])


def sweep_row(store: Store, sweep_id: str) -> dict[str, Any] | None:
    rows = list(store.db.query("SELECT * FROM sweeps WHERE id = ?", [sweep_id]))
    return rows[0] if rows else None


def claim_sweep_rows(store: Store, claim_id: str, limit: int) -> list[dict[str, Any]]:
    """A claim's sweeps, newest first."""
    return list(
        store.db.query("SELECT * FROM sweeps WHERE claim = ? ORDER BY created_at DESC LIMIT ?", [claim_id, limit])
    )


def sweep_run_ids(store: Store, sweep_id: str) -> list[str]:
    """A sweep's runs, in the order they were created."""
    return [r[0] for r in store.conn.execute("SELECT id FROM runs WHERE sweep = ? ORDER BY rowid", (sweep_id,))]


def sweep_run_states(store: Store, sweep_id: str) -> list[dict[str, Any]]:
    """{id, seed, params (JSON text), status, verdict, seconds} of a sweep's runs, in the order they were created."""
    return list(
        store.db.query(
            "SELECT id, seed, params, status, verdict, seconds FROM runs WHERE sweep = ? ORDER BY rowid", [sweep_id]
        )
    )


def stale_sweep_ids(store: Store) -> list[str]:
    """Sweeps still marked running although none of their runs is queued or running."""
    return [
        r[0]
        for r in store.conn.execute(
            "SELECT id FROM sweeps s WHERE status = 'running' AND NOT EXISTS "
            "(SELECT 1 FROM runs WHERE sweep = s.id AND status IN ('queued', 'running'))"
        )
    ]
