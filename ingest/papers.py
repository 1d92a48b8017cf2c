"""Paper identity: stable ids, arXiv id extraction, and folding the same paper from several sources."""

from __future__ import annotations

import re
from typing import Any

from ingest.records import NodeRecord, normalise_title, slugify

NEW_ARXIV = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(v\d+)?(?![\d])")
OLD_ARXIV = re.compile(r"\b([a-z][a-z\-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?\b")
ARXIV_IN_TEXT = re.compile(r"arxiv[:\s/.]*(?:abs/)?(\d{4}\.\d{4,5}|[a-z][a-z\-]+(?:\.[A-Z]{2})?/\d{7})", re.I)
DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>{}]+)")


def clean_arxiv(raw: str | None) -> str | None:
    """The arXiv id in `raw` without its version, or None.

    >>> clean_arxiv("arXiv:1806.07572v4")
    '1806.07572'
    >>> clean_arxiv("hep-th/9901001v2")
    'hep-th/9901001'
    >>> clean_arxiv("not an id") is None
    True
    """
    if not raw:
        return None
    m = NEW_ARXIV.search(raw) or OLD_ARXIV.search(raw)
    return m.group(1) if m else None


def clean_doi(raw: str | None) -> str | None:
    """A DOI, lowercased, without a resolver prefix.

    >>> clean_doi("https://doi.org/10.1103/PhysRevLett.61.259")
    '10.1103/physrevlett.61.259'
    """
    if not raw:
        return None
    m = DOI.search(str(raw))
    return m.group(1).rstrip(".,;").lower() if m else None


def paper_id(arxiv: str | None, doi: str | None, title: str, year: str | int | None) -> str:
    """Stable id: arxiv:<id>, else doi:<doi>, else a slug of title and year."""
    if arxiv:
        return f"arxiv:{arxiv}"
    if doi:
        return f"doi:{doi}"
    return f"paper:{slugify(title)[:72]}-{year or 'nd'}"


def paper_record(
    *,
    title: str,
    authors: list[str],
    year: str | int | None,
    path: str,
    line: int = 0,
    abstract: str = "",
    venue: str = "",
    arxiv: str | None = None,
    doi: str | None = None,
    key: str | None = None,
    extra: dict[str, Any] | None = None,
) -> NodeRecord:
    """Build the node for one paper from whatever a source knows about it."""
    arxiv = clean_arxiv(arxiv)
    doi = clean_doi(doi)
    year_s = str(year).strip() if year not in (None, "") else ""
    meta: dict[str, Any] = {
        "authors": authors,
        "year": year_s,
        "venue": venue,
        "arxiv": arxiv or "",
        "doi": doi or "",
        "keys": [key] if key else [],
        "sources": [path],
    }
    if extra:
        meta.update(extra)
    return NodeRecord(paper_id(arxiv, doi, title, year_s), "paper", title, abstract, path, line, meta)


def merge_papers(records: list[NodeRecord]) -> tuple[list[NodeRecord], dict[str, str]]:
    """Fold records of the same paper into one node.

    Same arXiv id first, then the same DOI, then the same normalised title and year (a missing year
    matches any year). Returns the merged records and a map from every folded id to its kept id.
    """
    kept: list[NodeRecord] = []
    by_arxiv: dict[str, NodeRecord] = {}
    by_doi: dict[str, NodeRecord] = {}
    by_title: dict[str, list[NodeRecord]] = {}
    alias: dict[str, str] = {}
    for rec in sorted(records, key=_richness, reverse=True):
        m = rec.meta
        tkey = normalise_title(rec.title)
        match = (m["arxiv"] and by_arxiv.get(m["arxiv"])) or (m["doi"] and by_doi.get(m["doi"]))
        if not match:
            for cand in by_title.get(tkey, []):
                if not m["year"] or not cand.meta["year"] or m["year"] == cand.meta["year"]:
                    if not (m["arxiv"] and cand.meta["arxiv"]) and not (m["doi"] and cand.meta["doi"]):
                        match = cand
                        break
        if match:
            _fold(match, rec)
            alias[rec.id] = match.id
        else:
            kept.append(rec)
            match = rec
        if match.meta["arxiv"]:
            by_arxiv[match.meta["arxiv"]] = match
        if match.meta["doi"]:
            by_doi[match.meta["doi"]] = match
        if tkey and match not in by_title.setdefault(tkey, []):
            by_title[tkey].append(match)
    kept.sort(key=lambda r: r.id)
    return kept, alias


def _richness(rec: NodeRecord) -> tuple[int, int, str, int, str]:
    """Order records so the one with an arXiv id, a DOI, then most metadata is kept."""
    m = rec.meta
    filled = sum(bool(m.get(k)) for k in ("authors", "year", "venue")) + bool(rec.text)
    return (bool(m["arxiv"]), bool(m["doi"]), "", filled, rec.path)


def _fold(into: NodeRecord, other: NodeRecord) -> None:
    m, o = into.meta, other.meta
    for k in ("authors", "year", "venue", "arxiv", "doi"):
        if not m.get(k) and o.get(k):
            m[k] = o[k]
    if not into.text and other.text:
        into.text = other.text
    for k in ("keys", "sources"):
        m[k] = sorted(set(m.get(k, [])) | set(o.get(k, [])))
