"""A PDF's first page read by layout: the largest type near the top is the title, the lines under it the authors.

pypdf's `visitor_text` gives each run of text with its matrices and font; from those we get the type size
actually drawn and the position on the page, group runs into lines, and pick out title and author lines.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

# Words that mark an affiliation, an address or a note rather than a person.
NOT_A_NAME = set(
    """university universität université universidad universitat institute institut department dept school college
    laboratory lab labs research center centre inc ltd llc corp corporation company google deepmind microsoft openai
    facebook meta amazon apple nvidia ibm intel baidu alibaba tencent huawei brain team group faculty academy
    sciences science engineering technology polytechnic national foundation usa uk china canada germany france
    japan korea italy spain switzerland netherlands israel india australia london york paris toronto montreal
    mountain view cambridge oxford stanford berkeley mit cmu eth epfl inria max planck abstract introduction
    keywords conference proceedings workshop journal vol preprint draft submitted review arxiv equal contribution
    correspondence corresponding email www http https edu com org street road avenue hall building program
    ai ml nlp ieee member senior fellow student life""".split()
)
PARTICLES = {"van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "dos", "la", "le", "bin", "al", "y"}
HEADER = re.compile(
    r"^(published|accepted|under review|preprint|proceedings|journal of|appearing|to appear|in proc|workshop|"
    r"\d+(st|nd|rd|th) |technical report|draft|vol\.|volume|page \d|arxiv)",
    re.I,
)
STAMP = re.compile(r"arXiv:\s*(\S+?)(v\d+)?\s+\[[\w.\-]+\]\s+(\d{1,2}\s+\w{3}\s+(\d{4}))")
MARKS = "∗*†‡§¶‖⇤⇧♯♮♭⋆★☆✝#"


@dataclass
class Run:
    """One run of text as drawn: its type size, position, font, and whether it is rotated."""

    text: str
    size: float
    x: float
    y: float
    font: str
    rotated: bool


@dataclass
class Line:
    """Runs that share a baseline, in drawing order."""

    runs: list[Run] = field(default_factory=list)

    @property
    def size(self) -> float:
        return max(r.size for r in self.runs)

    @property
    def y(self) -> float:
        return self.runs[0].y

    @property
    def text(self) -> str:
        """The line as read, superscript marks dropped, small capitals joined to their word."""
        return clean(self._join(lambda r: ""))

    @property
    def parts(self) -> str:
        """The line with each superscript (affiliation or footnote mark) turned into a separator."""
        return clean(self._join(lambda r: " , "))

    def _join(self, small: Any) -> str:
        out = ""
        prev: Run | None = None
        for r in self.runs:
            if r.size < 0.8 * self.size and len(r.text.strip()) <= 3:
                out += small(r)
                continue
            caps = prev is not None and prev.text[-1:].isupper() and r.text[:1].isupper() and r.size < prev.size
            glue = "" if caps or not prev or r.text[:1].isspace() or prev.text[-1:].isspace() else " "
            out += glue + r.text
            prev = r
        return out

    @property
    def font(self) -> str:
        """The font of the line's main text and its size, e.g. 'NimbusRomNo9L-Medi@10.0'."""
        return f"{self.face}@{self.size:.1f}"

    @property
    def face(self) -> str:
        return max(self.runs, key=lambda r: (r.size, len(r.text))).font


def clean(text: str) -> str:
    """Ligatures unfolded and whitespace collapsed; a space inside a word is left to the caller."""
    text = unicodedata.normalize("NFKC", text)
    return " ".join(text.split())


def _mul(m: list[float], n: list[float]) -> list[float]:
    return [
        m[0] * n[0] + m[1] * n[2],
        m[0] * n[1] + m[1] * n[3],
        m[2] * n[0] + m[3] * n[2],
        m[2] * n[1] + m[3] * n[3],
        m[4] * n[0] + m[5] * n[2] + n[4],
        m[4] * n[1] + m[5] * n[3] + n[5],
    ]


def runs_of(page: Any) -> list[Run]:
    """Every non-blank run of text on a pypdf page, with its drawn size and position."""
    runs: list[Run] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if not text.strip():
            return
        m = _mul(list(tm), list(cm))
        scale = (m[2] ** 2 + m[3] ** 2) ** 0.5 or 1.0
        name = str(font.get("/BaseFont", "")) if isinstance(font, dict) else ""
        runs.append(Run(text, round(float(size) * scale, 1), m[4], m[5], name, abs(m[1]) > 0.01 or m[0] < 0))

    page.extract_text(visitor_text=visit)
    return runs


def lines_of(runs: list[Run]) -> list[Line]:
    """Runs grouped into lines by baseline, in drawing order; a superscript joins its line."""
    lines: list[Line] = []
    for r in runs:
        if r.rotated:
            continue
        last = lines[-1] if lines else None
        if last and abs(r.y - last.y) <= max(2.0, 0.45 * last.size) and not last.runs[-1].text.endswith("\n"):
            last.runs.append(r)
        else:
            lines.append(Line([r]))
    return [ln for ln in lines if ln.text]


def stamp(runs: list[Run]) -> tuple[str, str] | None:
    """(arXiv id, year) from the vertical arXiv stamp on the first page, if there is one."""
    for r in runs:
        m = STAMP.search(r.text)
        if m:
            return m.group(1), m.group(4)
    return None


ACCENTS = {"´": "\u0301", "`": "\u0300", "¨": "\u0308", "ˆ": "\u0302", "˜": "\u0303", "¸": "\u0327", "ˇ": "\u030c"}
LOOSE_ACCENT = re.compile("\\s?([" + "".join(ACCENTS) + "\u0300-\u036f])\\s?([A-Za-z])")
SEPARATORS = re.compile(r"\s*(?:,|;|\band\b|&|\s{2,}|[" + re.escape(MARKS) + r"]|\d+|\(|\))\s*")
STOP = re.compile(r"^(a\s?bstract|abstract|introduction|1\.?\s+introduction|keywords|index terms)\b", re.I)


def fix_accents(text: str) -> str:
    """Join the loose accents some PDFs draw before their letter: 'Herv´e' becomes 'Hervé'."""
    return unicodedata.normalize(
        "NFC", LOOSE_ACCENT.sub(lambda m: m.group(2) + ACCENTS.get(m.group(1), m.group(1)), text)
    )


def body_size(lines: list[Line]) -> float:
    """The type size that most characters on the page are set in."""
    weight: dict[float, int] = {}
    for ln in lines:
        for r in ln.runs:
            weight[r.size] = weight.get(r.size, 0) + len(r.text)
    return max(weight, key=lambda s: weight[s]) if weight else 0.0


def title_block(lines: list[Line], height: float) -> tuple[int, int] | None:
    """First and last index of the title's lines: the largest type in the top half of the page."""
    top = [
        i
        for i, ln in enumerate(lines)
        if ln.y > 0.45 * height and not HEADER.match(ln.text) and sum(c.isalpha() for c in ln.text) >= 3
    ]
    if not top:
        return None
    big = max(lines[i].size for i in top)
    start = next(i for i in top if lines[i].size >= big - 0.6)
    end = start
    while end + 1 < len(lines):
        nxt, cur = lines[end + 1], lines[end]
        other_face = nxt.face != lines[start].face
        if nxt.size < big - 0.6 or other_face or not (0 <= cur.y - nxt.y < 2.5 * big) or STOP.match(nxt.text):
            break
        end += 1
    return start, end


def title_text(lines: list[Line]) -> str:
    """The title's lines joined, footnote marks dropped, an all-capitals title put in title case."""
    text = fix_accents(" ".join(ln.text for ln in lines))
    text = re.sub(r"-\s+(?=[a-z])", "-", text)
    text = " ".join(text.strip(MARKS + " ").split()).rstrip("*∗†‡ 0123456789,")
    if text.upper() == text and sum(c.isalpha() for c in text) > 3:
        small = {"a", "an", "and", "as", "at", "by", "for", "from", "in", "is", "of", "on", "or", "the", "to", "with"}
        words = text.lower().split()
        text = " ".join(w if (i and w in small) else w[:1].upper() + w[1:] for i, w in enumerate(words))
    return text


def name_like(segment: str) -> bool:
    """Whether a piece of an author line reads as a person's name (not an affiliation, email or date)."""
    words = segment.split()
    if not 2 <= len(words) <= 5 or any(c in segment for c in "@/:()[]{}=") or len(segment) > 45:
        return False
    for w in words:
        low = w.lower().strip(".,")
        if low in NOT_A_NAME:
            return False
        if not (w[:1].isupper() or low in PARTICLES):
            return False
    return any(len(w.strip(".")) > 1 for w in words)


def _plain_word(word: str) -> bool:
    """A capitalised word that is not an initial or an acronym ('KyungHyun', 'Ming-Wei' and 'Wen-tau' are)."""
    head, *rest = word.split("-")
    return (
        head[:1].isupper()
        and (head[1:].isalpha() or not head[1:])
        and not head.isupper()
        and all(p.isalpha() and (p.islower() or p[1:].islower()) for p in rest)
    )


INITIAL = re.compile(r"^[A-Z]\.(?:-?[A-Z]\.)*$")


def _split_run(words: list[str]) -> list[str]:
    """Names read off a run of words: each is a first name, any initials, then one family name."""
    out, i = [], 0
    while i < len(words):
        name = [words[i]]
        i += 1
        while i < len(words) and INITIAL.match(words[i]):
            name.append(words[i])
            i += 1
        if i < len(words):
            name.append(words[i])
            i += 1
        out.append(" ".join(name))
    return out


def _pieces(part: str, alone: bool) -> list[str]:
    """A piece of an author line, with an email after the name cut off.

    Names set apart only by wide spaces come out as one run of words: five or more capitalised words, or
    four on a line with no other separator (`alone`), are read as first name, initials, family name.
    """
    if "@" in part:
        words = part.split("@")[0].split()
        while words and words[-1].isupper() and len(words[-1]) > 1:
            words.pop()
        part = " ".join(words)
    words = part.split()
    plain = all(_plain_word(w) or INITIAL.match(w) for w in words)
    if plain and (len(words) >= 5 or (alone and len(words) == 4)):
        names = _split_run(words)
        if len(names[-1].split()) > 1:
            return names
    return [part]


def names_in(line: Line) -> list[str]:
    """The names on one line of the author block."""
    out = []
    parts = [p for p in SEPARATORS.split(fix_accents(line.parts)) if p.strip(" .,")]
    pieces = [p for part in parts for p in _pieces(part, len(parts) == 1)]
    for part in pieces:
        words = part.split()
        if len(words) > 2 and len(words[-1]) == 1 and words[-1].islower():
            words = words[:-1]  # a footnote dagger that the font draws as a letter
        part = " ".join(words).strip(" .,")
        if name_like(part):
            out.append(part)
    return out


def author_names(lines: list[Line], after: int, body: float, face: str) -> list[str]:
    """Names from the lines under the title, in the type of the first line that holds names.

    A subtitle (the title's face, well above the body size, before any name) is skipped.
    """
    names: list[str] = []
    font = None
    for ln in lines[after : after + 80]:
        if STOP.match(ln.text):
            break
        if font is None and ln.face == face and ln.size >= 1.25 * body:
            continue
        found = names_in(ln)
        if not found and len(ln.text) > 110 and ln.text.count(" ") > 12:
            break  # running text: the author block is over
        if found and font is None:
            font = ln.font
        if found and ln.font == font:
            names.extend(n for n in found if n not in names)
    return names


def read_first_page(page: Any) -> tuple[str, list[str], tuple[str, str] | None]:
    """(title, authors, arXiv stamp) read from a page's layout; empty where it cannot tell."""
    runs = runs_of(page)
    lines = lines_of(runs)
    found = stamp(runs) or stamp([Run(ln.text, 0, 0, 0, "", False) for ln in lines])
    block = title_block(lines, float(page.mediabox.height))
    body = body_size(lines)
    if not block or lines[block[0]].size < 1.1 * body:
        return "", [], found
    start, end = block
    return title_text(lines[start : end + 1]), author_names(lines, end + 1, body, lines[start].face), found
