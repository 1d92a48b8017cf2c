"""arXiv metadata: the API's Atom XML and JSON Lines exports (one record per line)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

from ingest.papers import paper_record
from ingest.records import FileError, NodeRecord, ParseError

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV_NS = "{http://arxiv.org/schemas/atom}"


def _text(el: ET.Element | None) -> str:
    return " ".join((el.text or "").split()) if el is not None else ""


def parse_atom(text: str, path: str) -> Iterator[NodeRecord]:
    """Yield a paper per <entry> of an arXiv API response."""
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise ParseError("XML with a DOCTYPE or entities is refused; export the feed without them")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ParseError(
            f"not well-formed XML ({exc.msg if hasattr(exc, 'msg') else exc})",
            exc.position[0],
        ) from None
    if root.tag != f"{ATOM}feed":
        raise ParseError("not an Atom feed: the root element must be <feed> in the Atom namespace")
    for entry in root.iter(f"{ATOM}entry"):
        title = _text(entry.find(f"{ATOM}title"))
        if not title:
            continue
        published = _text(entry.find(f"{ATOM}published"))
        cats = [c.get("term", "") for c in entry.iter(f"{ATOM}category")]
        yield paper_record(
            title=title,
            authors=[_text(a.find(f"{ATOM}name")) for a in entry.iter(f"{ATOM}author")],
            year=published[:4],
            path=path,
            abstract=_text(entry.find(f"{ATOM}summary")),
            venue=_text(entry.find(f"{ARXIV_NS}journal_ref")) or "arXiv preprint",
            arxiv=_text(entry.find(f"{ATOM}id")),
            doi=_text(entry.find(f"{ARXIV_NS}doi")) or None,
            extra={"categories": [c for c in cats if c]},
        )


def _authors(value: Any) -> list[str]:
    """Names from arXiv's `authors_parsed` ([last, first, suffix]) or a plain list or string."""
    if isinstance(value, list):
        out = []
        for a in value:
            if isinstance(a, list):
                last, first = (str(x) for x in (a + ["", ""])[:2])
                out.append(" ".join(f"{first} {last} {' '.join(str(x) for x in a[2:])}".split()))
            elif isinstance(a, dict):
                out.append(str(a.get("name") or ""))
            else:
                out.append(str(a))
        return [a for a in out if a]
    if isinstance(value, str):
        return [a.strip() for a in value.replace(" and ", ",").split(",") if a.strip()]
    return []


YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")


def record_year(rec: dict[str, Any]) -> str:
    """The year a JSON record was first published: `published`, `year`, `versions[0].created`, `update_date`.

    >>> record_year({"versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}]})
    '2007'
    >>> record_year({"update_date": "2008-11-13", "published": "2007-04-02T19:18:42Z"})
    '2007'
    """
    versions = rec.get("versions")
    first = versions[0] if isinstance(versions, list) and versions else {}
    created = first.get("created") if isinstance(first, dict) else None
    for value in (rec.get("published"), rec.get("year"), created, rec.get("update_date"), rec.get("date")):
        m = YEAR.search(str(value)) if value not in (None, "") else None
        if m:
            return m.group(1)
    return ""


def parse_jsonl(text: str, path: str) -> Iterator[NodeRecord | FileError]:
    """Yield a paper per JSON line; a bad line is a FileError naming the line, the rest go on."""
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            yield FileError(
                path,
                lineno,
                f"not valid JSON ({getattr(exc, 'msg', 'too deeply nested')})",
            )
            continue
        if not isinstance(rec, dict) or not isinstance(rec.get("title"), str) or not rec["title"].strip():
            yield FileError(path, lineno, "each line must be a JSON object with a non-empty 'title'")
            continue
        year = record_year(rec)
        cats = rec.get("categories") or []
        yield paper_record(
            title=" ".join(rec["title"].split()),
            authors=_authors(rec.get("authors_parsed") or rec.get("authors")),
            year=year,
            path=path,
            line=lineno,
            abstract=" ".join(str(rec.get("abstract") or rec.get("summary") or "").split()),
            venue=str(rec.get("journal-ref") or rec.get("journal_ref") or "arXiv preprint"),
            arxiv=str(rec.get("id") or rec.get("arxiv_id") or ""),
            doi=rec.get("doi") if isinstance(rec.get("doi"), str) else None,
            extra={"categories": cats.split() if isinstance(cats, str) else [str(c) for c in cats]},
        )
