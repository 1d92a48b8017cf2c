"""Note bodies held on disk while an ingest assembles, plans and writes, so memory holds the link graph only.

At 100k notes the bodies were the largest part of an ingest's memory (about 350 MB of the parsed records).
Between parsing and writing, a note's body is read twice: once by the plan (for the content hash and the
embedding key) and once by apply (for the row and its full-text row). So after a file is parsed (and its records
cached), each long body moves into a temporary SQLite file and the record keeps a `Stashed` handle. Readers
call `text_of`, which gives a plain string either way. A handle used after its ingest ended fails loudly: it
is not a string, so it cannot be mistaken for an empty body.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterable
from typing import Any, cast

from ingest.records import NodeRecord
from kg.model import NOTE_KINDS

MIN_CHARS = 600  # shorter bodies cost less than a handle and a round trip


class Stashed:
    """A body in the stash: `str()` reads it back."""

    __slots__ = ("_stash", "_row")

    def __init__(self, stash: TextStash, row: int) -> None:
        self._stash = stash
        self._row = row

    def __str__(self) -> str:
        return self._stash.get(self._row)

    def __repr__(self) -> str:
        return f"Stashed(row {self._row})"


def text_of(value: Any) -> str:
    """A node's body as a string, read back from the stash if it was stashed."""
    return value if isinstance(value, str) else str(value)


class TextStash:
    """A temporary SQLite file of bodies, deleted when closed. One ingest, one thread."""

    def __init__(self, directory: str | None = None) -> None:
        fd, self.path = tempfile.mkstemp(prefix="kg-stash-", suffix=".db", dir=directory)
        os.close(fd)
        self._conn = sqlite3.connect(self.path)
        self._conn.execute("PRAGMA journal_mode=OFF")
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.execute("CREATE TABLE body (row INTEGER PRIMARY KEY, text TEXT NOT NULL)")
        self._count = 0

    def put(self, text: str) -> Stashed:
        self._count += 1
        self._conn.execute("INSERT INTO body VALUES (?, ?)", (self._count, text))
        return Stashed(self, self._count)

    def get(self, row: int) -> str:
        found = self._conn.execute("SELECT text FROM body WHERE row = ?", (row,)).fetchone()
        if found is None:
            raise KeyError(f"no body {row} in the ingest's stash {self.path}")
        return cast(str, found[0])

    def stash(self, records: Iterable[Any]) -> int:
        """Move the long bodies of `records` into the stash; returns how many moved. Only the kinds a note file
        makes (NOTE_KINDS): papers and summaries have their texts merged and rewritten in assembly."""
        moved = 0
        for r in records:
            if isinstance(r, NodeRecord) and r.kind in NOTE_KINDS and isinstance(r.text, str):
                if len(r.text) >= MIN_CHARS:
                    r.text = cast(str, self.put(r.text))
                    moved += 1
        return moved

    def close(self) -> None:
        self._conn.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def __enter__(self) -> TextStash:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
