"""The ingest pipeline's parse stage, read top to bottom: scan → read → parse (one module per format).

Pure: it reads files and returns records. `ingest.assemble` resolves them; only `kg.sync` touches the store.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ingest.arxiv import parse_atom, parse_jsonl
from ingest.bibtex import parse_bibtex
from ingest.experiments import parse_experiment
from ingest.markdown import parse_note
from ingest.notepage import looks_like_note_page, parse_note_page
from ingest.pdf import parse_pdf
from ingest.records import EdgeRecord, FileError, FileWarning, NodeRecord, ParseError
from ingest.scan import ScanResult, SourceFile, format_of, scan
from ingest.summaries import parse_summaries
from ingest.text import decode_lenient, read_bytes

__all__ = ["ScanResult", "SourceFile", "format_of", "scan"]

PARSER_VERSION = "6"
SELF = "@self"
Record = NodeRecord | EdgeRecord | FileError | FileWarning


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
    except RecursionError:
        msg = "nested too deeply to read; simplify the file"
        return ParsedFile(sf, digest, [FileError(sf.path, None, msg)], failed=True)
    for r in records:
        if isinstance(r, (FileError, FileWarning)):
            r.path = sf.path
    return ParsedFile(sf, digest, records)


# One parser per format; each takes (text, vault-relative path) and yields records.
TEXT_PARSERS: dict[str, Callable[[str, str], Iterator[Any]]] = {
    "markdown": lambda text, rel: parse_note(text, rel, SELF),
    "bibtex": parse_bibtex,
    "atom": parse_atom,
    "jsonl": parse_jsonl,
    "summaries": parse_summaries,
    "experiment": lambda text, rel: parse_experiment(text, rel, posixpath.basename(rel)[:-3]),
    "notepage": lambda text, rel: parse_note_page(text, rel) if looks_like_note_page(text) else iter(()),
}


def _parse(sf: SourceFile, data: bytes) -> Iterator[Record]:
    fmt = sf.fmt or ""
    if fmt == "pdf":
        if not data.strip():
            yield FileWarning(sf.path, None, "empty-file", "the PDF is empty (0 bytes): nothing to read")
            return
        yield from parse_pdf(data, sf.rel)
        return
    text, repairs = decode_lenient(data)
    for kind, line, message in repairs:
        yield FileWarning(sf.path, line, kind, message)
    if not text.strip():
        if fmt == "markdown":
            yield from parse_note("", sf.rel, SELF)
        return
    yield from TEXT_PARSERS[fmt](text, sf.rel)


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


def records_to_json(records: list[Record]) -> list[dict[str, Any]]:
    """Cacheable form of a file's records."""
    kinds = {NodeRecord: "node", EdgeRecord: "edge", FileError: "error", FileWarning: "warning"}
    return [{"t": kinds[type(r)], **r.to_dict()} for r in records]


def records_from_json(items: list[dict[str, Any]]) -> list[Record]:
    classes = {"node": NodeRecord, "edge": EdgeRecord, "error": FileError, "warning": FileWarning}
    out: list[Record] = []
    for d in items:
        d = dict(d)
        out.append(classes[d.pop("t")](**d))
    return out
