"""Small pieces of page text: search snippets with their matches marked, and TeX reduced to plain Unicode."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from markupsafe import Markup, escape

from kg.texmath import MATH, math_spans

WIKI = re.compile(r"!?\[\[([^\[\]|#\n]*)(?:#([^\[\]|\n]*))?(?:\|([^\[\]\n]*))?\]\]")
DISPLAY_PAIRS = [(r"\\begin\{\w+\*?\}", r"\\end\{\w+\*?\}"), (r"\\\[", r"\\\]"), (r"\\\(", r"\\\)")]
TEXISH = re.compile(r"[\\^_{}=]")


def _sub(text: str, mask: list[bool], pattern: re.Pattern[str] | str, repl: Any) -> tuple[str, list[bool]]:
    """re.sub over text while a per-character mask (which characters are marked) follows the edit."""
    out, omask, last = [], [], 0
    for m in re.finditer(pattern, text):
        new = repl(m) if callable(repl) else repl
        out.append(text[last : m.start()])
        omask += mask[last : m.start()]
        out.append(new)
        omask += [any(mask[m.start() : m.end()])] * len(new)
        last = m.end()
    out.append(text[last:])
    omask += mask[last:]
    return "".join(out), omask


def _cut_unpaired(text: str, mask: list[bool]) -> tuple[str, list[bool]]:
    """Drop the cut-off half of a formula at either end of a snippet: a closer with no opener before it, or an
    opener with no closer after it; then make `$` pair up, keeping the pairing whose formulas look like TeX."""
    for opener, closer in DISPLAY_PAIRS:
        first_close = re.search(closer, text)
        first_open = re.search(opener, text)
        if first_close and (not first_open or first_close.start() < first_open.start()):
            text, mask = "…" + text[first_close.end() :], [False] + mask[first_close.end() :]
        opens = list(re.finditer(opener, text))
        if opens and not re.search(closer, text[opens[-1].end() :]):
            text, mask = text[: opens[-1].start()] + "…", mask[: opens[-1].start()] + [False]
    if len(re.findall(r"(?<!\\)\$", text)) % 2:
        head = text.index("$")
        start = text.rfind(" ", 0, head) + 1 or int(text.startswith("…"))
        lead = (text[:start] + text[head + 1 :], mask[:start] + mask[head + 1 :])
        tail_at = text.rindex("$")
        trail = (text[:tail_at] + "…", mask[:tail_at] + [False])
        text, mask = min(trail, lead, key=lambda c: sum(not TEXISH.search(f) for f in re.findall(r"\$([^$]+)\$", c[0])))
    return text, mask


def _wiki_text(m: re.Match[str]) -> str:
    return (m.group(3) or (m.group(1) + (f" › {m.group(2)}" if m.group(2) else ""))).strip()


def clean_snippet(text: str, spans: list[list[int]] | None = None) -> tuple[str, list[bool]]:
    r"""Snippet text fit to show: wikilinks as their shown text, cut-off formulas dropped. Returns the text and a
    per-character mask of the query's matches.

    >>> clean_snippet("see [[Gradient flow|the flow]] and [[a-b#H]]")[0]
    'see the flow and a-b › H'
    >>> clean_snippet("…ow]] links [[large-learning-rate…")[0]
    '…ow links large-learning-rate…'
    >>> clean_snippet("…x_i$ grows like $n^2$")[0]
    '… grows like $n^2$'
    >>> clean_snippet("How $\\theta_t$ moves under $\\dot x = \\to…")[0]
    'How $\\theta_t$ moves under …'
    """
    text = " ".join((text or "").split())
    mask = [False] * len(text)
    for a, b in spans or []:
        for i in range(max(a, 0), min(b, len(text))):
            mask[i] = True
    text, mask = _sub(text, mask, WIKI, _wiki_text)
    text, mask = _sub(text, mask, r"!?\[\[|\]\]", "")  # halves of a link the snippet cut through
    text, mask = _sub(text, mask, r"(?:^|(?<=\s))#{1,6}\s+|%%", "")  # heading marks and comment fences
    return _cut_unpaired(text, mask)


def mark_html(text: str, spans: list[list[int]] | None = None) -> Markup:
    """A snippet as HTML: escaped, matches wrapped in <mark>, except inside math (which KaTeX renders whole)."""
    text, mask = clean_snippet(text, spans)
    for a, b in math_spans(text):
        mask[a:b] = [False] * (b - a)
    out: list[str] = []
    i = 0
    while i < len(text):
        j = i
        while j < len(text) and mask[j] == mask[i]:
            j += 1
        piece = escape(text[i:j])
        out.append(Markup("<mark>") + piece + Markup("</mark>") if mask[i] else piece)
        i = j
    return Markup("").join(out)


@lru_cache(maxsize=20000)
def plain_tex(text: str) -> str:
    """A title with its TeX turned into plain Unicode (for graph labels and <title>), via pylatexenc.

    >>> plain_tex(r"Scaling of $\\alpha_i$ with $\\sqrt{n}$")
    'Scaling of α_i with √(n)'
    """
    if "$" not in text and "\\" not in text:
        return text
    from pylatexenc.latex2text import LatexNodes2Text

    def one(m: re.Match[str]) -> str:
        inner = m.group(0).strip("$")
        if inner.startswith(("\\(", "\\[")):
            inner = inner[2:-2]
        try:
            return LatexNodes2Text(math_mode="text").latex_to_text(inner).strip()
        except Exception:  # pylatexenc raises its own errors on broken TeX; the source is the honest fallback
            return inner

    return MATH.sub(one, text)
