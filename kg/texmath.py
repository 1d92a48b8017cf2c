"""Where TeX math sits in plain text, by the rules Obsidian reads it with. Pages render these spans with KaTeX;
search snippets widen their window so as not to cut one in half."""

from __future__ import annotations

import re

# Inline `$…$` as Obsidian reads it: no space just inside either `$`, and no digit just after the closing one.
INLINE_DOLLAR = r"(?<![\\$])\$(?=[^\s$])(?:\\.|[^$\\\n])*?(?<=[^\s\\])\$(?![\d$])"
MATH = re.compile(r"\$\$.+?\$\$|" + INLINE_DOLLAR + r"|\\\(.+?\\\)|\\\[.+?\\\]", re.S)


def math_spans(text: str) -> list[tuple[int, int]]:
    """Where inline or display math sits in plain text.

    >>> math_spans("a $x_i$ b")
    [(2, 7)]
    >>> math_spans("costs $5 and $10, or $ 3 $; usar $fromAI() para args, no $query")
    []
    """
    return [m.span() for m in MATH.finditer(text)]
