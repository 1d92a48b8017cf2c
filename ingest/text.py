"""Reading files as text with errors a user can act on."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.records import ParseError

MAX_FILE_BYTES = 5 * 1024 * 1024


def decode_text(data: bytes, kind: str = "text") -> str:
    """Decode UTF-8 bytes, refusing binary content and naming the line of a bad byte."""
    if b"\x00" in data[:8192]:
        raise ParseError(f"this is a binary file, not {kind}; remove it or rename it")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ParseError(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); re-save the file as UTF-8",
            line,
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decode_lenient(data: bytes) -> tuple[str, list[tuple[str, int | None, str]]]:
    r"""Decode a text file the way an editor opens it: a BOM dropped, NUL bytes removed and invalid UTF-8
    replaced, each repair reported as (kind, line, message). Line endings become `\n`.

    >>> decode_lenient(b"\xef\xbb\xbfa\r\nb")
    ('a\nb', [])
    >>> text, warnings = decode_lenient(b"ok\nbad \xff byte")
    >>> text, [w[:2] for w in warnings]
    ('ok\nbad \ufffd byte', [('invalid-utf8', 2)])
    """
    warnings: list[tuple[str, int | None, str]] = []
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        n = data.count(b"\x00")
        warnings.append(("nul-bytes", line, f"{n} NUL byte(s) removed (first on line {line})"))
        data = data.replace(b"\x00", b"")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        text = data.decode("utf-8-sig", errors="replace")
        n = text.count("\ufffd")
        warnings.append(
            (
                "invalid-utf8",
                line,
                f"{n} byte(s) that are not UTF-8 replaced by \ufffd (first on line {line}); re-save as UTF-8",
            )
        )
    return text.replace("\r\n", "\n").replace("\r", "\n"), warnings


def read_bytes(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """Read a file, refusing ones too large to be a note or bibliography."""
    size = path.stat().st_size
    if size > max_bytes:
        raise ParseError(
            f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit; split it into smaller files"
        )
    return path.read_bytes()


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\[\"'(])")


def sentence_around(text: str, pos: int, limit: int = 300) -> str:
    """The sentence of `text` that holds character `pos`, trimmed to `limit` characters.

    >>> sentence_around("One thing. Two [[x]] here. Three.", 16)
    'Two [[x]] here.'
    """
    start = text.rfind("\n\n", 0, pos)
    start = 0 if start < 0 else start + 2
    end = text.find("\n\n", pos)
    end = len(text) if end < 0 else end
    # A paragraph thousands of characters long is read only near `pos`: the sentence is cut to `limit` anyway,
    # and a note with many links in one long paragraph must not be scanned once per link.
    start, end = max(start, pos - 4 * limit), min(end, pos + 4 * limit)
    para = text[start:end]
    offset = pos - start
    begin = 0
    for m in _SENTENCE_END.finditer(para):
        if m.end() > offset:
            return _trim(para[begin : m.start()], limit)
        begin = m.end()
    return _trim(para[begin:], limit)


def _trim(s: str, limit: int) -> str:
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "…"
