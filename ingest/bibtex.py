"""BibTeX bibliographies, read entry by entry so one broken entry never costs the others."""

from __future__ import annotations

import re
from collections.abc import Iterator

from bibtexparser.bparser import BibTexParser
from bibtexparser.customization import convert_to_unicode

from ingest.papers import paper_record
from ingest.records import FileError, NodeRecord, ParseError

ENTRY_START = re.compile(r"^[ \t]*@([A-Za-z]+)[ \t]*[{(]", re.M)
SKIP_TYPES = {"comment", "preamble", "string"}


def _chunks(text: str) -> Iterator[tuple[int, str, str]]:
    """Split a .bib file into (line, type, text) per entry, by the '@type{' that starts each."""
    starts = list(ENTRY_START.finditer(text))
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        yield (
            text.count("\n", 0, m.start()) + 1,
            m.group(1).lower(),
            text[m.start() : end],
        )


def _balanced(chunk: str) -> bool:
    depth = 0
    for ch in chunk:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _clean(value: str) -> str:
    return " ".join(value.replace("{", "").replace("}", "").replace("\\", "").split())


def _authors(raw: str) -> list[str]:
    out = []
    for name in re.split(r"\s+and\s+", _clean(raw)):
        last, sep, first = name.partition(",")
        out.append(f"{first.strip()} {last.strip()}".strip() if sep else name.strip())
    return [a for a in out if a and a.lower() != "others"]


def parse_bibtex(text: str, path: str) -> Iterator[NodeRecord | FileError]:
    """Yield a paper record per good entry and a FileError per broken one."""
    if "@" not in text:
        raise ParseError("no BibTeX entries found (entries start with @article{key, ...)")
    # One parser per file: building the grammar costs far more than parsing an entry.
    parser = BibTexParser(common_strings=True, customization=convert_to_unicode)
    parser.ignore_nonstandard_types = False
    parser.expect_multiple_parse = True
    for line, etype, chunk in _chunks(text):
        if etype in SKIP_TYPES:
            continue
        if not _balanced(chunk.rstrip()):
            yield FileError(path, line, "entry has unbalanced braces; close every { with }")
            continue
        before = len(parser.bib_database.entries)
        try:
            entries = parser.parse(chunk, partial=True).entries[before:]
        except Exception as exc:  # the parser library raises many types; each is one bad entry
            yield FileError(path, line, f"entry could not be parsed ({type(exc).__name__}); check its syntax")
            continue
        if not entries:
            yield FileError(path, line, "entry could not be parsed; check the key and the field syntax")
            continue
        e = entries[0]
        title = _clean(e.get("title", ""))
        if not title:
            yield FileError(
                path,
                line,
                f"entry '{e.get('ID', '?')}' has no title; add title = {{...}}",
            )
            continue
        journal = _clean(e.get("journal", ""))
        arxiv = e.get("eprint") if "arxiv" in e.get("archiveprefix", "arxiv").lower() else None
        if not arxiv and journal.lower().startswith("arxiv"):
            arxiv = journal
        venue = _clean(e.get("booktitle") or ("" if journal.lower().startswith("arxiv") else journal))
        yield paper_record(
            title=title,
            authors=_authors(e.get("author", "")),
            year=e.get("year", "").strip(),
            path=path,
            line=line,
            abstract=_clean(e.get("abstract", "")),
            venue=venue or ("arXiv preprint" if arxiv else _clean(e.get("publisher", ""))),
            arxiv=arxiv or e.get("arxiv") or _arxiv_from_url(e.get("url", "")),
            doi=e.get("doi"),
            key=e.get("ID"),
            extra={"entry_type": e.get("ENTRYTYPE", etype), "url": e.get("url", "")},
        )


def _arxiv_from_url(url: str) -> str | None:
    return url if "arxiv.org/abs/" in url else None
