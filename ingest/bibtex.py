"""BibTeX bibliographies through bibtexparser 2: one broken entry never costs the others.

bibtexparser splits the file into blocks and keeps going past a broken one; its middleware decodes LaTeX
(with our shared decoder, `ingest.latex`) and splits author names. arXiv ids and DOIs are read from the
raw values, before decoding, so a `%` or `\\_` in a URL cannot hide them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import bibtexparser
from bibtexparser import middlewares as mw
from bibtexparser.library import Library
from bibtexparser.model import DuplicateBlockKeyBlock, Entry, Field, ParsingFailedBlock

from ingest.latex import decoder, latex_to_text
from ingest.paperids import ids_from_fields
from ingest.papers import paper_record
from ingest.records import FileError, NodeRecord, ParseError

# bibtexparser logs each broken block; the error the user sees is ours, with the line and the fix.
logging.getLogger("bibtexparser").setLevel(logging.ERROR)
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DECODED = ("title", "journal", "booktitle", "publisher", "abstract", "institution", "organization", "school")
CONCAT = re.compile(r'\s*#\s*(?=(?:[^"{}]|"[^"]*"|\{[^{}]*\})*$)')
ARXIV_VENUE = re.compile(r"^(arxiv|corr)\b", re.I)


def parse_bibtex(text: str, path: str) -> Iterator[NodeRecord | FileError]:
    """Yield a paper record per good entry and a FileError (line and fix) per broken one."""
    if "@" not in text:
        raise ParseError("no BibTeX entries found (entries start with @article{key, ...)")
    raw = bibtexparser.parse_string(text)
    strings = {k.lower(): str(s.value).strip('{}"') for k, s in raw.strings_dict.items()}
    strings.update({m: m.capitalize() for m in MONTHS if m not in strings})
    for entry in raw.entries:
        for f in entry.fields:
            if isinstance(f.value, str) and "#" in f.value:
                f.value = _concat(f.value, strings)
    decoded = mw.LatexDecodingMiddleware(allow_inplace_modification=False, decoder=decoder()).transform(
        _only(raw, DECODED)
    )
    names = mw.SplitNameParts(allow_inplace_modification=False).transform(
        mw.SeparateCoAuthors(allow_inplace_modification=False).transform(_only(raw, ("author",)))
    )
    dec = {e.key: e for e in decoded.entries}
    nam = {e.key: e for e in names.entries}
    for block in raw.blocks:
        line = (block.start_line or 0) + 1
        if isinstance(block, DuplicateBlockKeyBlock):
            yield _duplicate(block, path, line)
        elif isinstance(block, ParsingFailedBlock):
            yield FileError(path, line, _failure(block))
        elif isinstance(block, Entry):
            # A field the middleware cannot decode (say, braces nested thousands deep) leaves the entry
            # out of its library; such an entry falls back to our own decoding of each field.
            yield _record(block, dec.get(block.key), nam.get(block.key), path, line)


def _only(library: Library, keys: tuple[str, ...]) -> Library:
    """A library of the entries with just the named fields, so the middleware decodes only those."""
    out = Library()
    for e in library.entries:
        fields = [Field(f.key.lower(), f.value) for f in e.fields if f.key.lower() in keys]
        out.add(Entry(e.entry_type, e.key, fields, e.start_line))
    return out


def _concat(value: str, strings: dict[str, str]) -> str:
    """Resolve BibTeX's `#` concatenation of quoted parts and @string names (bibtexparser 2 leaves it)."""
    parts = CONCAT.split(value)
    if len(parts) < 2:
        return value
    out = []
    for p in parts:
        p = p.strip()
        quoted = p[:1] in '{"' and p[-1:] in '}"'
        out.append(p[1:-1] if quoted else strings.get(p.lower(), p))
    return "".join(out)


def _failure(block: ParsingFailedBlock) -> str:
    exc = block.error
    why = getattr(exc, "abort_reason", None) or getattr(exc, "message", None) or str(exc) or type(exc).__name__
    why = " ".join(str(why).split()).rstrip(".")
    head = (block.raw or "").lstrip()[:40].split("\n")[0]
    if "block start" in why or "closing" in why or "end of file" in why.lower():
        fix = 'it has unbalanced braces: close every { with } (and every quoted value with ")'
    elif "=" in why:
        fix = "write each field as name = {value},"
    else:
        fix = "check the key and the field syntax"
    return f"entry '{head}' could not be parsed ({why}); {fix}"


def _duplicate(block: DuplicateBlockKeyBlock, path: str, line: int) -> FileError:
    first = (block.previous_block.start_line or 0) + 1
    return FileError(path, line, f"key '{block.key}' is already used by the entry at line {first}; rename one")


def _author_names(entry: Entry | None, raw: str) -> list[str]:
    if entry is None:
        return [latex_to_text(a) for a in re.split(r"\s+and\s+", raw) if a.strip() and a.strip() != "others"]
    field = entry.fields_dict.get("author")
    out = []
    for n in field.value if field else []:
        if isinstance(n, mw.NameParts):
            first = " ".join(n.first)
            last = " ".join(n.von + n.last) + (", " + " ".join(n.jr) if n.jr else "")
            out.append(latex_to_text(f"{first} {last}".strip()))
    return [a for a in out if a and a.lower() != "others"]


def _record(entry: Entry, dec: Entry | None, names: Entry | None, path: str, line: int) -> NodeRecord | FileError:
    raw = {f.key.lower(): str(f.value) for f in entry.fields}
    if dec is not None:
        text = {f.key: " ".join(str(f.value).split()) for f in dec.fields}
    else:
        text = {k: latex_to_text(v) for k, v in raw.items() if k in DECODED}
    title = text.get("title", "")
    if not title:
        return FileError(path, line, f"entry '{entry.key}' has no title; add title = {{...}}")
    arxiv, doi = ids_from_fields(raw)
    journal = text.get("journal", "")
    on_arxiv = bool(ARXIV_VENUE.match(journal))
    venue = text.get("booktitle") or ("" if on_arxiv else journal)
    return paper_record(
        title=title,
        authors=_author_names(names, raw.get("author", "")),
        year=raw.get("year", "").strip(),
        path=path,
        line=line,
        abstract=text.get("abstract", ""),
        venue=venue or ("arXiv preprint" if arxiv else text.get("publisher", "")),
        arxiv=arxiv,
        doi=doi,
        key=entry.key,
        extra={"entry_type": entry.entry_type.lower(), "url": raw.get("url", "")},
    )
