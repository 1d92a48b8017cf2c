"""Paper identity: stable ids, and folding the same paper from several sources into one node."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from itertools import combinations
from typing import Any

from ingest.latex import latex_to_text
from ingest.paperids import ARXIV_IN_TEXT, arxiv_from_doi, clean_arxiv, clean_doi, find_arxiv
from ingest.records import NodeRecord, normalise_title, slugify

__all__ = ["ARXIV_IN_TEXT", "clean_arxiv", "clean_doi", "find_arxiv", "merge_papers", "paper_id", "paper_record"]


def title_hash(title: str) -> str:
    """Six hex digits that tell titles apart even where their slugs agree (any script, any length).

    >>> title_hash("Deep  Learning") == title_hash("deep learning")
    True
    >>> title_hash("深度学习") != title_hash("機械学習")
    True
    """
    words = re.findall(r"\w+", unicodedata.normalize("NFKC", title).casefold())
    return hashlib.sha1(" ".join(words).encode("utf-8")).hexdigest()[:6]


def paper_id(arxiv: str | None, doi: str | None, title: str, year: str | int | None) -> str:
    """Stable id: arxiv:<id>, else doi:<doi>, else the whole title's slug, the year and a title hash.

    >>> paper_id(None, None, "A Very Long Title", 2020)
    'paper:a-very-long-title-2020-329027'
    """
    if arxiv:
        return f"arxiv:{arxiv}"
    if doi:
        return f"doi:{doi}"
    return f"paper:{slugify(title)}-{year or 'nd'}-{title_hash(title)}"


def stub_paper_id(ref: str) -> str:
    """The id of a paper known only by a citation: its arXiv id or DOI where it has one, else its title.

    >>> stub_paper_id("arXiv:2003.02218v2")
    'arxiv:2003.02218'
    >>> stub_paper_id("doi:10.48550/arXiv.2003.02218")
    'arxiv:2003.02218'
    """
    low = ref.strip().lower()
    doi = clean_doi(ref) if low.startswith("doi:") or low.startswith("10.") or "doi.org/" in low else None
    arxiv = arxiv_from_doi(doi) or (clean_arxiv(ref) if low.startswith("arxiv:") else find_arxiv(ref))
    return paper_id(arxiv, None if arxiv else doi, ref.strip(), None)


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
    """Build the node for one paper from whatever a source knows about it; LaTeX is decoded here."""
    doi = clean_doi(doi)
    arxiv = clean_arxiv(arxiv) or arxiv_from_doi(doi)
    if arxiv_from_doi(doi):
        doi = None
    title = latex_to_text(title)
    authors = [a for a in (latex_to_text(a) for a in authors) if a and a.lower() != "others"]
    year_s = str(year).strip()[:4] if year not in (None, "") else ""
    meta: dict[str, Any] = {
        "authors": authors,
        "year": year_s,
        "venue": latex_to_text(venue),
        "arxiv": arxiv or "",
        "doi": doi or "",
        "keys": [key] if key else [],
        "sources": [path],
        "ids": {"arxiv": [arxiv] if arxiv else [], "doi": [doi] if doi else [], "keys": [key] if key else []},
    }
    if extra:
        meta.update(extra)
    return NodeRecord(paper_id(arxiv, doi, title, year_s), "paper", title, abstract, path, line, meta)


def surname(author: str) -> str:
    """The family name of an author as a source wrote it, lowercased ASCII ('Last, First' or 'First Last').

    >>> surname("Clément Hongler"), surname("Hongler, C."), surname("Google Brain Team")
    ('hongler', 'hongler', 'team')
    """
    name = author.split(",")[0] if "," in author else (author.split() or [""])[-1]
    return normalise_title(name).replace(" ", "")


def _ids(rec: NodeRecord, kind: str) -> set[str]:
    ids = rec.meta.get("ids", {}).get(kind) or []
    single = rec.meta.get(kind[:-1] if kind == "keys" else kind)
    return set(ids) | ({single} if isinstance(single, str) and single else set())


def _year(rec: NodeRecord) -> int | None:
    y = str(rec.meta.get("year") or "")
    return int(y) if y.isdigit() else None


def _richness(rec: NodeRecord) -> tuple[Any, ...]:
    """Orders records so the one with an arXiv id, a DOI, then most metadata comes first; ties by path."""
    m = rec.meta
    filled = sum(bool(m.get(k)) for k in ("authors", "year", "venue")) + bool(rec.text)
    return (not m.get("arxiv"), not m.get("doi"), -filled, rec.path, rec.line, rec.id, rec.title)


def title_key(title: str) -> str:
    """A title reduced to its words, accents dropped, in any script, for matching across sources.

    >>> title_key("{Deep} Linear   Networks: a Théorie")
    'deep linear networks a theorie'
    """
    norm = "".join(c for c in unicodedata.normalize("NFKD", title) if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", norm.casefold()))


class _Groups:
    """Union-find over record indexes, remembering each group's arXiv ids and DOIs."""

    def __init__(self, recs: list[NodeRecord]) -> None:
        self.parent = list(range(len(recs)))
        self.arxiv = [_ids(r, "arxiv") for r in recs]
        self.doi = [_ids(r, "doi") for r in recs]

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = sorted((self.find(i), self.find(j)))
        if a != b:
            self.parent[b] = a
            self.arxiv[a] |= self.arxiv[b]
            self.doi[a] |= self.doi[b]

    def conflict(self, i: int, j: int) -> bool:
        """Two groups that name different arXiv ids, or different DOIs, are different papers."""
        a, b = self.find(i), self.find(j)
        return bool(
            (self.arxiv[a] and self.arxiv[b] and not self.arxiv[a] & self.arxiv[b])
            or (self.doi[a] and self.doi[b] and not self.doi[a] & self.doi[b])
        )


def _years_close(a: NodeRecord, b: NodeRecord) -> bool:
    ya, yb = _year(a), _year(b)
    return ya is None or yb is None or abs(ya - yb) <= 1


def titles_agree(a: str, b: str) -> bool:
    """Whether two titles can name one paper: half the words of the shorter (3+ letters) are in the other.

    Guards against an id copied onto the wrong entry, which real bibliographies have.

    >>> titles_agree("Neural Tangent Kernel", "Neural tangent kernel: convergence and generalization")
    True
    >>> titles_agree("Concrete Problems in AI Safety", "The De-democratization of AI")
    False
    """
    wa, wb = ({w for w in title_key(t).split() if len(w) > 2} for t in (a, b))
    if not wa or not wb:
        return True
    return len(wa & wb) >= 0.5 * min(len(wa), len(wb))


def _drop_id(rec: NodeRecord, kind: str, value: str) -> None:
    """Take a contested id off a record (it stays in meta.suspect_ids for the user to check)."""
    m = rec.meta
    m["ids"] = {**m.get("ids", {}), kind: [x for x in m.get("ids", {}).get(kind, []) if x != value]}
    if m.get(kind) == value:
        m[kind] = m["ids"][kind][0] if m["ids"][kind] else ""
    m.setdefault("suspect_ids", []).append(f"{kind}:{value}")
    rec.id = paper_id(m.get("arxiv") or None, m.get("doi") or None, rec.title, m.get("year"))


def _group(recs: list[NodeRecord]) -> _Groups:
    """Join records by arXiv id, then DOI, then title with first author's surname (a year apart at most).

    A bibliography entry that shares an id with another entry of a plainly different title loses that id.
    """
    for kind in ("arxiv", "doi"):
        first: dict[str, NodeRecord] = {}
        for r in recs:
            for x in sorted(_ids(r, kind)):
                anchor = first.setdefault(x, r)
                # Only hand-written entries (with citation keys) are suspected; feeds and PDF stamps are not.
                if anchor.meta.get("keys") and r.meta.get("keys") and not titles_agree(anchor.title, r.title):
                    _drop_id(r, kind, x)
    g = _Groups(recs)
    for kind in ("arxiv", "doi"):
        seen: dict[str, int] = {}
        for i, r in enumerate(recs):
            for x in sorted(_ids(r, kind)):
                g.union(seen.setdefault(x, i), i)
    by_title: dict[str, list[int]] = {}
    for i, r in enumerate(recs):
        if title_key(r.title):
            by_title.setdefault(title_key(r.title), []).append(i)
    for members in by_title.values():
        authored = [i for i in members if recs[i].meta.get("authors")]
        for i, j in combinations(authored, 2):
            same = surname(recs[i].meta["authors"][0]) == surname(recs[j].meta["authors"][0])
            if same and _years_close(recs[i], recs[j]) and not g.conflict(i, j):
                g.union(i, j)
        for i in (i for i in members if not recs[i].meta.get("authors")):
            fits = {g.find(j) for j in members if j != i and _years_close(recs[i], recs[j]) and not g.conflict(i, j)}
            if len(fits - {g.find(i)}) == 1:
                g.union(i, min(fits - {g.find(i)}))
    return g


def merge_papers(records: list[NodeRecord]) -> tuple[list[NodeRecord], dict[str, str]]:
    """Fold records of the same paper into one node, whatever order they come in.

    Same arXiv id first, then the same DOI, then the same full title and first author's surname, with
    years at most one apart (preprint and publication). A record without authors joins the one paper of
    that title it fits. The richest record is kept (mutated in place) and takes every id, key and source
    of the others. Returns the merged records sorted by id and a map from every folded id to its kept id.
    """
    recs = sorted(records, key=_richness)
    g = _group(recs)
    groups: dict[int, list[NodeRecord]] = {}
    for i, r in enumerate(recs):
        groups.setdefault(g.find(i), []).append(r)
    kept: list[NodeRecord] = []
    alias: dict[str, str] = {}
    for members in groups.values():
        head, old_ids = members[0], [r.id for r in members]
        for other in members[1:]:
            _fold(head, other)
        head.id = paper_id(head.meta["arxiv"] or None, head.meta["doi"] or None, head.title, head.meta["year"])
        alias.update({old: head.id for old in old_ids if old != head.id})
        kept.append(head)
    kept.sort(key=lambda r: r.id)
    return kept, alias


def _fold(into: NodeRecord, other: NodeRecord) -> None:
    m, o = into.meta, other.meta
    for k, v in o.items():
        if k not in ("ids", "keys", "sources") and v and not m.get(k):
            m[k] = v
    if not into.text and other.text:
        into.text = other.text
    ids = {kind: sorted(_ids(into, kind) | _ids(other, kind)) for kind in ("arxiv", "doi", "keys")}
    m["ids"] = ids
    m["arxiv"] = m.get("arxiv") or (ids["arxiv"][0] if ids["arxiv"] else "")
    m["doi"] = m.get("doi") or (ids["doi"][0] if ids["doi"] else "")
    m["keys"] = ids["keys"]
    m["sources"] = sorted(set(m.get("sources", [])) | set(o.get("sources", [])))
