"""Link resolution as Obsidian does it: path, then file name, alias or title, ignoring case.

Among same-named files the one with the shortest path wins.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from urllib.parse import unquote


@dataclass(frozen=True)
class NoteEntry:
    id: str
    relpath: str  # from the vault root, posix, with .md
    title: str = ""
    aliases: tuple[str, ...] = ()


def _depth_key(e: NoteEntry) -> tuple[int, int, str]:
    return (e.relpath.count("/"), len(e.relpath), e.relpath)


@dataclass
class LinkIndex:
    """Every note of a vault, indexed the ways a link may name it."""

    by_path: dict[str, NoteEntry] = field(default_factory=dict)
    by_stem: dict[str, list[NoteEntry]] = field(default_factory=dict)
    by_alias: dict[str, list[NoteEntry]] = field(default_factory=dict)
    by_title: dict[str, list[NoteEntry]] = field(default_factory=dict)

    def add(self, entry: NoteEntry) -> None:
        key = entry.relpath.lower().removesuffix(".md")
        self.by_path[key] = entry
        self.by_stem.setdefault(posixpath.basename(key), []).append(entry)
        for a in entry.aliases:
            self.by_alias.setdefault(a.strip().lower(), []).append(entry)
        if entry.title:
            self.by_title.setdefault(entry.title.strip().lower(), []).append(entry)

    def resolve(self, target: str, from_relpath: str = "") -> NoteEntry | None:
        """The note a link names, or None for an unresolved link.

        >>> ix = LinkIndex()
        >>> ix.add(NoteEntry("a", "x/Alpha.md", "The first", ("A1",)))
        >>> ix.add(NoteEntry("alpha-2", "y/z/alpha.md"))
        >>> [ix.resolve(t).id for t in ["alpha", "ALPHA.md", "y/z/alpha", "a1", "the first"]]
        ['a', 'a', 'alpha-2', 'a', 'a']
        >>> ix.resolve("missing") is None
        True
        """
        t = unquote(target).strip().replace("\\", "/")
        t = t.removesuffix(".md").removesuffix(".MD")
        low = t.lower()
        if "/" in low:
            if from_relpath and (low.startswith("./") or low.startswith("../")):
                rel = posixpath.normpath(posixpath.join(posixpath.dirname(from_relpath.lower()), low))
                if rel in self.by_path:
                    return self.by_path[rel]
            low = low.lstrip("./").lstrip("/") if low.startswith(("./", "/")) else low
            if low in self.by_path:
                return self.by_path[low]
            tails = [e for k, e in self.by_path.items() if k.endswith("/" + low)]
            return min(tails, key=_depth_key) if tails else None
        for table in (self.by_stem, self.by_alias, self.by_title):
            hits = table.get(low)
            if hits:
                return min(hits, key=_depth_key)
        return None
