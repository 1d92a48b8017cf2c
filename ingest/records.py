"""The plain records that parsers yield and the store writes."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from kg.model import EDGE_KINDS, NODE_KINDS, ORIGINS

__all__ = ["EDGE_KINDS", "NODE_KINDS", "ORIGINS"]


@dataclass(slots=True)
class NodeRecord:
    """One node as a parser sees it: a stable id plus what the file says about it."""

    id: str
    kind: str
    title: str
    text: str = ""
    path: str = ""
    line: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def content_hash(self, text: str | None = None) -> str:
        """Hash of everything stored for the node, so an unchanged node is never rewritten. `text`: the body,
        when the caller already holds it as a string (the record may hold a handle to it instead)."""
        payload = json.dumps(
            [self.kind, self.title, self.text if text is None else text, self.path, self.line, self.meta],
            sort_keys=True,
            ensure_ascii=False,
            default=str,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


@dataclass(slots=True)
class EdgeRecord:
    """A typed edge. `target` may still be an unresolved link name until the pipeline resolves it."""

    source: str
    target: str
    kind: str
    origin: str = "explicit"
    weight: float = 1.0
    label: str = ""
    context: str = ""
    path: str = ""
    line: int = 0
    ref: str = ""  # the link or citation as written, before resolution

    def key(self) -> tuple[str, str, str, str]:
        return (self.source, self.target, self.kind, self.label)

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


@dataclass(slots=True)
class FileError:
    """A file that could not be read or parsed: where, and what to do about it."""

    path: str
    line: int | None
    error: str

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.error}"


@dataclass(slots=True)
class FileWarning:
    """Something repaired or left out while reading a file that was still ingested."""

    path: str
    line: int | None
    kind: str  # a short name to count warnings by, e.g. "invalid-utf8", "bad-front-matter"
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


class ParseError(Exception):
    """Raised by a parser for input it cannot accept; carries the line where known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def slugify(text: str) -> str:
    """Lowercase, ASCII, hyphenated slug: the stable id of a note.

    >>> slugify("Edge of Stability: 2/η!")
    'edge-of-stability-2'
    >>> slugify("  Grokking  ")
    'grokking'
    """
    norm = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    norm = re.sub(r"[^a-zA-Z0-9/]+", "-", norm.lower()).strip("-")
    norm = re.sub(r"-*/-*", "/", norm)
    return norm.replace("/", "-").strip("-") or "untitled"


def normalise_title(title: str) -> str:
    """A title reduced to lowercase words, for matching the same paper across sources.

    >>> normalise_title("{Deep} Linear   Networks: a Theory")
    'deep linear networks a theory'
    """
    norm = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    return " ".join(re.findall(r"[a-z0-9]+", norm.lower()))
