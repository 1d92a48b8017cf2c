"""YAML front matter read the way Obsidian reads it: a broken block is a warning, never a lost note.

Whatever the YAML holds (aliases that expand a billion times, recursive anchors, dates, binary, NaN) comes
out as plain JSON-able data within a fixed budget, or as a warning.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

FRONT = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.S)
# libyaml's safe loader when present: the same documents, parsed about ten times faster.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
LIST_FIELDS = ("aliases", "tags", "sources", "draws_on", "related", "claims", "cssclasses")
MAX_FRONT_BYTES = 256 * 1024
MAX_ITEMS = 20_000  # values kept from one front matter, counting every expansion of a YAML alias
MAX_DEPTH = 40


class Budget(Exception):
    """Front matter that would expand past the budget or refers to itself."""


@dataclass
class FrontMatter:
    meta: dict[str, Any]
    body: str
    body_line: int  # the file line where the body starts
    raw: str = ""
    warnings: list[tuple[str, int | None, str]] = field(default_factory=list)

    def key_line(self, key: str) -> int:
        """The file line of a top-level key, or the front matter's first line."""
        for i, line in enumerate(self.raw.splitlines()):
            if line.startswith(f"{key}:"):
                return i + 2
        return 1


def read_front_matter(text: str) -> FrontMatter:
    """Split and read the front matter. A block YAML cannot read is reported and left out, as Obsidian
    shows the note without its properties."""
    m = FRONT.match(text)
    if not m:
        return FrontMatter({}, text, 1)
    raw = m.group(1) or ""
    body_line = text[: m.end()].count("\n") + 1
    fm = FrontMatter({}, text[m.end() :], body_line, raw)
    if len(raw.encode("utf-8", "replace")) > MAX_FRONT_BYTES:
        fm.warnings.append(("bad-front-matter", 2, f"front matter over {MAX_FRONT_BYTES // 1024} KB was ignored"))
        return fm
    try:
        loaded = yaml.load(raw, Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 2
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        fm.warnings.append(
            (
                "bad-front-matter",
                line,
                f"front matter is not valid YAML ({problem}) and was ignored; quote values that contain ':' or '#'",
            )
        )
        return fm
    except RecursionError:
        fm.warnings.append(("bad-front-matter", 2, "front matter is nested too deeply to read and was ignored"))
        return fm
    if loaded is None:
        return fm
    if not isinstance(loaded, dict):
        fm.warnings.append(("bad-front-matter", 2, "front matter is not a mapping of keys to values; ignored"))
        return fm
    try:
        meta = plain(loaded, fm.warnings)
    except Budget as exc:
        fm.warnings.append(("bad-front-matter", 2, f"front matter ignored: {exc}"))
        return fm
    for key in LIST_FIELDS:
        value = meta.get(key)
        if value is None:
            continue
        if isinstance(value, (str, dict, int, float, bool)):
            meta[key] = [value]
        elif not isinstance(value, list):
            meta[key] = [str(value)]
    fm.meta = meta
    return fm


def plain(value: Any, warnings: list[tuple[str, int | None, str]]) -> Any:
    """Turn loaded YAML into JSON-able data within the budget.

    >>> plain({"a": [1, float("nan")], "d": dt.date(2024, 1, 2)}, w := [])
    {'a': [1, None], 'd': '2024-01-02'}
    >>> w[0][0]
    'non-finite-number'
    """
    count = [0]

    def walk(v: Any, depth: int, stack: tuple[int, ...]) -> Any:
        count[0] += 1
        if count[0] > MAX_ITEMS:
            raise Budget(f"it expands to more than {MAX_ITEMS} values (YAML aliases?)")
        if depth > MAX_DEPTH:
            raise Budget(f"it is nested more than {MAX_DEPTH} levels deep")
        if isinstance(v, (dict, list, tuple, set)):
            if id(v) in stack:
                raise Budget("a YAML alias refers to itself")
            inner = (*stack, id(v))
            if isinstance(v, dict):
                return {str(k): walk(x, depth + 1, inner) for k, x in v.items()}
            return [walk(x, depth + 1, inner) for x in v]
        if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
            return v
        if isinstance(v, float):
            if not math.isfinite(v):
                warnings.append(("non-finite-number", 2, f"front matter value {v} stored as null"))
                return None
            return v
        if isinstance(v, (dt.date, dt.datetime)):
            return v.isoformat()
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace")
        return str(v)

    return walk(value, 0, ())
