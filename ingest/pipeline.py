"""The ingest pipeline, read top to bottom: scan → parse (one module per format) → assemble.

Pure: it reads files and returns records. Only `kg.writer` touches the store.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ingest import summaries
from ingest.arxiv import parse_atom, parse_jsonl
from ingest.bibtex import parse_bibtex
from ingest.experiments import parse_experiment
from ingest.links import LinkIndex, NoteEntry
from ingest.markdown import parse_note
from ingest.notepage import looks_like_note_page, parse_note_page
from ingest.papers import clean_arxiv, clean_doi, merge_papers
from ingest.pdf import parse_pdf
from ingest.records import (
    EdgeRecord,
    FileError,
    NodeRecord,
    ParseError,
    normalise_title,
    slugify,
)
from ingest.text import decode_text, read_bytes

PARSER_VERSION = "5"
SELF = "@self"
SKIP_DIRS = {
    ".git",
    ".obsidian",
    ".trash",
    "__pycache__",
    "node_modules",
    "runs",
    ".venv",
}
Record = NodeRecord | EdgeRecord | FileError


@dataclass(frozen=True)
class SourceFile:
    root: str  # absolute path of the root it was found under
    shown_root: str  # the root as the user gave it
    rel: str  # posix path from the root

    @property
    def path(self) -> str:
        return posixpath.join(self.shown_root.replace(os.sep, "/"), self.rel)

    @property
    def abspath(self) -> Path:
        return Path(self.root) / self.rel

    @property
    def fmt(self) -> str | None:
        return format_of(self.rel)


def format_of(rel: str) -> str | None:
    """Which parser reads a file, by its name; None for files ingest ignores."""
    low = rel.lower()
    ext = posixpath.splitext(low)[1]
    if ext in (".md", ".markdown"):
        return "markdown"
    if summaries.is_summaries_file(rel):
        return "summaries"
    if ext == ".bib":
        return "bibtex"
    if ext in (".xml", ".atom"):
        return "atom"
    if ext in (".jsonl", ".ndjson"):
        return "jsonl"
    if ext == ".pdf":
        return "pdf"
    if ext == ".txt":
        return "notepage"
    if ext == ".py" and "experiments" in posixpath.dirname(low).split("/"):
        return "experiment"
    return None


def scan(roots: Iterable[str]) -> list[SourceFile]:
    """Every ingestible file under the roots (a root may also be a single file), in a stable order."""
    out: list[SourceFile] = []
    for shown in roots:
        p = Path(shown)
        if p.is_file():
            sf = SourceFile(str(p.parent.resolve()), str(p.parent), p.name)
            if sf.fmt:
                out.append(sf)
            continue
        base = p.resolve()
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
            for name in sorted(filenames):
                rel = Path(dirpath, name).relative_to(base).as_posix()
                sf = SourceFile(str(base), shown.rstrip("/") or "/", rel)
                if sf.fmt and not name.startswith("."):
                    out.append(sf)
    return out


def file_hash(sf: SourceFile, data: bytes) -> str:
    """Change detection key: the parser version, the path and the bytes."""
    h = hashlib.sha256(f"{PARSER_VERSION}\0{sf.rel}\0".encode())
    h.update(data)
    return h.hexdigest()


@dataclass
class ParsedFile:
    source: SourceFile
    hash: str
    records: list[Record]
    failed: bool = False  # the whole file was refused: what is stored from it stays as it was
    from_cache: bool = False


def parse_source(sf: SourceFile, data: bytes, digest: str) -> ParsedFile:
    """Run the parser for one file's bytes. A refused file becomes a single FileError."""
    try:
        records = list(_parse(sf, data))
    except ParseError as exc:
        return ParsedFile(sf, digest, [FileError(sf.path, exc.line, str(exc))], failed=True)
    for r in records:
        if isinstance(r, FileError):
            r.path = sf.path
    return ParsedFile(sf, digest, records)


def _parse(sf: SourceFile, data: bytes) -> Iterator[Record]:
    fmt = sf.fmt
    if not data.strip():
        raise ParseError("file is empty; add content or remove it")
    if fmt == "pdf":
        yield from parse_pdf(data, sf.rel)
        return
    text = decode_text(data, {"markdown": "Markdown"}.get(fmt or "", fmt or "text"))
    if fmt == "markdown":
        yield from parse_note(text, sf.rel, SELF)
    elif fmt == "bibtex":
        yield from parse_bibtex(text, sf.rel)
    elif fmt == "atom":
        yield from parse_atom(text, sf.rel)
    elif fmt == "jsonl":
        yield from parse_jsonl(text, sf.rel)
    elif fmt == "summaries":
        yield from summaries.parse_summaries(text, sf.rel)
    elif fmt == "experiment":
        yield from parse_experiment(text, sf.rel, posixpath.basename(sf.rel)[:-3])
    elif fmt == "notepage" and looks_like_note_page(text):
        yield from parse_note_page(text, sf.rel)


@dataclass
class ReadFile:
    """A file's bytes and hash, or the reason it could not be read."""

    source: SourceFile
    data: bytes | None
    digest: str
    error: FileError | None = None


def read_source(sf: SourceFile, keep: bool = False) -> ReadFile:
    """Read and hash a file. The bytes are kept only if asked: a whole vault's bytes add up."""
    try:
        data = read_bytes(sf.abspath)
    except ParseError as exc:
        return ReadFile(sf, None, "", FileError(sf.path, exc.line, str(exc)))
    except OSError as exc:
        return ReadFile(sf, None, "", FileError(sf.path, None, f"cannot read file ({exc.strerror})"))
    return ReadFile(sf, data if keep else None, file_hash(sf, data))


def parse_read(rf: ReadFile, cache: Callable[[str], list[Record] | None] | None = None) -> ParsedFile:
    """Parse a read file, reusing `cache(hash)` when it has the records already (else reading it again)."""
    if rf.error is not None:
        return ParsedFile(rf.source, "", [rf.error], failed=True)
    cached = cache(rf.digest) if cache else None
    if cached is not None:
        return ParsedFile(rf.source, rf.digest, cached, from_cache=True)
    if rf.data is None:
        again = read_source(rf.source, keep=True)
        if again.error is not None or again.data is None:
            return ParsedFile(rf.source, "", [again.error] if again.error else [], failed=True)
        rf = again
    return parse_source(rf.source, rf.data, rf.digest)


def read_and_parse(sf: SourceFile, cache: Callable[[str], list[Record] | None] | None = None) -> ParsedFile:
    """Read one file and parse it, reusing `cache(hash)` when it has the records already."""
    return parse_read(read_source(sf, keep=True), cache)


class Known(Protocol):
    """What the store already holds, for references to nodes ingested from other roots."""

    def exists(self, node_id: str) -> bool: ...
    def paper_ref(self, ref: str) -> str | None: ...
    def note_for_file(self, root: str, rel: str) -> NoteEntry | None: ...


class NothingKnown:
    def exists(self, node_id: str) -> bool:
        return False

    def paper_ref(self, ref: str) -> str | None:
        return None

    def note_for_file(self, root: str, rel: str) -> NoteEntry | None:
        return None


@dataclass
class Assembly:
    """The desired state of the graph for the files ingested."""

    nodes: dict[str, NodeRecord] = field(default_factory=dict)
    edges: dict[tuple[str, str, str, str], EdgeRecord] = field(default_factory=dict)
    roots: dict[str, str] = field(default_factory=dict)  # node id -> root ('' for derived nodes)
    edge_roots: dict[tuple[str, str, str, str], str] = field(default_factory=dict)
    errors: list[FileError] = field(default_factory=list)
    failed: set[tuple[str, str]] = field(default_factory=set)  # (root, rel) of refused files


def _note_ids(files: list[ParsedFile], known: Known) -> dict[tuple[str, str], str]:
    """Slug of the file name; where two notes share it, the slug of each one's path."""
    stems: dict[str, list[ParsedFile]] = {}
    for pf in files:
        if pf.source.fmt == "markdown" and not pf.failed:
            stem = slugify(posixpath.splitext(posixpath.basename(pf.source.rel))[0])
            stems.setdefault(stem, []).append(pf)
    ids = {}
    for stem, group in stems.items():
        for pf in group:
            key = (pf.source.root, pf.source.rel)
            ids[key] = stem if len(group) == 1 else slugify(posixpath.splitext(pf.source.rel)[0])
    return ids


def assemble(
    files: list[ParsedFile],
    known: Known | None = None,
    indexes: dict[str, LinkIndex] | None = None,
    fixed_ids: dict[tuple[str, str], str] | None = None,
) -> Assembly:
    """Resolve every reference across the parsed files and return the desired nodes and edges.

    `indexes` and `fixed_ids` let an update of a few notes resolve against the rest of the vault as stored.
    """
    known = known or NothingKnown()
    out = Assembly()
    note_ids = fixed_ids if fixed_ids is not None else _note_ids(files, known)
    indexes = indexes if indexes is not None else {}
    for pf in files:
        nid = note_ids.get((pf.source.root, pf.source.rel))
        if nid and fixed_ids is None:
            node = next(r for r in pf.records if isinstance(r, NodeRecord) and r.id == SELF)
            aliases = tuple(node.meta.get("aliases") or ())
            indexes.setdefault(pf.source.root, LinkIndex()).add(NoteEntry(nid, pf.source.rel, node.title, aliases))
        elif pf.failed and pf.source.fmt == "markdown":
            # A refused note keeps its stored version, so links to it still resolve to that.
            kept = known.note_for_file(pf.source.root, pf.source.rel)
            if kept:
                indexes.setdefault(pf.source.root, LinkIndex()).add(kept)

    papers: list[NodeRecord] = []
    paper_summaries: list[NodeRecord] = []
    paper_roots: dict[int, str] = {}
    pending: list[tuple[ParsedFile, EdgeRecord]] = []
    owner: dict[str, str] = {}
    for pf in files:
        if pf.failed:
            out.failed.add((pf.source.root, pf.source.rel))
        nid = note_ids.get((pf.source.root, pf.source.rel), SELF)
        for r in pf.records:
            if isinstance(r, FileError):
                out.errors.append(r)
            elif isinstance(r, NodeRecord):
                r = _subst_node(r, nid)
                if r.kind == "paper":
                    paper_roots[id(r)] = pf.source.root
                    papers.append(r)
                elif r.kind == summaries.KIND:
                    paper_summaries.append(r)
                elif r.id in out.nodes and not out.nodes[r.id].meta.get("stub"):
                    if not r.meta.get("stub"):
                        msg = f"id '{r.id}' is already defined in {owner[r.id]}; rename one"
                        out.errors.append(FileError(pf.source.path, r.line, msg))
                else:
                    out.nodes[r.id] = r
                    out.roots[r.id] = pf.source.root
                    owner[r.id] = pf.source.path
            else:
                pending.append((pf, _subst_edge(r, nid)))

    merged, alias = merge_papers(papers)
    out.errors += summaries.apply_summaries(merged, paper_summaries)
    for p in merged:
        if p.id not in out.nodes or out.nodes[p.id].meta.get("stub"):
            out.nodes[p.id] = p
            out.roots[p.id] = paper_roots[id(p)]
    refs = _paper_refs(merged)

    for pf, e in pending:
        target = _resolve_target(e, pf, indexes, refs, alias, known, out)
        if target is None or target == e.source:
            continue
        e.target = target
        e.source = alias.get(e.source, e.source)
        key = e.key()
        if key not in out.edges:
            out.edges[key] = e
            out.edge_roots[key] = pf.source.root
    # A stub a file declared (a pasted page's related concept) is dropped when its link resolved elsewhere.
    ends = {x for key in out.edges for x in key[:2]}
    for nid in [n for n, rec in out.nodes.items() if rec.meta.get("stub") and n not in ends]:
        del out.nodes[nid]
        del out.roots[nid]
    return out


def _subst_node(r: NodeRecord, nid: str) -> NodeRecord:
    if r.id == SELF:
        r.id = nid
    if r.meta.get("note") == SELF:
        r.meta["note"] = nid
    return r


def _subst_edge(e: EdgeRecord, nid: str) -> EdgeRecord:
    if e.source == SELF:
        e.source = nid
    if e.target == SELF:
        e.target = nid
    return e


def _paper_refs(papers: list[NodeRecord]) -> dict[str, str]:
    refs: dict[str, str] = {}
    for p in papers:
        refs[p.id.lower()] = p.id
        for key in p.meta.get("keys", []):
            refs[key.lower()] = p.id
        if p.meta.get("arxiv"):
            refs["arxiv:" + p.meta["arxiv"].lower()] = p.id
        if p.meta.get("doi"):
            refs["doi:" + p.meta["doi"]] = p.id
        refs.setdefault("title:" + normalise_title(p.title), p.id)
    return refs


def _resolve_target(
    e: EdgeRecord,
    pf: ParsedFile,
    indexes: dict[str, LinkIndex],
    refs: dict[str, str],
    alias: dict[str, str],
    known: Known,
    out: Assembly,
) -> str | None:
    t = e.target
    if t.startswith("link:"):
        name = t[5:]
        hit = indexes.get(pf.source.root, LinkIndex()).resolve(name, pf.source.rel)
        if hit:
            return hit.id
        sid = slugify(posixpath.basename(name.removesuffix(".md")))
        if sid not in out.nodes:
            title = posixpath.basename(name).removesuffix(".md")
            out.nodes[sid] = NodeRecord(sid, "concept", title, "", "", 0, {"stub": True, "dek": ""})
            out.roots[sid] = ""
        return sid
    if t.startswith("cite:"):
        ref = t[5:].strip()
        pid = _paper_lookup(ref, refs) or known.paper_ref(ref)
        if pid:
            return pid
        sid = _stub_paper_id(ref)
        if sid not in out.nodes:
            out.nodes[sid] = NodeRecord(sid, "paper", ref, "", "", 0, {"stub": True, "authors": [], "year": ""})
            out.roots[sid] = ""
        return sid
    if t.startswith("tag:"):
        _add_tag(t[4:], out)
        return t
    if t.startswith("experiment:") or e.source.startswith("experiment:"):
        exp = e.source if e.source.startswith("experiment:") else t
        if exp not in out.nodes and not known.exists(exp):
            out.errors.append(
                FileError(
                    pf.source.path,
                    e.line,
                    f"claim names experiment '{exp[11:]}' but there is no experiments/{exp[11:]}.py; "
                    "add the module or fix the name",
                )
            )
            return None
        return t
    return alias.get(t, t)


def _paper_lookup(ref: str, refs: dict[str, str]) -> str | None:
    low = ref.lower()
    if low in refs:
        return refs[low]
    if low.startswith("arxiv:") or clean_arxiv(ref) == ref:
        a = clean_arxiv(ref)
        return refs.get(f"arxiv:{a}".lower()) if a else None
    if low.startswith("doi:"):
        d = clean_doi(ref[4:])
        return refs.get(f"doi:{d}") if d else None
    return refs.get("title:" + normalise_title(ref))


def _stub_paper_id(ref: str) -> str:
    low = ref.lower()
    if low.startswith("arxiv:") and clean_arxiv(ref):
        return f"arxiv:{clean_arxiv(ref)}"
    if low.startswith("doi:") and clean_doi(ref[4:]):
        return f"doi:{clean_doi(ref[4:])}"
    return "paper:" + slugify(ref)[:72]


def _add_tag(tag: str, out: Assembly) -> None:
    """Add a tag node and its ancestors, each nested tag linked to its parent by `broader`."""
    parts = tag.split("/")
    for i in range(len(parts), 0, -1):
        name = "/".join(parts[:i])
        tid = "tag:" + name
        if tid not in out.nodes:
            out.nodes[tid] = NodeRecord(tid, "tag", "#" + name, "", "", 0, {})
            out.roots[tid] = ""
        if i > 1:
            e = EdgeRecord(tid, "tag:" + "/".join(parts[: i - 1]), "broader", origin="derived")
            out.edges.setdefault(e.key(), e)
            out.edge_roots.setdefault(e.key(), "")


def records_to_json(records: list[Record]) -> list[dict[str, Any]]:
    """Cacheable form of a file's records."""
    out = []
    for r in records:
        kind = "node" if isinstance(r, NodeRecord) else "edge" if isinstance(r, EdgeRecord) else "error"
        out.append({"t": kind, **r.to_dict()})
    return out


def records_from_json(items: list[dict[str, Any]]) -> list[Record]:
    out: list[Record] = []
    for d in items:
        d = dict(d)
        t = d.pop("t")
        out.append(NodeRecord(**d) if t == "node" else EdgeRecord(**d) if t == "edge" else FileError(**d))
    return out
