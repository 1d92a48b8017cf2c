"""Note pages pasted from a notes system: question title, dek, body, inquiring lines, related concepts,
related papers and the original note title. Each section becomes nodes and typed edges."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ingest.papers import paper_record
from ingest.records import EdgeRecord, NodeRecord, ParseError, slugify

INQUIRIES = re.compile(r"^Inquiring lines\b", re.I)
CONCEPTS = re.compile(r"^Related concepts\b", re.I)
PAPERS = re.compile(r"^Related papers\b", re.I)
ORIGINAL = re.compile(r"^Original note title\b", re.I)
MARKERS = (INQUIRIES, CONCEPTS, PAPERS, ORIGINAL)
BLURB = re.compile(r"^(This note|Papers most|Click a node)", re.I)


def looks_like_note_page(text: str) -> bool:
    """True when a text file has the section headings of a pasted note page."""
    heads = sum(1 for ln in text.split("\n") for m in MARKERS if m.match(ln.strip()))
    return heads >= 2


def parse_note_page(text: str, path: str) -> Iterator[NodeRecord | EdgeRecord]:
    lines = text.split("\n")
    idx = {m: next((i for i, ln in enumerate(lines) if m.match(ln.strip())), None) for m in MARKERS}
    found = sorted(i for i in idx.values() if i is not None)
    if not found:
        raise ParseError("not a note page: no 'Inquiring lines', 'Related concepts' or 'Related papers' heading")
    head = [ln.strip() for ln in lines[: found[0]] if ln.strip()]
    if len(head) < 2:
        raise ParseError("a note page starts with a question title and a one-line dek", 1)
    title, dek, body = head[0], head[1], "\n\n".join(head[2:])

    def section(marker: re.Pattern[str]) -> list[tuple[int, str]]:
        start = idx[marker]
        if start is None:
            return []
        end = min((i for i in found if i > start), default=len(lines))
        return [
            (i + 1, lines[i].strip())
            for i in range(start + 1, end)
            if lines[i].strip() and not BLURB.match(lines[i].strip())
        ]

    original = " ".join(t for _, t in section(ORIGINAL))
    nid = slugify(title)[:80]
    meta = {
        "dek": dek,
        "claim": original,
        "aliases": [],
        "tags": [],
        "strand": "",
        "imported": "note-page",
    }
    yield NodeRecord(nid, "concept", title, body, path, 1, meta)
    for line, item in section(INQUIRIES):
        q = item.lstrip("-• ").strip()
        if q:
            qid = slugify(q)[:80]
            yield NodeRecord(qid, "inquiry", q, "", path, line, {"dek": "", "stub": True})
            yield EdgeRecord(qid, nid, "draws_on", path=path, line=line)
    block: list[tuple[int, str]] = []
    for line, item in section(CONCEPTS) + [(0, "-")]:
        if item == "-" or item.startswith("- "):
            if block:
                yield from _concept(block, nid, path)
            block = [(line, item[2:].strip())] if item.startswith("- ") and item[2:].strip() else []
        else:
            block.append((line, item))
    for line, item in section(PAPERS):
        t = item.lstrip("-• ").strip()
        if t:
            paper = paper_record(title=t, authors=[], year=None, path=path, line=line)
            yield paper
            yield EdgeRecord(nid, paper.id, "cites", origin="explicit", path=path, line=line)


def _concept(block: list[tuple[int, str]], nid: str, path: str) -> Iterator[NodeRecord | EdgeRecord]:
    line, ctitle = block[0]
    dek = block[1][1] if len(block) > 1 else ""
    reason = block[2][1] if len(block) > 2 else ""
    label, sep, why = reason.partition(":")
    if not sep:
        label, why = "related", reason
    cid = slugify(ctitle)[:80]
    yield NodeRecord(
        cid,
        "concept",
        ctitle,
        "",
        path,
        line,
        {"dek": dek, "stub": True, "aliases": [], "tags": []},
    )
    # The edge names the concept by title, so it lands on a note of that title when the vault has one.
    yield EdgeRecord(
        nid,
        "link:" + ctitle,
        "related",
        label=label.strip(),
        context=why.strip(),
        path=path,
        line=line,
    )
