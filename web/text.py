"""Small pieces of page text: search snippets with their matches marked, and TeX reduced to plain Unicode."""

from __future__ import annotations

import re
from functools import lru_cache

from markupsafe import Markup, escape

MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$|\\\(.+?\\\)|\\\[.+?\\\]", re.S)


def math_spans(text: str) -> list[tuple[int, int]]:
    """Where inline or display math sits in plain text.

    >>> math_spans("a $x_i$ b")
    [(2, 7)]
    """
    return [m.span() for m in MATH.finditer(text)]


def balance_dollars(text: str, spans: list[list[int]]) -> tuple[str, list[list[int]]]:
    """Drop the cut-off half of a formula from a snippet, so no lone `$` is left on the page; spans follow.

    >>> balance_dollars("…x_i$ grows like $n^2$", [[6, 11]])
    ('… grows like $n^2$', [[2, 7]])
    """
    first = text.find("$")
    if text.count("$") % 2 == 0:
        return text, spans
    start = text.rfind(" ", 0, first) + 1
    if start == 0 and text.startswith("…"):
        start = 1
    end = first + 1
    text = text[:start] + text[end:]
    gone = end - start
    kept = [[a - gone, b - gone] if a >= end else [a, b] for a, b in spans if a >= end or b <= start]
    return text, kept


def mark_html(text: str, spans: list[list[int]] | None) -> Markup:
    """A snippet as HTML: escaped, matches wrapped in <mark>, except inside math (which KaTeX renders whole)."""
    text, spans = balance_dollars(text or "", spans or [])
    maths = math_spans(text)
    out, last = [], 0
    for a, b in sorted(spans):
        if a < last or any(m0 < b and a < m1 for m0, m1 in maths):
            continue
        out += [escape(text[last:a]), Markup("<mark>"), escape(text[a:b]), Markup("</mark>")]
        last = b
    out.append(escape(text[last:]))
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
