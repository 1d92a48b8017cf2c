"""The one link resolver: Obsidian's rules, for ingest and for pages alike (docs/obsidian-links.md).

A vault is one root folder. A link names a file:
- matching ignores case and takes the file name, `.md` optional; any other extension names an attachment;
- a path in the link (`folder/note`) is tried relative to the linking note's folder, then from the vault root,
  then as the tail of a path; with no path, a unique name wins, and among same-named files the one in the
  linking note's own folder, else the one with the shortest path (then the first in alphabetical order);
- `#heading`, `#^block` and `|display` are not part of the name (the parser has already split them off).
A link that names no file stays unresolved. Titles and aliases never resolve a link; the pipeline records a
match on them as a separate `probable` link.
"""

from __future__ import annotations

import posixpath
import unicodedata
from dataclasses import dataclass, field

NOTE_EXTS = (".md", ".markdown")


def norm(s: str) -> str:
    """How names are compared: NFC, case folded, `\\` as `/`.

    >>> norm("Ünïcode/NOTE.md") == norm("ünïcode/note.MD")
    True
    """
    return unicodedata.normalize("NFC", s).replace("\\", "/").casefold()


def is_note(rel: str) -> bool:
    return rel.lower().endswith(NOTE_EXTS)


def _key(rel: str) -> tuple[int, int, str]:
    return (rel.count("/"), len(rel), rel)


@dataclass
class VaultIndex:
    """Every file of one vault, indexed by the ways a link may name it."""

    files: dict[str, str] = field(default_factory=dict)  # norm(rel) -> rel
    by_name: dict[str, list[str]] = field(default_factory=dict)  # norm(name without .md) and norm(name) -> rels
    titles: dict[str, list[str]] = field(default_factory=dict)  # norm(title or alias) -> note rels

    @classmethod
    def of(cls, rels: list[str]) -> VaultIndex:
        ix = cls()
        for rel in sorted(rels):
            ix.add(rel)
        return ix

    def add(self, rel: str) -> None:
        n = norm(rel)
        self.files[n] = rel
        name = posixpath.basename(n)
        self.by_name.setdefault(name, []).append(rel)
        if is_note(rel):
            self.by_name.setdefault(name.rsplit(".", 1)[0], []).append(rel)

    def add_title(self, rel: str, title: str) -> None:
        if title.strip():
            self.titles.setdefault(norm(title.strip()), []).append(rel)

    def resolve(self, target: str, from_rel: str = "") -> str | None:
        """The vault-relative path of the file a link names, or None.

        >>> ix = VaultIndex.of(["a/Note.md", "b/c/note.md", "img/x.png", "Other.md", "top.md", "z/top.md"])
        >>> [ix.resolve(t) for t in ["note", "NOTE.md", "c/note", "x.png", "other", "top", "missing"]]
        ['a/Note.md', 'a/Note.md', 'b/c/note.md', 'img/x.png', 'Other.md', 'top.md', None]
        >>> ix.resolve("./note", "b/c/here.md"), ix.resolve("../Note", "a/sub/here.md")
        ('b/c/note.md', 'a/Note.md')
        """
        t = norm(target.strip())
        if not t:
            return None
        has_ext = posixpath.splitext(posixpath.basename(t))[1] != "" and not _looks_like_name_with_dot(t, self)
        candidates = [t] if has_ext else [t + ".md", t + ".markdown", t]
        if "/" in t:
            base = posixpath.dirname(norm(from_rel))
            for c in candidates:
                rel = (
                    posixpath.normpath(posixpath.join(base, c)) if base or c.startswith(".") else posixpath.normpath(c)
                )
                if rel in self.files:
                    return self.files[rel]
            for c in candidates:
                c = posixpath.normpath(c.lstrip("/"))
                if c in self.files:
                    return self.files[c]
            tails = [
                rel
                for c in candidates
                for rel in self.by_name.get(posixpath.basename(c), [])
                if norm(rel) == c or norm(rel).endswith("/" + c)
            ]
            return min(tails, key=_key) if tails else None
        here = posixpath.dirname(from_rel)
        for c in candidates:
            hits = self.by_name.get(c)
            if hits:
                notes = [h for h in hits if is_note(h)] if c == t and not has_ext else hits
                return _best(notes or hits, here)
        return None

    def probable(self, target: str) -> str | None:
        """A note whose title or alias is the link's text: what the author probably meant."""
        hits = self.titles.get(norm(target.strip()))
        return min(hits, key=_key) if hits else None


def _best(hits: list[str], here: str) -> str:
    """Among same-named files: the one in the linking note's folder, else the shortest path."""
    same = [h for h in hits if posixpath.dirname(h) == here]
    return min(same or hits, key=_key)


def looks_named(target: str) -> bool:
    """A note name with a dot in it (`v1.2 notes`) rather than a file with an extension (`.2 notes`)."""
    ext = posixpath.splitext(target)[1]
    return " " in ext or len(ext) > 6


def _looks_like_name_with_dot(t: str, ix: VaultIndex) -> bool:
    """`[[v1.2 notes]]` names a note `v1.2 notes.md`, not a file with extension `.2 notes`."""
    return looks_named(posixpath.basename(t)) or (posixpath.basename(t) + ".md") in ix.by_name
