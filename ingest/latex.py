"""LaTeX in titles and names, turned into plain readable Unicode (accents, symbols, math)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pylatexenc import latexwalker, macrospec
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

LATEXISH = re.compile(r"[\\${}~]|``|''")
BARE_PERCENT = re.compile(r"(?<!\\)%")


class _Decoder(LatexNodes2Text):
    """LatexNodes2Text that also knows `\\href{url}{text}` (bibliographies link titles with it)."""

    def latex_to_text(self, latex: str, **parse_flags: Any) -> str:
        parse_flags.setdefault("latex_context", _walker_context())
        return super().latex_to_text(latex, **parse_flags)


@lru_cache(maxsize=1)
def _walker_context() -> Any:
    db = latexwalker.get_default_latex_context_db()
    db.add_context_category("links", prepend=True, macros=[macrospec.MacroSpec("href", "{{")])
    return db


@lru_cache(maxsize=1)
def decoder() -> LatexNodes2Text:
    """The one decoder every parser uses: math as text, braces dropped, a link shown as its text.

    bibtexparser's LatexDecodingMiddleware is given this same decoder, so BibTeX, Atom, JSONL and PDF
    titles come out alike.
    """
    context = get_default_latex_context_db()
    context.add_context_category("links", prepend=True, macros=[MacroTextSpec("href", simplify_repl="%(2)s")])
    return _Decoder(latex_context=context, math_mode="text", keep_braced_groups=False, strict_latex_spaces=True)


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
    >>> latex_to_text(r'\\href{https://arxiv.org/abs/1909.07862}{Minimax Intervals}')
    'Minimax Intervals'
    """
    if not value:
        return ""
    if LATEXISH.search(value):
        try:
            value = decoder().latex_to_text(BARE_PERCENT.sub(r"\\%", value))
        except Exception:  # pylatexenc is tolerant, but a parser bug must never cost the record
            value = value.replace("{", "").replace("}", "")
    return " ".join(value.split())
