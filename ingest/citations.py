"""Citations as researchers write them in a note's body: arXiv ids, DOIs, Pandoc and LaTeX keys.

Each citation is a reference string the pipeline resolves to a paper (`arxiv:<id>`, `doi:<doi>`, or
`key:<citation key>`), with where it was found and how it was written. Every pattern is bounded, so a
scan is linear in the text whatever it holds.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass

_NEW_ID = r"\d{4}\.\d{4,5}"
_OLD_ID = r"[a-z][a-z\-]{1,15}(?:\.[A-Z]{2})?/\d{7}"
ARXIV_URL = re.compile(
    rf"arxiv\.org/(?:abs|pdf|html)/({_NEW_ID}|{_OLD_ID})(?:v\d{{1,3}})?(?:\.pdf)?",
    re.I,
)
ARXIV_PREFIXED = re.compile(rf"\barxiv\s{{0,2}}:\s{{0,2}}({_NEW_ID}|{_OLD_ID})(?:v\d{{1,3}})?", re.I)
# Old-style ids are distinctive enough to find bare; new-style bare numbers are not (they look like dates).
OLD_BARE = re.compile(
    r"(?<![\w/.])((?:hep-th|hep-ph|hep-lat|hep-ex|gr-qc|quant-ph|cond-mat|math-ph|nucl-th|astro-ph|cs|math|physics"
    r"|stat|q-bio|nlin)(?:\.[A-Z]{2})?/\d{7})(?:v\d{1,3})?(?![\w/])"
)
DOI = re.compile(r"(?:doi\s{0,2}:\s{0,2}|doi\.org/|\b)(10\.\d{4,9}/[^\s\"<>\]}]{1,200})", re.I)
PANDOC = re.compile(r"\[([^\[\]\n]{0,400}?@[^\[\]\n]{1,400}?)\]")
PANDOC_KEY = re.compile(r"(?<![\w@])-?@([A-Za-z0-9_][\w:.#$%&\-+?<>~/]{0,120})")
LATEX = re.compile(
    r"\\(?:cite|citep|citet|citealt|citealp|citeauthor|citeyear|parencite|textcite|autocite)\*?"
    r"(?:\[[^\]\n]{0,200}\]){0,2}\{([^{}\n]{1,800})\}"
)


@dataclass(frozen=True, slots=True)
class Citation:
    pos: int
    ref: str  # arxiv:<id>, doi:<doi> or key:<citation key>
    origin: str  # arxiv, doi, pandoc or latex
    written: str  # the text as it stands in the note


def _clean_doi(doi: str) -> str:
    doi = doi.rstrip(".,;:")
    while doi.endswith(")") and doi.count("(") < doi.count(")"):
        doi = doi[:-1]
    return doi.lower()


class _Spans:
    """Disjoint spans already read, kept sorted so a lookup is a bisection."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def free(self, a: int, b: int) -> bool:
        i = bisect.bisect_right(self.starts, a)
        if i and self.ends[i - 1] > a:
            return False
        return i == len(self.starts) or self.starts[i] >= b

    def add(self, span: tuple[int, int]) -> None:
        i = bisect.bisect_right(self.starts, span[0])
        self.starts.insert(i, span[0])
        self.ends.insert(i, span[1])


def find_citations(text: str) -> Iterator[Citation]:
    """Every citation in `text`, in order of position; a span is read once.

    >>> [c.ref for c in find_citations("See arXiv:2003.02218v2 and https://arxiv.org/pdf/1806.07572v4.pdf.")]
    ['arxiv:2003.02218', 'arxiv:1806.07572']
    >>> [c.ref for c in find_citations("As in [@saxe2013; @jacot2018, p. 3] and \\\\citep[see][]{a,b}.")]
    ['key:saxe2013', 'key:jacot2018', 'key:a', 'key:b']
    >>> [c.ref for c in find_citations("hep-th/9901001 and doi:10.1103/PhysRevLett.61.259.")]
    ['arxiv:hep-th/9901001', 'doi:10.1103/physrevlett.61.259']
    """
    found: list[Citation] = []
    taken = _Spans()
    free = taken.free

    # Each pattern runs only where its anchor occurs at all: most notes cite nothing, and a scan is cheap.
    low = text.lower()
    arxiv = [
        p for p, anchor in ((ARXIV_URL, "arxiv.org/"), (ARXIV_PREFIXED, "arxiv"), (OLD_BARE, "/")) if anchor in low
    ]
    for pattern in arxiv:
        origin = "arxiv"
        for m in pattern.finditer(text):
            if free(m.start(), m.end()):
                taken.add((m.start(), m.end()))
                found.append(Citation(m.start(), "arxiv:" + m.group(1).lower(), origin, m.group(0)))
    for m in DOI.finditer(text) if "10." in text else ():
        if not free(m.start(1), m.end(1)):
            continue
        doi = _clean_doi(m.group(1))
        taken.add((m.start(), m.end()))
        if doi.startswith("10.48550/arxiv."):
            found.append(Citation(m.start(), "arxiv:" + doi.removeprefix("10.48550/arxiv."), "doi", m.group(0)))
        else:
            found.append(Citation(m.start(), "doi:" + doi, "doi", m.group(0)))
    for m in PANDOC.finditer(text) if "@" in text else ():
        if not free(m.start(), m.end()) or "](" in text[m.end() - 1 : m.end() + 1]:
            continue  # a Markdown link's text, not a citation
        for k in PANDOC_KEY.finditer(m.group(1)):
            key = k.group(1).rstrip(".,;:")
            if key:
                found.append(Citation(m.start(), "key:" + key, "pandoc", m.group(0)))
        taken.add((m.start(), m.end()))
    for m in LATEX.finditer(text) if "\\" in text and "cite" in low else ():
        if not free(m.start(), m.end()):
            continue
        taken.add((m.start(), m.end()))
        for key in m.group(1).split(","):
            if key.strip():
                found.append(Citation(m.start(), "key:" + key.strip(), "latex", m.group(0)))
    found.sort(key=lambda c: c.pos)
    return iter(found)
