"""Query expansion by the names people use for the same idea (µP, muP, maximal update parametrisation, ...).

The table is `data/papers/synonyms.yaml` (a list of groups, each a list of names), or the file named by the
KG_SYNONYMS environment variable. A name matches a query when its words appear in the query in order, with case,
hyphens, accents and the Greek mu (µ/μ → mu) ignored. Search uses the expansion twice: the embedding reads the
query followed by the other names of each group it matched, and the keyword query ORs a group's names as
phrases in place of the words that matched.
"""

from __future__ import annotations

import os
import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "papers" / "synonyms.yaml"
MAX_TERMS = 32
MAX_EXTRA_NAMES = 4  # names added to the embedded query per group: more drown the user's own words

Names = tuple[tuple[str, ...], ...]  # a group: each name as its normalised words
SPELLING = (("isation", "ization"), ("parameteriz", "parametriz"), ("centred", "centered"), ("ise", "ize"))


@dataclass(frozen=True)
class Table:
    groups: tuple[Names, ...]  # for matching a query
    phrases: tuple[tuple[str, ...], ...]  # per group: FTS phrases, each name as written and as normalised
    shown: tuple[tuple[str, ...], ...]  # each group's names as written


_CACHE: dict[str, tuple[float, Table]] = {}
_LOCK = threading.Lock()


def _norm(token: str) -> str:
    token = token.replace("µ", "mu").replace("μ", "mu")
    return "".join(c for c in unicodedata.normalize("NFKD", token) if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """Lowercase words of a text, accents dropped and the Greek or micro mu spelled out.

    >>> words("µP: Maximal-Update parametrisation, Négatif 深度")
    ['mup', 'maximal', 'update', 'parametrisation', 'negatif', '深度']
    """
    return [_norm(t) for t in re.findall(r"\w+", text.lower())]


def load(path: Path | None = None) -> Table:
    """The synonym table at `path` (default: KG_SYNONYMS or the corpus file), re-read when the file changes.

    A missing file is an empty table; a malformed one raises ValueError naming the file and the fix.
    """
    path = path or Path(os.environ.get("KG_SYNONYMS") or DEFAULT_PATH)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return Table((), (), ())
    with _LOCK:
        hit = _CACHE.get(str(path))
        if hit and hit[0] == mtime:
            return hit[1]
    table = parse(path.read_text(encoding="utf-8"), str(path))
    with _LOCK:
        _CACHE[str(path)] = (mtime, table)
    return table


def parse(text: str, where: str = "synonyms") -> Table:
    """A table from YAML text: `groups:` holding lists of at least two names each."""
    data = yaml.safe_load(text) or {}
    groups = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(groups, list):
        raise ValueError(f"{where}: expected `groups:` with a list of name lists, e.g. - [NTK, neural tangent kernel]")
    parsed, phrases, shown = [], [], []
    for i, group in enumerate(groups, 1):
        if not isinstance(group, list) or len(group) < 2:
            raise ValueError(f"{where}: group {i} must list at least two names, e.g. [EoS, edge of stability]")
        names = [str(n).strip() for n in group if str(n).strip()]
        parsed.append(tuple(tuple(words(n)) for n in names if words(n)))
        raw = [" ".join(re.findall(r"\w+", n.lower())) for n in names] + [" ".join(w) for w in parsed[-1]]
        phrases.append(tuple(dict.fromkeys(f'"{p}"' for p in raw if p)))
        shown.append(tuple(names))
    return Table(tuple(parsed), tuple(phrases), tuple(shown))


def _skeleton(name: str) -> tuple[str, ...]:
    """A name's words with British and American spellings made one, to skip mere respellings."""
    out = []
    for w in words(name):
        for a, b in SPELLING:
            w = w.replace(a, b)
        out.append(w)
    return tuple(out)


def _find(seq: list[str], name: tuple[str, ...], taken: list[bool]) -> int:
    n = len(name)
    for i in range(len(seq) - n + 1):
        if tuple(seq[i : i + n]) == name and not any(taken[i : i + n]):
            return i
    return -1


@dataclass
class Expansion:
    query: str
    terms: list[str]  # the query's words, each or a matched span replaced by a group marker
    matched: dict[int, int]  # index in terms -> group index
    table: Table

    def embed_text(self) -> str:
        """The query followed by the other names of each matched group, for the embedding side."""
        extra: list[str] = []
        seen = {_skeleton(w) for w in self.query.split()} | {_skeleton(self.query)}
        for g in dict.fromkeys(self.matched.values()):
            names: list[str] = []
            for n in self.table.shown[g]:
                if _skeleton(n) not in seen and len(names) < MAX_EXTRA_NAMES:
                    names.append(n)
                seen.add(_skeleton(n))
            extra += names
        return f"{self.query} ({'; '.join(extra)})" if extra else self.query

    def fts_clauses(self) -> list[str]:
        """One FTS5 clause per query word or matched group: a quoted word, or its group's phrases ORed."""
        out: list[str] = []
        for i, term in enumerate(self.terms):
            if i in self.matched:
                clause = "(" + " OR ".join(self.table.phrases[self.matched[i]]) + ")"
            else:
                clause = f'"{term}"'
            if clause not in out:
                out.append(clause)
        return out[:MAX_TERMS]


def expand(q: str, table: Table | None = None) -> Expansion:
    """Match the query against the synonym groups, longest names first; each query word joins one group at most.

    >>> t = parse("groups: [[NTK, neural tangent kernel], [muP, maximal update parametrization]]")
    >>> e = expand("NTK vs muP scaling", t)
    >>> e.fts_clauses()
    ['("ntk" OR "neural tangent kernel")', '"vs"', '("mup" OR "maximal update parametrization")', '"scaling"']
    >>> e.embed_text()
    'NTK vs muP scaling (neural tangent kernel; maximal update parametrization)'
    """
    return _expand(q, table if table is not None else load())


@lru_cache(maxsize=256)
def _expand(q: str, table: Table) -> Expansion:
    """expand() remembered: a search expands its query twice, and pages repeat queries."""
    raw = re.findall(r"\w+", q.lower())[:MAX_TERMS]
    seq = [_norm(t) for t in raw]
    taken = [False] * len(seq)
    spans: dict[int, tuple[int, int]] = {}  # start -> (length, group)
    names = sorted(((n, g) for g, grp in enumerate(table.groups) for n in grp), key=lambda p: -len(p[0]))
    present = set(seq)
    for name, g in names:
        if not set(name) <= present:  # most names share no word with a query; skip them cheaply
            continue
        start = _find(seq, name, taken)
        if start >= 0:
            spans[start] = (len(name), g)
            taken[start : start + len(name)] = [True] * len(name)
    terms: list[str] = []
    matched: dict[int, int] = {}
    i = 0
    while i < len(seq):
        if i in spans:
            length, g = spans[i]
            matched[len(terms)] = g
            terms.append(" ".join(seq[i : i + length]))
            i += length
        else:
            terms.append(raw[i])
            i += 1
    return Expansion(q, terms, matched, table)
