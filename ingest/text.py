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
