"""LaTeX in titles and names, turned into plain readable Unicode (accents, symbols, math)."""

from __future__ import annotations

import re
from functools import lru_cache

from pylatexenc.latex2text import LatexNodes2Text

LATEXISH = re.compile(r"[\\${}~]|``|''")
BARE_PERCENT = re.compile(r"(?<!\\)%")


@lru_cache(maxsize=1)
def decoder() -> LatexNodes2Text:
    """The one decoder every parser uses: math as text, braces dropped.

    bibtexparser's LatexDecodingMiddleware is given this same decoder, so BibTeX, Atom, JSONL and PDF
    titles come out alike.
    """
    return LatexNodes2Text(math_mode="text", keep_braced_groups=False, strict_latex_spaces=True)


def latex_to_text(value: str) -> str:
    """Decode the LaTeX in `value` and collapse its whitespace; plain text comes back unchanged.

    A bare `%` is kept as a percent sign rather than read as a comment, since titles from feeds and
    PDFs are not LaTeX sources.

    >>> latex_to_text(r'G{\\"o}del, {\\L}ukasz and Caf\\'e')
    'Gödel, Łukasz and Café'
    >>> latex_to_text(r'$\\ell_2$ regularisation of {BERT}')
    'ℓ_2 regularisation of BERT'
    >>> latex_to_text('Top-5% accuracy')
    'Top-5% accuracy'
    """
    if not value:
        return ""
    if LATEXISH.search(value):
        try:
            value = decoder().latex_to_text(BARE_PERCENT.sub(r"\\%", value))
        except Exception:  # pylatexenc is tolerant, but a parser bug must never cost the record
            value = value.replace("{", "").replace("}", "")
    return " ".join(value.split())
