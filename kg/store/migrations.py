"""The schema, as an ordered list of named migrations. Each runs once and is recorded in `_migrations`."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

from kg.model import EDGE_KINDS, NODE_KINDS

Migration = tuple[str, Callable[[sqlite3.Connection], None]]


def _m001_graph(conn: sqlite3.Connection) -> None:
    _script(
        conn,
        """
        CREATE TABLE nodes (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            text TEXT NOT NULL DEFAULT '',
            root TEXT NOT NULL DEFAULT '',
            path TEXT NOT NULL DEFAULT '',
            line INTEGER NOT NULL DEFAULT 0,
            hash TEXT NOT NULL,
            embed_key TEXT,
            meta TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX nodes_kind ON nodes(kind);
        CREATE INDEX nodes_root ON nodes(root);
        CREATE TABLE edges (
            id TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            target TEXT NOT NULL,
            kind TEXT NOT NULL,
            origin TEXT NOT NULL,
            weight REAL NOT NULL DEFAULT 1.0,
            label TEXT NOT NULL DEFAULT '',
            context TEXT NOT NULL DEFAULT '',
            root TEXT NOT NULL DEFAULT '',
            path TEXT NOT NULL DEFAULT '',
            line INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX edges_source ON edges(source, kind);
        CREATE INDEX edges_target ON edges(target, kind);
        CREATE INDEX edges_root ON edges(root);
        CREATE TABLE embeddings (
            key TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            dim INTEGER NOT NULL,
            vector BLOB NOT NULL
        );
        CREATE TABLE parse_cache (
            hash TEXT PRIMARY KEY,
            records TEXT NOT NULL
        );
        CREATE TABLE files (
            root TEXT NOT NULL,
            rel TEXT NOT NULL,
            hash TEXT NOT NULL,
            ingested_at TEXT NOT NULL,
            PRIMARY KEY (root, rel)
        );
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE VIRTUAL TABLE nodes_fts USING fts5(
            id UNINDEXED, title, body, tokenize = 'porter unicode61 remove_diacritics 2'
        );
        """,
    )


def _m002_runs(conn: sqlite3.Connection) -> None:
    _script(
        conn,
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            claim TEXT NOT NULL,
            experiment TEXT NOT NULL,
            status TEXT NOT NULL,
            verdict TEXT,
            params TEXT NOT NULL DEFAULT '{}',
            seed INTEGER NOT NULL DEFAULT 0,
            metrics TEXT NOT NULL DEFAULT '{}',
            prediction TEXT NOT NULL DEFAULT '[]',
            checks TEXT NOT NULL DEFAULT '[]',
            started_at TEXT,
            ended_at TEXT,
            seconds REAL,
            code_hash TEXT,
            environment TEXT NOT NULL DEFAULT '{}',
            artefacts TEXT NOT NULL DEFAULT '[]',
            stdout TEXT NOT NULL DEFAULT '',
            stderr TEXT NOT NULL DEFAULT '',
            error TEXT NOT NULL DEFAULT '',
            pid INTEGER,
            created_at TEXT NOT NULL
        );
        CREATE INDEX runs_claim ON runs(claim, created_at);
        CREATE INDEX runs_status ON runs(status);
        """,
    )


def _script(conn: sqlite3.Connection, sql: str) -> None:
    """Run DDL statement by statement: executescript would commit the migration's open transaction."""
    for stmt in sql.split(";"):
        if stmt.strip():
            conn.execute(stmt)


def _m003_fts_by_rowid(conn: sqlite3.Connection) -> None:
    """Key the full-text index by the node's rowid (an UNINDEXED id column made every update a full scan),
    and carry the kind so a kind filter needs no join."""
    _script(
        conn,
        """
        DROP TABLE nodes_fts;
        CREATE VIRTUAL TABLE nodes_fts USING fts5(
            title, body, kind UNINDEXED, tokenize = 'porter unicode61 remove_diacritics 2'
        );
        INSERT INTO nodes_fts (rowid, title, body, kind)
        SELECT rowid, title,
            coalesce(json_extract(meta, '$.dek'), '') || char(10) || coalesce(json_extract(meta, '$.claim'), '')
            || char(10) || coalesce((SELECT group_concat(value, ' ') FROM json_each(meta, '$.aliases')), '')
            || char(10) || CASE WHEN kind = 'paper' THEN
                coalesce((SELECT group_concat(value, ' ') FROM json_each(meta, '$.authors')), '') || char(10)
                || coalesce(json_extract(meta, '$.venue'), '') || char(10) || coalesce(json_extract(meta, '$.year'), '')
                ELSE '' END
            || char(10) || text, kind
        FROM nodes WHERE kind != 'tag'
        """,
    )


def _m004_trust_and_run_indexes(conn: sqlite3.Connection) -> None:
    """Trusted experiment folders and the hash of every file trusted in them (kg/trust.py); an index that finds
    each claim's latest finished run without reading the others."""
    _script(
        conn,
        """
        CREATE TABLE trusted_folders (
            path TEXT PRIMARY KEY,
            trusted_at TEXT NOT NULL
        );
        CREATE TABLE trusted_files (
            path TEXT PRIMARY KEY,
            folder TEXT NOT NULL,
            hash TEXT NOT NULL,
            trusted_at TEXT NOT NULL
        );
        CREATE INDEX trusted_files_folder ON trusted_files(folder);
        CREATE INDEX runs_claim_status ON runs(claim, status, created_at)
        """,
    )


def _m005_sweeps(conn: sqlite3.Connection) -> None:
    """A sweep is one `kg verify` of a claim over its grid (seeds × swept params); its runs point to it."""
    _script(
        conn,
        """
        CREATE TABLE sweeps (
            id TEXT PRIMARY KEY,
            claim TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'declared',
            status TEXT NOT NULL,
            verdict TEXT,
            grid TEXT NOT NULL DEFAULT '{}',
            params TEXT NOT NULL DEFAULT '{}',
            seeds TEXT NOT NULL DEFAULT '[]',
            require REAL NOT NULL DEFAULT 1.0,
            passed INTEGER NOT NULL DEFAULT 0,
            total INTEGER NOT NULL DEFAULT 0,
            summary TEXT NOT NULL DEFAULT '{}',
            artefacts TEXT NOT NULL DEFAULT '[]',
            executor TEXT NOT NULL DEFAULT 'local',
            pid INTEGER,
            created_at TEXT NOT NULL,
            ended_at TEXT,
            seconds REAL
        );
        CREATE INDEX sweeps_claim ON sweeps(claim, created_at);
        ALTER TABLE runs ADD COLUMN sweep TEXT;
        CREATE INDEX runs_sweep ON runs(sweep)
        """,
    )


def _m006_sync(conn: sqlite3.Connection) -> None:
    """Round two of ingest: the link text on each edge, attachments in the file list, `cites` for `source`,
    and the kinds and edge kinds kept to the vocabulary of kg.model by triggers (a CHECK cannot be added to
    an existing table)."""
    _script(
        conn,
        """
        ALTER TABLE edges ADD COLUMN ref TEXT NOT NULL DEFAULT '';
        ALTER TABLE files ADD COLUMN fmt TEXT NOT NULL DEFAULT '';
        UPDATE edges SET kind = 'cites' WHERE kind = 'source';
        CREATE INDEX IF NOT EXISTS files_root ON files(root)
        """,
    )
    for table, names in (("nodes", NODE_KINDS), ("edges", EDGE_KINDS)):
        conn.execute(
            f"CREATE TRIGGER {table}_kind_check BEFORE INSERT ON {table} "
            f"WHEN NEW.kind NOT IN ({_names(names)}) BEGIN SELECT RAISE(ABORT, 'unknown {table[:-1]} kind'); END"
        )


def _names(names: object) -> str:
    return ", ".join("'" + str(n).replace("'", "''") + "'" for n in names)  # type: ignore[attr-defined]


MIGRATIONS: list[Migration] = [
    ("001_graph", _m001_graph),
    ("002_runs", _m002_runs),
    ("003_fts_by_rowid", _m003_fts_by_rowid),
    ("004_trust_and_run_indexes", _m004_trust_and_run_indexes),
    ("005_sweeps", _m005_sweeps),
    ("006_sync", _m006_sync),
]


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply the migrations this database has not seen, each in its own transaction. Returns their names."""
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {r[0] for r in conn.execute("SELECT name FROM _migrations")}
    applied = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                conn.execute("ROLLBACK")
                continue
            fn(conn)
            now = datetime.now(UTC).isoformat(timespec="seconds")
            conn.execute("INSERT INTO _migrations VALUES (?, ?)", (name, now))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied
