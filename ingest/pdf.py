"""PDF papers: title, authors where the file says, abstract and text, and the arXiv id."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

from ingest.papers import ARXIV_IN_TEXT, clean_arxiv, paper_record
from ingest.records import NodeRecord, ParseError

# pypdf logs every repair it makes; the error the user sees is ours.
logging.getLogger("pypdf").setLevel(logging.ERROR)
MAX_PAGES = 6
MAX_TEXT = 20000


def parse_pdf(data: bytes, path: str) -> Iterator[NodeRecord]:
    """Yield the paper a PDF holds."""
    if not data.startswith(b"%PDF-"):
        raise ParseError("not a PDF (it does not start with %PDF-); re-export or remove it")
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        info = reader.metadata or {}
        pages = [p.extract_text() or "" for p in reader.pages[:MAX_PAGES]]
    except (
        PyPdfError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        OSError,
        RecursionError,
    ) as exc:
        raise ParseError(f"PDF is corrupt or unreadable ({type(exc).__name__}: {exc}); re-download it") from None
    text = "\n".join(pages)[:MAX_TEXT]
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    title = str(info.get("/Title") or "").strip()
    if not title or title.lower() in ("untitled", "microsoft word"):
        title = lines[0] if lines else ""
    if not title:
        raise ParseError("PDF has no text layer and no title; it may be a scan: add a .bib entry instead")
    authors = [a.strip() for a in re.split(r",| and |;", str(info.get("/Author") or "")) if a.strip()]
    m = ARXIV_IN_TEXT.search(text)
    arxiv = clean_arxiv(m.group(1)) if m else clean_arxiv(path.rsplit("/", 1)[-1])
    year = ""
    date = str(info.get("/CreationDate") or "")
    if re.match(r"D:\d{4}", date):
        year = date[2:6]
    abstract = ""
    am = re.search(
        r"\bAbstract\b[\s.:—-]*(.+?)(?:\n\s*\n|\n1\.?\s+Introduction|\Z)",
        text,
        re.S | re.I,
    )
    if am:
        abstract = " ".join(am.group(1).split())[:2000]
    yield paper_record(
        title=" ".join(title.split()),
        authors=authors,
        year=year,
        path=path,
        abstract=abstract or " ".join(text.split())[:2000],
        venue="arXiv preprint" if arxiv else "",
        arxiv=arxiv,
        extra={"pdf": path, "pages": len(reader.pages)},
    )
