"""arXiv ids and DOIs, found wherever bibliographies, feeds and PDFs keep them.

An arXiv id is returned without its version (`2003.02218`, `hep-th/9901001`); a DOI lowercased without
its resolver (`10.1103/physrevlett.61.259`). arXiv's own DOIs (`10.48550/arXiv.2003.02218`) are arXiv ids.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Archives that had old-style ids (before April 2007), each optionally with a subject class.
OLD_ARCHIVES = (
    "acc-phys|adap-org|alg-geom|ao-sci|astro-ph|atom-ph|bayes-an|chao-dyn|chem-ph|cmp-lg|comp-gas|cond-mat|cs"
    "|dg-ga|funct-an|gr-qc|hep-ex|hep-lat|hep-ph|hep-th|math-ph|math|mtrl-th|nlin|nucl-ex|nucl-th|patt-sol"
    "|physics|plasm-ph|q-alg|q-bio|quant-ph|solv-int|supr-con"
)
_NEW = r"(?:0[7-9]|[1-3]\d)(?:0[1-9]|1[0-2])\.\d{4,5}"
_OLD = rf"(?:{OLD_ARCHIVES})(?:\.[A-Za-z][A-Za-z\-]{{1,12}})?/\d{{7}}"
ARXIV_ID = re.compile(rf"(?<![\w.\-/])({_NEW}|{_OLD})(v\d+)?(?![\d])")
ARXIV_IN_TEXT = re.compile(
    rf"(?:arxiv\s*[:.]?\s*|arxiv\.org/(?:abs|pdf|html|format)/|10\.48550/arxiv\.|\babs/)({_NEW}|{_OLD})(v\d+)?(?![\d])",
    re.I,
)
DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>{}\\]+)")
ARXIV_DOI = re.compile(rf"^10\.48550/arxiv\.({_NEW}|{_OLD})(?:v\d+)?$", re.I)
# Fields where an arXiv id may stand alone, without an "arXiv:" before it.
BARE_ID_FIELDS = ("eprint", "arxivid", "arxiv", "arxiv_id")
# Fields searched for "arXiv:…", arxiv.org URLs and DOIs.
TEXT_FIELDS = (
    *("doi", "url", "pdf", "note", "howpublished", "journal", "booktitle", "eprint", "volume", "annote", "title"),
)


def _canonical(raw: str) -> str:
    """An old-style id without its subject class (`math.ST/0601001` is `math/0601001`), as arXiv lists it."""
    if "/" not in raw:
        return raw
    archive, _, num = raw.partition("/")
    return f"{archive.partition('.')[0].lower()}/{num}"


def clean_arxiv(raw: str | None) -> str | None:
    """The arXiv id in `raw` without its version, or None.

    >>> clean_arxiv("arXiv:1806.07572v4")
    '1806.07572'
    >>> clean_arxiv("hep-th/9901001v2")
    'hep-th/9901001'
    >>> clean_arxiv("math.ST/0601001")
    'math/0601001'
    >>> clean_arxiv("https://arxiv.org/pdf/2001.08361v1.pdf")
    '2001.08361'
    >>> clean_arxiv("not an id") is None
    True
    """
    if not raw:
        return None
    m = ARXIV_IN_TEXT.search(raw) or ARXIV_ID.search(raw)
    if not m:
        return None
    found = m.group(1)
    return _canonical(found)


def find_arxiv(text: str | None) -> str | None:
    """An arXiv id that the text marks as one (`arXiv:…`, an arxiv.org URL, an arXiv DOI), or None.

    Unlike `clean_arxiv`, a bare number such as a page range is never taken for an id.

    >>> find_arxiv("arXiv preprint arXiv:2003.02218")
    '2003.02218'
    >>> find_arxiv("pages 1203.1234--1240") is None
    True
    """
    if not text:
        return None
    m = ARXIV_IN_TEXT.search(text)
    if not m:
        return None
    return _canonical(m.group(1))


def clean_doi(raw: str | None) -> str | None:
    """A DOI, lowercased, without a resolver prefix or trailing punctuation.

    >>> clean_doi("https://doi.org/10.1103/PhysRevLett.61.259")
    '10.1103/physrevlett.61.259'
    >>> clean_doi("doi:10.1000/xyz123.")
    '10.1000/xyz123'
    """
    if not raw:
        return None
    m = DOI.search(str(raw))
    return m.group(1).rstrip(".,;:)]").lower() if m else None


def arxiv_from_doi(doi: str | None) -> str | None:
    """The arXiv id inside one of arXiv's own DOIs, else None.

    >>> arxiv_from_doi("10.48550/ARXIV.2003.02218")
    '2003.02218'
    >>> arxiv_from_doi("10.1103/physrevlett.61.259") is None
    True
    """
    m = ARXIV_DOI.match(doi or "")
    return clean_arxiv(m.group(1)) if m else None


def ids_from_fields(fields: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(arXiv id, DOI) from a bibliography entry's fields (lowercase names, raw values).

    Looks in `eprint` (with or without `archivePrefix`), `arxivid`, `url`, `pdf`, `note`, `howpublished`,
    `journal` and `doi`, and in DBLP's `journal = {CoRR}, volume = {abs/…}`. An arXiv DOI gives the
    arXiv id and is not kept as a DOI.
    """
    arxiv: str | None = None
    prefix = fields.get("archiveprefix", "").strip().lower()
    for key in BARE_ID_FIELDS:
        value = fields.get(key, "")
        if value and (key != "eprint" or prefix in ("", "arxiv")):
            arxiv = arxiv or clean_arxiv(value)
    doi = None
    for key in ("doi", "url", "note", "howpublished"):
        found = clean_doi(fields.get(key))
        if found and (key == "doi" or "doi" in fields.get(key, "").lower()):
            doi = found
            break
    if doi and arxiv_from_doi(doi):
        arxiv = arxiv or arxiv_from_doi(doi)
        doi = None
    for key in TEXT_FIELDS:
        arxiv = arxiv or find_arxiv(fields.get(key))
    journal = fields.get("journal", "").strip().lower()
    if not arxiv and journal in ("corr", "arxiv", "computing research repository", "arxiv.org"):
        arxiv = clean_arxiv(fields.get("volume", "")) or clean_arxiv(fields.get("number", ""))
    return arxiv, doi
