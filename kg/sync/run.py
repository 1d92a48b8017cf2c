"""One `kg ingest`, stage by stage: scan → read → parse → assemble → plan → embed → apply.

The desired graph is always assembled from every file the store knows (files out of this ingest's scope
come from the parse cache), so the result does not depend on the order of separate ingests.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ingest.assemble import assemble
from ingest.pipeline import (
    ParsedFile,
    ReadFile,
    Record,
    SourceFile,
    parse_read,
    read_source,
    records_from_json,
    records_to_json,
    scan,
)
from ingest.records import FileError, FileWarning
from kg.embeddings import MAX_CHARS, Embedder, default_embedder, embed_text
from kg.store import Store
from kg.store import sync as stored
from kg.store.graph import node_count, text_lengths
from kg.store.stash import TextStash
from kg.store.vectors import cached_keys, store_vectors
from kg.sync.apply import FileRow, apply, finish_vectors, stored_index
from kg.sync.plan import plan
from kg.sync.progress import ProgressFile
from kg.sync.report import IngestBusy, IngestReport

DEFAULT_K = 5
DEFAULT_THRESHOLD = 0.45
# Vectors are stored (and the store's generation bumped) chunk by chunk, so a server shows related items as
# they arrive instead of after the last one.
EMBED_CHUNK = 256
Tick = Callable[[str, int, int], None]


@contextmanager
def ingest_lock(db_path: str) -> Iterator[None]:
    """One ingest per store at a time; a second one is refused with a clear message."""
    fd = os.open(db_path + ".ingest-lock", os.O_RDWR | os.O_CREAT, 0o644)
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

    @classmethod
    def of(cls, roots: list[str], stored_roots: set[str]) -> Scope:
        dirs, files = set(), set()
        for r in roots:
            p = Path(r).resolve()
            if p.is_dir():
                dirs.add(str(p))
                continue
            # A single file inside a folder ingested before belongs to that folder's vault.
            home = max((d for d in stored_roots if str(p).startswith(d.rstrip("/") + "/")), key=len, default="")
            if home:
                files.add((home, p.relative_to(home).as_posix()))
            else:
                files.add((str(p.parent), p.name))
        return cls(dirs, files)

    def owns(self, root: str, rel: str) -> bool:
        return root in self.dirs or (root, rel) in self.files

    def key(self, model: str) -> str:
        raw = json.dumps([sorted(self.dirs), sorted(self.files), model])
        return "scope:" + hashlib.sha1(raw.encode()).hexdigest()


def _show(progress: bool | None) -> bool:
    return sys.stderr.isatty() if progress is None else progress


def _bar(items: list[Any], desc: str, progress: bool | None, tick: Tick | None = None) -> Iterable[Any]:
    """The items, with a progress bar on a terminal and each step told to `tick` (the progress file)."""
    bar = tqdm(items, total=len(items), desc=desc, unit="file", disable=not _show(progress), leave=False)
    for i, item in enumerate(bar):
        if tick is not None:
            tick(desc, i, len(items))
        yield item


def _relocate(sf: SourceFile, scope: Scope) -> SourceFile:
    """A single file under a stored vault is read as part of that vault."""
    for root, rel in scope.files:
        if Path(root, rel) == Path(sf.root, sf.rel) and root != sf.root:
            return SourceFile(root, root, rel)
    return sf


def ingest(
    store: Store,
    roots: list[str],
    embedder: Embedder | None = None,
    *,
    k: int | None = None,
    threshold: float | None = None,
    progress: bool | None = None,
) -> IngestReport:
    """Bring the store in line with the files under `roots`. Unchanged input writes nothing."""
    t0 = time.perf_counter()
    embedder = embedder or default_embedder()
    with ingest_lock(store.path):
        tick = ProgressFile(store.path)
        try:
            report = _ingest(store, roots, embedder, k, threshold, progress, tick)
        finally:
            tick.clear()
    report.seconds = time.perf_counter() - t0
    return report


def _ingest(
    store: Store,
    roots: list[str],
    embedder: Embedder,
    k: int | None,
    threshold: float | None,
    progress: bool | None,
    tick: Tick,
) -> IngestReport:
    report = IngestReport()
    stored_files = _stored_files(store)
    scope = Scope.of(roots, {r for r, _rel in stored_files})
    found = scan(roots)
    report.skipped = [s.to_dict() for s in found.skipped]
    in_files = [_relocate(sf, scope) for sf in found.files]
    attachments = [_relocate(sf, scope) for sf in found.attachments]
    reads = [read_source(sf) for sf in _bar(in_files, "reading", progress, tick)]
    report.files = len(reads)
    scope_key = scope.key(embedder.name)
    settings = _similar_settings(store, k, threshold)
    same_settings = settings == _similar_settings(store, None, None)
    if same_settings and _unchanged(store, scope, scope_key, stored_files, reads, attachments):
        last = json.loads(store.setting(scope_key + ":report") or "{}")
        report.errors, report.warnings = last.get("errors", []), last.get("warnings", [])
        report.unchanged = node_count(store)
        return report
    # Long note bodies wait on disk (kg/store/stash.py) from parsing until they are written.
    with TextStash(_stash_dir(store)) as stash:
        parsed = parse_files(store, reads, progress, tick, stash)
        del reads
        # The graph lands first; the records, the assembly and the change set go out of scope with _graph, so
        # the embedding and similarity stages do not hold a whole vault's parsed records beside the vectors.
        embed_needed, changed, full = _graph(store, scope, scope_key, settings, stored_files, parsed, attachments,
                                             in_files, embedder.name, report, tick, stash)  # fmt: skip
        del parsed
    release_memory()
    fresh = _embed(store, embedder, embed_needed, progress, tick)
    report.embedded = len(fresh)
    tick("similar", 0, 1)
    finish_vectors(
        store,
        changed | {embed_needed[k] for k in fresh},
        (settings[0], settings[1], full),
        {
            "similar_k": str(settings[0]),
            "similar_threshold": str(settings[1]),
            scope_key: "{generation}",
            "similar_dirty": "0",
        },
    )
    return report


def _graph(
    store: Store,
    scope: Scope,
    scope_key: str,
    settings: tuple[int, float],
    stored_files: dict[tuple[str, str], tuple[str, str]],
    parsed: list[ParsedFile],
    attachments: list[SourceFile],
    in_files: list[SourceFile],
    model: str,
    report: IngestReport,
    tick: Tick,
    stash: TextStash | None = None,
) -> tuple[dict[str, str], set[str], bool]:
    """Assemble, plan and apply the graph. Returns the embed keys wanted (key -> node id), the nodes whose
    vectors changed, and whether every `similar` edge must be recomputed."""
    parsed, preserve = _with_last_good(store, parsed, stored_files)
    outside, kept = _outside_scope(store, scope, stored_files)
    if stash is not None:  # the stand-ins and the other vaults' files come from the cache, bodies whole
        for pf in [*(pf for pf in parsed if pf.failed), *outside]:
            stash.stash(pf.records)
    preserve |= kept
    vault_files = _vault_files(scope, stored_files, in_files, attachments)
    tick("linking", 0, 1)
    asm = assemble(parsed + outside, vault_files)
    del outside
    mine = {pf.source.path for pf in parsed} | {""}
    report.errors = [e.to_dict() for e in asm.errors if e.path in mine]
    report.warnings = [w.to_dict() for w in asm.warnings if w.path in mine]
    cs = plan(asm, stored_index(store, preserve), model)
    report.added, report.updated, report.unchanged = cs.added, cs.updated, cs.unchanged
    report.removed = len(cs.removed)
    file_rows, gone = _file_changes(scope, stored_files, parsed, attachments)
    full = (str(settings[0]), str(settings[1])) != (store.setting("similar_k"), store.setting("similar_threshold"))
    last = json.dumps({"errors": report.errors, "warnings": report.warnings}, ensure_ascii=False)
    # A crash between the graph and its similar edges leaves this flag: the next ingest recomputes them all.
    full = full or store.setting("similar_dirty") == "1"
    tick("writing", 0, 1)
    apply(store, cs, asm.roots, (file_rows, gone), {scope_key + ":report": last, "similar_dirty": "1"})
    return cs.embed_needed, cs.changed_vectors, full


def _stash_dir(store: Store) -> str | None:
    """Beside the store (on its disk, not a RAM-backed /tmp), where the store is a file."""
    folder = os.path.dirname(os.path.abspath(store.path))
    return folder if os.path.isdir(folder) and os.access(folder, os.W_OK) else None


def release_memory() -> None:
    """Hand the heap's free pages back to the system (glibc's malloc_trim). The parsed records of a large vault
    leave hundreds of MB of freed but still resident heap behind them; without this the vectors and the
    similarity stage are counted on top of it in the process's peak memory. A no-op where glibc is absent."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _stored_files(store: Store) -> dict[tuple[str, str], tuple[str, str]]:
    return stored.file_hashes(store)


def _unchanged(
    store: Store,
    scope: Scope,
    scope_key: str,
    stored: dict[tuple[str, str], tuple[str, str]],
    reads: list[ReadFile],
    attachments: list[SourceFile],
) -> bool:
    """True when nothing in scope changed since this scope's last ingest and nothing else wrote since."""
    if store.setting(scope_key) != str(store.generation()) or store.setting("similar_dirty") == "1":
        return False
    mine = {key: v for key, v in stored.items() if scope.owns(*key)}
    now = {(rf.source.root, rf.source.rel): rf.digest for rf in reads}
    now.update({(sf.root, sf.rel): "" for sf in attachments})
    return len(mine) == len(now) and all(mine.get(key, ("?",))[0] == h for key, h in now.items())


def parse_files(
    store: Store,
    reads: list[ReadFile],
    progress: bool | None = None,
    tick: Tick | None = None,
    stash: TextStash | None = None,
) -> list[ParsedFile]:
    """Parse read files, reusing the parse cache; newly parsed files are cached. With a `stash`, each file's
    long bodies move into it once its records are cached, so the bodies of a whole vault are never in memory."""
    parsed: list[ParsedFile] = []
    fresh: list[ParsedFile] = []
    for rf in _bar(reads, "parsing", progress, tick):
        pf = parse_read(rf, lambda digest: _cached_records(store, digest))
        rf.data = None
        parsed.append(pf)
        if pf.hash and not pf.failed and not pf.from_cache:
            fresh.append(pf)
            if len(fresh) == 2000:
                _cache_parsed(store, fresh, stash)
                fresh = []
        elif stash is not None:
            stash.stash(pf.records)
    _cache_parsed(store, fresh, stash)
    return parsed


def _cache_parsed(store: Store, fresh: list[ParsedFile], stash: TextStash | None) -> None:
    if not fresh:
        return
    rows = [(pf.hash, json.dumps(records_to_json(pf.records), ensure_ascii=False)) for pf in fresh]
    with store.transaction() as conn:
        stored.cache_records(conn, rows)
    if stash is not None:
        for pf in fresh:
            stash.stash(pf.records)


def _cached_records(store: Store, digest: str) -> list[Record] | None:
    raw = stored.cached_records(store, digest)
    return records_from_json(raw) if raw is not None else None


def _with_last_good(
    store: Store, parsed: list[ParsedFile], stored: dict[tuple[str, str], tuple[str, str]]
) -> tuple[list[ParsedFile], set[tuple[str, str]]]:
    """A refused file keeps what was stored from it: its last good records stand in, beside the error."""
    out, preserve = [], set()
    for pf in parsed:
        key = (pf.source.root, pf.source.rel)
        if pf.failed and key in stored:
            good = _cached_records(store, stored[key][0])
            if good is None:
                preserve.add((pf.source.root, pf.source.rel))
            else:
                errors = [r for r in pf.records if isinstance(r, FileError)]
                pf = ParsedFile(pf.source, stored[key][0], [*good, *errors], failed=True)
        out.append(pf)
    return out, preserve


def _outside_scope(
    store: Store, scope: Scope, stored: dict[tuple[str, str], tuple[str, str]]
) -> tuple[list[ParsedFile], set[tuple[str, str]]]:
    """The other vaults' files, as last ingested, from the parse cache."""
    out, preserve = [], set()
    for (root, rel), (digest, fmt) in sorted(stored.items()):
        if scope.owns(root, rel) or fmt == "attachment":
            continue
        records = _cached_records(store, digest)
        if records is None:
            preserve.add((root, rel))
            continue
        records = [r for r in records if not isinstance(r, (FileError, FileWarning))]
        out.append(ParsedFile(SourceFile(root, root, rel), digest, records, from_cache=True))
    return out, preserve


def _vault_files(
    scope: Scope,
    stored: dict[tuple[str, str], tuple[str, str]],
    files: list[SourceFile],
    attachments: list[SourceFile],
) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for root, rel in stored:
        if not scope.owns(root, rel):
            out.setdefault(root, []).append(rel)
    for sf in [*files, *attachments]:
        out.setdefault(sf.root, []).append(sf.rel)
    return out


def _file_changes(
    scope: Scope,
    stored: dict[tuple[str, str], tuple[str, str]],
    parsed: list[ParsedFile],
    attachments: list[SourceFile],
) -> tuple[list[FileRow], list[tuple[str, str]]]:
    rows: list[FileRow] = [
        (pf.source.root, pf.source.rel, pf.hash, pf.source.fmt or "") for pf in parsed if pf.hash and not pf.failed
    ]
    rows += [(sf.root, sf.rel, "", "attachment") for sf in attachments]
    present = {(r, p) for r, p, _h, _f in rows} | {(pf.source.root, pf.source.rel) for pf in parsed}
    gone = [key for key in stored if scope.owns(*key) and key not in present]
    changed = [row for row in rows if stored.get((row[0], row[1])) != (row[2], row[3])]
    return changed, gone


def _embed(
    store: Store,
    embedder: Embedder,
    needed: dict[str, str],
    progress: bool | None,
    tick: Tick | None = None,
) -> list[str]:
    """Embed the texts the cache lacks, chunk by chunk; returns the keys embedded.

    The texts are read back from the stored nodes a chunk at a time, so only one chunk's texts are in memory.
    Each chunk is stored in its own transaction, which bumps the store's generation so a running server sees
    the new vectors. A vector missing after a crash is found here on the next ingest and made then."""
    missing = sorted(set(needed) - cached_keys(store.conn, list(needed)))
    # Chunks of texts of like length: each batch the encoder makes pads only to its own longest text.
    lengths = text_lengths(store, [needed[m] for m in missing])
    missing.sort(key=lambda m: (min(lengths.get(needed[m], 0), MAX_CHARS), m))
    bar = tqdm(total=len(missing), desc="embedding", unit="text", disable=not _show(progress), leave=False)
    size = int(getattr(embedder, "chunk", EMBED_CHUNK))
    for start in range(0, len(missing), size):
        if tick is not None:
            tick("embedding", start, len(missing))
        chunk = missing[start : start + size]
        nodes = store.nodes([needed[m] for m in chunk])
        texts = [embed_text(n["title"], n["text"] or "", n["meta"]) for n in (nodes[needed[m]] for m in chunk)]
        vecs = embedder.encode(texts)
        del nodes, texts
        with store.transaction():
            store_vectors(store.conn, chunk, embedder.name, vecs)
            store.set_setting("generation", str(store.generation() + 1))
        bar.update(len(chunk))
    bar.close()
    return missing


def _similar_settings(store: Store, k: int | None, threshold: float | None) -> tuple[int, float]:
    k = k if k is not None else int(store.setting("similar_k") or DEFAULT_K)
    t = threshold if threshold is not None else float(store.setting("similar_threshold") or DEFAULT_THRESHOLD)
    return int(k), float(t)
