"""PDF papers: arXiv id from the first page's stamp or the file name; title and authors from the PDF's
metadata where it is sound, else from the first page's layout; abstract and text."""

from __future__ import annotations

import io
import logging
import posixpath
import re
from collections.abc import Iterator
from typing import Any

from ingest.latex import latex_to_text
from ingest.paperids import clean_arxiv, find_arxiv
from ingest.papers import paper_record, titles_agree
from ingest.pdflayout import read_first_page
from ingest.records import NodeRecord, ParseError

# pypdf logs every repair it makes; the error the user sees is ours.
logging.getLogger("pypdf").setLevel(logging.ERROR)
MAX_PAGES = 6
MAX_TEXT = 20000
JUNK_TITLE = re.compile(
    r"^(microsoft (word|powerpoint)|untitled|no title|title|paper|article|document|slide|presentation|draft"
    r"|manuscript|main|paper title|\s*$)|\.(docx?|tex|dvi|pdf|ps|eps|rtf|odt)\b|instructions for|template"
    r"|formatting|submission|camera[- ]ready|^arxiv|^\W*$",
    re.I,
)
JUNK_AUTHOR = re.compile(r"^(author|authors|anonymous|user|admin|owner|\w+\.\w+|[a-z]+\d*)$|latex|tex|@", re.I)
FILE_ARXIV = re.compile(r"(?:^|[^\d.])((?:0[7-9]|[1-3]\d)(?:0[1-9]|1[0-2])\.\d{4,5})(?:v\d+)?(?:\.pdf)?$", re.I)


def junk_title(title: str) -> bool:
    """Whether a PDF's /Title is a word processor's or template's placeholder rather than the paper's title.

    >>> junk_title("Microsoft Word - draft.docx"), junk_title("untitled"), junk_title("Attention Is All You Need")
    (True, True, False)
    """
    return len(title) < 6 or bool(JUNK_TITLE.search(title.strip()))


def _meta(reader: Any) -> tuple[str, list[str]]:
    info = reader.metadata
    title = str(info.title or "").strip() if info else ""
    author = str(info.author or "").strip() if info else ""
    names = [a.strip() for a in re.split(r",|;| and |&", author) if a.strip()]
    return (
        "" if junk_title(title) else " ".join(title.split()),
        [] if any(JUNK_AUTHOR.search(a) for a in names) else names,
    )


def arxiv_from_name(path: str) -> str | None:
    """The arXiv id a file is named by, e.g. `2003.02218v2.pdf` or `smith_2003.02218.pdf`.

    >>> arxiv_from_name("papers/labml_1706.03762.pdf"), arxiv_from_name("hep-th_9901001v2.pdf")
    ('1706.03762', 'hep-th/9901001')
    """
    name = posixpath.basename(path)
    m = FILE_ARXIV.search(name)
    return m.group(1) if m else clean_arxiv(name.removesuffix(".pdf").replace("_", "/"))


def arxiv_year(arxiv: str | None) -> str:
    """The year an arXiv id was first submitted (`2003.02218` is 2020, `hep-th/9901001` 1999)."""
    if not arxiv:
        return ""
    yy = arxiv.split("/")[-1][:2]
    return ("19" if yy >= "91" else "20") + yy


def parse_pdf(data: bytes, path: str) -> Iterator[NodeRecord]:
    """Yield the paper a PDF holds."""
    # The standard lets junk come before the header; a file whose header was lost but whose body and
    # trailer survive is still read.
    if b"%PDF-" not in data[:1024] and not (data.strip(b"\0") and b"%%EOF" in data[-2048:]):
        raise ParseError("not a PDF (no %PDF- header in its first 1024 bytes); re-export or remove it")
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        meta_title, meta_authors = _meta(reader)
        layout_title, layout_authors, stamp = read_first_page(reader.pages[0])
        if not layout_title and len(reader.pages) > 1:  # a cover page or a full-page figure comes first
            layout_title, layout_authors, _ = read_first_page(reader.pages[1])
        pages = [p.extract_text() or "" for p in reader.pages[:MAX_PAGES]]
    except (
        PyPdfError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        OSError,
        RecursionError,
        IndexError,
        OverflowError,  # found by atheris: a length too large for C (tests/fuzz/crashes/pdf-overflow.pdf)
        ZeroDivisionError,
    ) as exc:
        raise ParseError(f"PDF is corrupt or unreadable ({type(exc).__name__}: {exc}); re-download it") from None
    text = "\n".join(pages)[:MAX_TEXT]
    title = meta_title if meta_title and (not layout_title or titles_agree(meta_title, layout_title)) else ""
    title = title or layout_title or meta_title or _first_line(pages[0] if pages else "")
    if not title:
        raise ParseError("PDF has no text layer and no title; it may be a scan: add a .bib entry instead")
    arxiv = clean_arxiv(stamp[0]) if stamp else _arxiv_in_head(pages[0] if pages else "") or arxiv_from_name(path)
    yield paper_record(
        title=latex_to_text(title),
        authors=meta_authors or layout_authors,
        year=arxiv_year(arxiv) or _creation_year(reader),
        path=path,
        abstract=_abstract(text) or " ".join(text.split())[:2000],
        venue="arXiv preprint" if arxiv else "",
        arxiv=arxiv,
        extra={"pdf": path, "pages": len(reader.pages)},
    )


def _arxiv_in_head(text: str) -> str | None:
    """An `arXiv:` id in the first page above the abstract (below it, ids are usually citations)."""
    head = re.split(r"\n\s*(?:a\s?bstract|1\.?\s+introduction)\b", text, maxsplit=1, flags=re.I)[0]
    return find_arxiv(head)


def _first_line(text: str) -> str:
    for ln in text.split("\n"):
        if sum(c.isalpha() for c in ln) >= 6 and not ln.lower().startswith("arxiv:"):
            return ln.strip()
    return ""


def _creation_year(reader: Any) -> str:
    date = str((reader.metadata or {}).get("/CreationDate") or "")
    return date[2:6] if re.match(r"D:\d{4}", date) else ""


def _abstract(text: str) -> str:
    m = re.search(r"\bAbstract\b[\s.:—-]*(.+?)(?:\n\s*\n|\n1\.?\s+Introduction|\Z)", text, re.S | re.I)
    return " ".join(m.group(1).split())[:2000] if m else ""
