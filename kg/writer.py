"""The only code that writes ingest results to the store: diff the desired graph against the stored one,
embed what is new, and commit every change in one transaction."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ingest.links import LinkIndex, NoteEntry
from ingest.pipeline import (
    SELF,
    Assembly,
    ParsedFile,
    ReadFile,
    Record,
    assemble,
    parse_read,
    read_source,
    records_from_json,
    records_to_json,
    scan,
)
from ingest.records import EdgeRecord, NodeRecord
from kg.embeddings import (
    EMBED_KINDS,
    Embedder,
    cached_keys,
    default_embedder,
    embed_key,
    embed_text,
    store_vectors,
)
from kg.similarity import update_similar
from kg.store import Store

DEFAULT_K = 5
DEFAULT_THRESHOLD = 0.45


class IngestBusy(Exception):
    """Another ingest holds the store's lock."""


@dataclass
class IngestReport:
    files: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    embedded: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "embedded": self.embedded,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
        }


@contextmanager
def ingest_lock(db_path: str) -> Iterator[None]:
    """One ingest per store at a time; a second one is refused with a clear message."""
    lock_path = db_path + ".ingest-lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IngestBusy(
                f"another `kg ingest` is writing to {db_path}; wait for it to finish, then run again"
            ) from None
        yield
    finally:
        os.close(fd)


@dataclass
class Scope:
    """What an ingest answers for: whole folders, and single files named on the command line."""

    dirs: set[str]
    files: set[tuple[str, str]]
    key: str = ""  # the settings key under which a whole-scope ingest records the generation it left

    @classmethod
    def of(cls, roots: list[str]) -> Scope:
        dirs, files = set(), set()
        for r in roots:
            p = Path(r).resolve()
            if p.is_dir():
                dirs.add(str(p))
            else:
                files.add((str(p.parent), p.name))
        return cls(dirs, files)

    @property
    def roots(self) -> list[str]:
        return sorted(self.dirs | {d for d, _ in self.files})

    def owns(self, root: str, path: str) -> bool:
        """True for a stored row this ingest may update or remove."""
        return root == "" or root in self.dirs or (root, path) in self.files


class StoreKnown:
    """What the store holds outside this ingest's scope, for references into other roots' nodes."""

    def __init__(self, store: Store, scope: Scope) -> None:
        self.conn = store.conn
        self.scope = scope

    def note_for_file(self, root: str, rel: str) -> NoteEntry | None:
        row = self.conn.execute(
            "SELECT id, title, meta FROM nodes WHERE root = ? AND path = ? AND kind IN ('concept', 'inquiry')",
            (root, rel),
        ).fetchone()
        if not row:
            return None
        return NoteEntry(row[0], rel, row[1], tuple(json.loads(row[2]).get("aliases") or ()))

    def _outside(self, rows: Any) -> str | None:
        for nid, root, path in rows:
            if not self.scope.owns(root, path):
                return nid
        return None

    def exists(self, node_id: str) -> bool:
        return self._outside(self.conn.execute("SELECT id, root, path FROM nodes WHERE id = ?", (node_id,))) is not None

    def paper_ref(self, ref: str) -> str | None:
        low = ref.lower()
        for cand in (low, f"arxiv:{low}"):
            hit = self._outside(
                self.conn.execute("SELECT id, root, path FROM nodes WHERE kind = 'paper' AND id = ?", (cand,))
            )
            if hit:
                return hit
        return self._outside(
            self.conn.execute(
                "SELECT n.id, n.root, n.path FROM nodes n, json_each(n.meta, '$.keys') k "
                "WHERE n.kind = 'paper' AND lower(k.value) = ?",
                (low,),
            )
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _edge_id(e: EdgeRecord) -> str:
    return hashlib.sha1("\0".join(e.key()).encode()).hexdigest()


def _progress(iterable: Any, total: int, desc: str, show: bool | None) -> Any:
    return tqdm(iterable, total=total, desc=desc, unit="file", disable=not _show(show), leave=False)


FAST_PATH_MAX = 50
EMBED_CHUNK = 16384


def parse_files(
    store: Store, reads: list[ReadFile], progress: bool | None = None, done: list[ParsedFile] | None = None
) -> list[ParsedFile]:
    """Parse read files, reusing the parse cache and the files in `done`; newly parsed files are cached.

    Each file's bytes are dropped once parsed: holding 100k files' bytes and records together doubles peak memory.
    """
    already = {(pf.source.root, pf.source.rel): pf for pf in done or []}

    def cached(digest: str) -> list[Record] | None:
        row = store.conn.execute("SELECT records FROM parse_cache WHERE hash = ?", (digest,)).fetchone()
        return records_from_json(json.loads(row[0])) if row else None

    parsed = []
    for rf in _progress(reads, len(reads), "parsing", progress):
        pf = already.get((rf.source.root, rf.source.rel)) or parse_read(rf, cached)
        parsed.append(pf)
        rf.data = None
    reused = {id(pf) for pf in done or []}  # already cached by the call that parsed them
    fresh = [pf for pf in parsed if pf.hash and not pf.failed and not pf.from_cache and id(pf) not in reused]
    for start in range(0, len(fresh), 2000):
        rows = [
            (pf.hash, json.dumps(records_to_json(pf.records), ensure_ascii=False)) for pf in fresh[start : start + 2000]
        ]
        with store.transaction() as conn:
            conn.executemany("INSERT OR IGNORE INTO parse_cache VALUES (?, ?)", rows)
    return parsed


def _scope_key(scope: Scope, model: str) -> str:
    """Where an ingest of this scope with this model records the generation it left the store at."""
    raw = json.dumps([sorted(scope.dirs), sorted(scope.files), model])
    return "scope:" + hashlib.sha1(raw.encode()).hexdigest()


def _changed_reads(store: Store, scope: Scope, reads: list[ReadFile]) -> list[ReadFile] | None:
    """The files that changed since this scope's last ingest, or None when only a full ingest will do.

    A short list is only trusted when nothing else has written to the store since, and no file came or went.
    """
    if scope.files or store.setting(scope.key) != str(store.generation()):
        return None
    marks = ",".join("?" * len(scope.roots))
    stored = {
        (r[0], r[1]): r[2]
        for r in store.conn.execute(f"SELECT root, rel, hash FROM files WHERE root IN ({marks})", scope.roots)
    }
    if len(stored) != len(reads):
        return None
    changed = []
    for rf in reads:
        key = (rf.source.root, rf.source.rel)
        if key not in stored:
            return None
        if stored[key] != rf.digest:
            changed.append(rf)
    return changed


def _vault_indexes(store: Store, roots: list[str]) -> dict[str, LinkIndex]:
    """The link index of each root's notes as stored."""
    indexes: dict[str, LinkIndex] = {}
    marks = ",".join("?" * len(roots))
    for nid, root, path, title, meta in store.conn.execute(
        f"SELECT id, root, path, title, meta FROM nodes WHERE root IN ({marks}) AND kind IN ('concept', 'inquiry')",
        roots,
    ):
        m = json.loads(meta)
        if not m.get("stub") and path.lower().endswith((".md", ".markdown")):
            indexes.setdefault(root, LinkIndex()).add(NoteEntry(nid, path, title, tuple(m.get("aliases") or ())))
    return indexes


def _fast_update(store: Store, changed: list[ParsedFile]) -> tuple[dict[str, LinkIndex], dict] | None:
    """Indexes and ids for updating a few notes in place, or None if a change reaches beyond them
    (a new title or alias, a refused file, or a format whose records other files depend on)."""
    fixed: dict[tuple[str, str], str] = {}
    for pf in changed:
        if pf.failed or pf.source.fmt != "markdown":
            return None
        row = store.conn.execute(
            "SELECT id, title, meta FROM nodes WHERE root = ? AND path = ? AND kind IN ('concept', 'inquiry')",
            (pf.source.root, pf.source.rel),
        ).fetchone()
        node = next((r for r in pf.records if isinstance(r, NodeRecord) and r.id == SELF), None)
        if row is None or node is None:
            return None
        aliases = json.loads(row[2]).get("aliases") or []
        if node.title != row[1] or list(node.meta.get("aliases") or []) != list(aliases):
            return None
        fixed[(pf.source.root, pf.source.rel)] = row[0]
    return _vault_indexes(store, sorted({pf.source.root for pf in changed})), fixed


def ingest(
    store: Store,
    roots: list[str],
    embedder: Embedder | None = None,
    *,
    k: int | None = None,
    threshold: float | None = None,
    progress: bool | None = None,
) -> IngestReport:
    """Bring the store in line with the files under `roots`. Unchanged input writes nothing.

    Every file is read and hashed. When nothing changed since this scope's last ingest, that is all; when a
    few notes changed without touching what links resolve to, only they are parsed and rewritten; otherwise
    everything is assembled again (from the parse cache) and diffed against the store.
    """
    t0 = time.perf_counter()
    embedder = embedder or default_embedder()
    report = IngestReport()
    with ingest_lock(store.path):
        scope = Scope.of(roots)
        scope.key = _scope_key(scope, embedder.name)
        reads = [read_source(sf) for sf in scan(roots)]
        report.files = len(reads)
        settings_same = _similar_settings(store, k, threshold) == _similar_settings(store, None, None)
        changed = _changed_reads(store, scope, reads) if settings_same else None
        if changed == []:
            report.unchanged = _owned_count(store, scope)
        else:
            fast, parsed = None, []
            if changed is not None and len(changed) <= FAST_PATH_MAX:
                parsed = parse_files(store, changed, progress)
                fast = _fast_update(store, parsed)
            if fast is not None:
                indexes, fixed = fast
                sub = Scope(set(), {(pf.source.root, pf.source.rel) for pf in parsed}, key=scope.key)
                asm = assemble(parsed, StoreKnown(store, sub), indexes=indexes, fixed_ids=fixed)
                report.errors = [e.to_dict() for e in asm.errors]
                _apply(store, asm, parsed, sub, embedder, report, k, threshold, progress)
                report.unchanged = _owned_count(store, scope) - report.added - report.updated
            else:
                parsed = parse_files(store, reads, progress, done=parsed)
                asm = assemble(parsed, StoreKnown(store, scope))
                report.errors = [e.to_dict() for e in asm.errors]
                _apply(store, asm, parsed, scope, embedder, report, k, threshold, progress)
    report.seconds = time.perf_counter() - t0
    return report


def _owned_count(store: Store, scope: Scope) -> int:
    marks = ",".join("?" * len(scope.roots))
    sql = f"SELECT count(*) FROM nodes WHERE root IN ({marks}) OR root = ''"
    return store.conn.execute(sql, scope.roots).fetchone()[0]


def _apply(
    store: Store,
    asm: Assembly,
    parsed: list[ParsedFile],
    scope: Scope,
    embedder: Embedder,
    report: IngestReport,
    k: int | None,
    threshold: float | None,
    progress: bool | None,
) -> None:
    conn = store.conn
    marks = ",".join("?" * len(scope.roots))
    stored = {
        r[0]: (r[1], r[2], r[3], r[4])
        for r in conn.execute(
            f"SELECT id, hash, root, path, embed_key FROM nodes WHERE root IN ({marks}) OR root = ''",
            scope.roots,
        )
        if scope.owns(r[2], r[3])
    }
    # A stub must not overwrite a node that another root ingested.
    known = StoreKnown(store, scope)
    failed = asm.failed
    foreign = {
        nid
        for nid, n in asm.nodes.items()
        if n.meta.get("stub")
        and ((nid not in stored and known.exists(nid)) or (nid in stored and stored[nid][1:3] in failed))
    }
    rows, changed_embed, keys_needed = [], set(), {}
    for nid, node in asm.nodes.items():
        if nid in foreign:
            continue
        h = node.content_hash()
        ekey = None
        if node.kind in EMBED_KINDS and not node.meta.get("stub"):
            text = embed_text(node.title, node.text, node.meta)
            ekey = embed_key(text, embedder.name)
            keys_needed[ekey] = nid
        old = stored.get(nid)
        if old is None:
            report.added += 1
        elif old[0] != h or old[1] != asm.roots[nid] or old[3] != ekey:
            report.updated += 1
        else:
            report.unchanged += 1
            continue
        rows.append((node, h, ekey))
        if old is None or old[3] != ekey:
            changed_embed.add(nid)
    removed = [
        nid
        for nid, (_h, root, path, _e) in stored.items()
        if nid not in asm.nodes and root != "" and (root, path) not in failed
    ]
    report.removed = len(removed)

    missing = sorted(set(keys_needed) - cached_keys(conn, list(keys_needed)))
    # Texts are made again chunk by chunk rather than held for every node at once.
    for start in range(0, len(missing), EMBED_CHUNK):
        chunk = missing[start : start + EMBED_CHUNK]
        nodes = [asm.nodes[keys_needed[m]] for m in chunk]
        vecs = embedder.encode([embed_text(n.title, n.text, n.meta) for n in nodes], progress=_show(progress))
        with store.transaction():
            store_vectors(conn, chunk, embedder.name, vecs)
        report.embedded += len(chunk)

    stored_edges = {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT id, root, path, weight, origin, context, line FROM edges "
            f"WHERE kind != 'similar' AND (root IN ({marks}) OR root = '')",
            scope.roots,
        )
        if scope.owns(r[1], r[2])
    }
    want_edges = {}
    for key, e in asm.edges.items():
        if e.source in foreign and asm.edge_roots[key] == "":
            continue
        want_edges[_edge_id(e)] = (e, asm.edge_roots[key])
    edge_inserts = [
        (eid, e, root)
        for eid, (e, root) in want_edges.items()
        if eid not in stored_edges or stored_edges[eid] != (root, e.path, e.weight, e.origin, e.context, e.line)
    ]
    # Derived edges (a nested tag's `broader`) hold while both their nodes exist; they go with the nodes.
    edge_deletes = [
        eid
        for eid, (root, path, *_r) in stored_edges.items()
        if eid not in want_edges and root != "" and (root, path) not in failed
    ]
    file_rows = [(pf.source.root, pf.source.rel, pf.hash) for pf in parsed if pf.hash and not pf.failed]
    stored_files = {
        (r[0], r[1]): r[2]
        for r in conn.execute(f"SELECT root, rel, hash FROM files WHERE root IN ({marks})", scope.roots)
        if scope.owns(r[0], r[1])
    }
    present = {(r, p) for r, p, _ in file_rows}
    gone_files = [f for f in stored_files if f not in present]
    file_changes = [f for f in file_rows if stored_files.get((f[0], f[1])) != f[2]]
    settings = _similar_settings(store, k, threshold)
    settings_changed = (str(settings[0]), str(settings[1])) != (
        store.setting("similar_k"),
        store.setting("similar_threshold"),
    )
    scope_key = scope.key or _scope_key(scope, embedder.name)
    if not (rows or removed or edge_inserts or edge_deletes or file_changes or gone_files or settings_changed):
        if store.setting(scope_key) != str(store.generation()):
            with store.transaction():
                store.set_setting(scope_key, str(store.generation()))
        return

    now = _now()
    with store.transaction():
        for node, h, ekey in rows:
            conn.execute(
                """INSERT INTO nodes (id, kind, title, text, root, path, line, hash, embed_key, meta,
                   created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(id) DO UPDATE SET kind=excluded.kind, title=excluded.title, text=excluded.text,
                   root=excluded.root, path=excluded.path, line=excluded.line, hash=excluded.hash,
                   embed_key=excluded.embed_key, meta=excluded.meta, updated_at=excluded.updated_at""",
                (
                    node.id,
                    node.kind,
                    node.title,
                    node.text,
                    asm.roots[node.id],
                    node.path,
                    node.line,
                    h,
                    ekey,
                    json.dumps(node.meta, ensure_ascii=False, sort_keys=True),
                    now,
                    now,
                ),
            )
            conn.execute("DELETE FROM nodes_fts WHERE rowid = (SELECT rowid FROM nodes WHERE id = ?)", (node.id,))
            if node.kind != "tag":
                conn.execute(
                    "INSERT INTO nodes_fts (rowid, title, body, kind) "
                    "VALUES ((SELECT rowid FROM nodes WHERE id = ?), ?, ?, ?)",
                    (node.id, node.title, _fts_body(node), node.kind),
                )
        _delete_nodes(conn, removed)
        conn.executemany("DELETE FROM edges WHERE id = ?", [(e,) for e in edge_deletes])
        conn.executemany(
            """INSERT OR REPLACE INTO edges (id, source, target, kind, origin, weight, label, context, root, path, line)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (
                    eid,
                    e.source,
                    e.target,
                    e.kind,
                    e.origin,
                    e.weight,
                    e.label,
                    e.context,
                    root,
                    e.path,
                    e.line,
                )
                for eid, e, root in edge_inserts
            ],
        )
        orphans = _collect_orphans(conn)
        report.removed += len([o for o in orphans if o in stored])
        conn.executemany("DELETE FROM files WHERE root = ? AND rel = ?", gone_files)
        conn.executemany(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)",
            [(*f, now) for f in file_changes],
        )
        ids, _kinds, mat = store.vectors(EMBED_KINDS)
        update_similar(
            conn,
            ids,
            mat,
            changed_embed | set(removed) | set(orphans),
            settings[0],
            settings[1],
            full=settings_changed,
        )
        store.set_setting("similar_k", str(settings[0]))
        store.set_setting("similar_threshold", str(settings[1]))
        generation = store.generation() + 1
        store.set_setting("generation", str(generation))
        store.set_setting(scope_key, str(generation))


def _show(progress: bool | None) -> bool:
    return sys.stderr.isatty() if progress is None else progress


def _similar_settings(store: Store, k: int | None, threshold: float | None) -> tuple[int, float]:
    k = k if k is not None else int(store.setting("similar_k") or DEFAULT_K)
    t = threshold if threshold is not None else float(store.setting("similar_threshold") or DEFAULT_THRESHOLD)
    return int(k), float(t)


def _fts_body(node: NodeRecord) -> str:
    m = node.meta
    extra = [
        str(m.get("dek") or ""),
        str(m.get("claim") or ""),
        " ".join(m.get("aliases") or []),
    ]
    if node.kind == "paper":
        extra += [
            " ".join(m.get("authors") or []),
            str(m.get("venue") or ""),
            str(m.get("year") or ""),
        ]
    return "\n".join([*filter(None, extra), node.text])


def _collect_orphans(conn: Any) -> list[str]:
    """Delete derived nodes (tags, stubs of unresolved links) that nothing points at any more."""
    gone: list[str] = []
    while True:
        batch = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM nodes WHERE root = '' AND id NOT IN "
                "(SELECT target FROM edges WHERE kind NOT IN ('similar'))"
            )
        ]
        if not batch:
            return gone
        _delete_nodes(conn, batch)
        gone += batch


def _delete_nodes(conn: Any, ids: list[str]) -> None:
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        conn.execute(f"DELETE FROM nodes_fts WHERE rowid IN (SELECT rowid FROM nodes WHERE id IN ({marks}))", chunk)
        conn.execute(f"DELETE FROM nodes WHERE id IN ({marks})", chunk)
        conn.execute(
            f"DELETE FROM edges WHERE source IN ({marks}) OR target IN ({marks})",
            chunk + chunk,
        )
