"""Search snippets cut in Python: a window of words around the query's words, each match between two markers.

FTS5's snippet() re-tokenises the whole body of every row it is asked about; on a vault of long notes that was
most of a search's time (BENCHMARKS.md, "Search on a real vault"). Here `str.find` looks for the query's words in
the start of the lowercased text, and only the few words around the best place are cut out. Matching follows
the index's Porter stemming loosely: a query word matches any word that starts with its root ("stability"
matches "stabilities" and "stabilise"), so a mark can be a little wider than what FTS5 matched.
"""

from __future__ import annotations

import re

from kg.texmath import MATH

# Endings dropped from a query word before it is matched as a prefix, longest first.
SUFFIXES: tuple[str, ...] = ("ational", "ization", "isation", "ations", "ation", "ities", "ness", "ings", "ing")
SUFFIXES += ("ity", "ies", "ied", "ed", "es", "ly", "s", "y", "e")
MIN_ROOT = 3
BEFORE, AFTER = 6, 12  # words kept around the best match
SCAN = 240  # characters read on each side of the chosen match to find its words
SCAN_LIMIT = 30_000  # characters of a text searched for matches
CANDIDATES = 48  # matches of each word weighed when choosing where to cut
TRIES = 400  # places each word's root is looked at (inside other words too) before the search gives up
FORMULA = 300  # the longest formula a window widens to show whole
REACH = 240  # characters after a match (and a third of that before) whose words count for its window


def root(word: str) -> str:
    """A query word's (or phrase's) matching prefix, lowercased: the last word's ending dropped.

    >>> [root(w) for w in ["stability", "networks", "learning", "sgd", "the", "Neural Tangent Kernels"]]
    ['stabil', 'network', 'learn', 'sgd', 'the', 'neural tangent kernel']
    """
    w = " ".join(word.lower().split())
    for suffix in SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= MIN_ROOT:
            return w[: -len(suffix)]
    return w


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def matches(low: str, roots: list[str], lo: int, hi: int) -> list[tuple[int, int, int]]:
    """(start, end, which root) of the words in low[lo:hi] that start with one of the roots, in text order; at
    most CANDIDATES per root. `low` is lowercased text; a match runs on to the end of its word.

    >>> matches("the sharpness of sharp minima; unsharpened", ["sharp"], 0, 99)
    [(4, 13, 0), (17, 22, 0)]
    """
    found = []
    for k, r in enumerate(roots):
        i, n, tries = low.find(r, lo, hi), 0, 0
        while i >= 0 and n < CANDIDATES and tries < TRIES:
            tries += 1
            if i == 0 or not _is_word(low[i - 1]):
                end = i + len(r)
                while end < len(low) and _is_word(low[end]):
                    end += 1
                found.append((i, end, k))
                n += 1
            i = low.find(r, i + 1, hi)
    found.sort()
    return found


def cut(text: str, words: tuple[str, ...], marks: tuple[str, str], width: int = 220) -> str:
    """A short piece of `text` around the place holding most of `words`, each match enclosed in `marks`, with
    "…" where words were cut off. Without a match: the start of the text, unmarked.

    Only the first SCAN_LIMIT characters are searched, so a very long note costs no more than a short one.

    >>> cut("Loss falls. Then sharpness rises to two over eta and stays there.", ("sharpness", "eta"), ("<", ">"))
    'Loss falls. Then <sharpness> rises to two over <eta> and stays there.'
    >>> cut("a b " * 40 + "the edge of stability holds", ("stability",), ("<", ">"))
    '…b a b the edge of <stability> holds'
    """
    roots = list(dict.fromkeys(root(w) for w in words if w.strip()))
    head = text[:SCAN_LIMIT]
    low = head.lower()
    if len(low) != len(head):  # a letter whose lowercase is longer ("İ"): lowercase the others one by one
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in head)
    found = matches(low, roots, 0, len(low)) if roots else []
    if not found:
        flat = " ".join(text[: width * 2].split())
        return flat[:width] + ("…" if len(flat) > width or len(text) > width * 2 else "")
    best = _densest(found)
    lo, hi = max(0, best - SCAN), min(len(text), best + SCAN)
    spans = [t.span() for t in re.finditer(r"\w+", text[lo:hi])]
    at = next(i for i, (a, _b) in enumerate(spans) if lo + a >= best)
    i0, i1 = max(0, at - BEFORE), min(len(spans), at + AFTER)
    start = 0 if lo == 0 and i0 == 0 else lo + spans[i0][0]
    end = len(text) if hi == len(text) and i1 == len(spans) else lo + spans[i1 - 1][1]
    start, end = _whole_formulas(text, start, end)
    opening, closing = marks
    pieces, last = [], start
    for a, b, _k in matches(low, roots, start, min(end, len(low))):
        if a >= last:
            b = min(b, end)
            pieces += [text[last:a], opening, text[a:b], closing]
            last = b
    pieces.append(text[last:end])
    marked = "".join(pieces)
    return ("…" if start > 0 else "") + " ".join(marked.split()) + ("…" if end < len(text) else "")


def _whole_formulas(text: str, start: int, end: int) -> tuple[int, int]:
    r"""The window widened so that a formula it cuts (up to FORMULA characters long) is shown whole: a half
    formula cannot be rendered, and pages would drop it. LaTeX environments are left to be cut: search pages
    render `$…$`, `$$…$$`, `\(…\)` and `\[…\]` only."""
    lo = max(0, start - FORMULA)
    for m in MATH.finditer(text, lo, min(len(text), end + FORMULA)):
        a, b = m.span()
        if b - a <= FORMULA and (a < start < b or a < end < b):
            start, end = min(start, a), max(end, b)
    return start, end


def _densest(found: list[tuple[int, int, int]]) -> int:
    """Where the window holding the most distinct words starts: a sweep over the matches (in text order),
    counting for each the words from a third of REACH before it to REACH after it. The first wins a tie."""
    best, best_n = found[0][0], 0
    lo = hi = 0
    inside: dict[int, int] = {}
    for start, _end, _word in found:
        while hi < len(found) and found[hi][0] <= start + REACH:
            inside[found[hi][2]] = inside.get(found[hi][2], 0) + 1
            hi += 1
        while found[lo][0] < start - REACH // 3:
            w = found[lo][2]
            inside[w] -= 1
            if not inside[w]:
                del inside[w]
            lo += 1
        if len(inside) > best_n:
            best, best_n = start, len(inside)
    return best
