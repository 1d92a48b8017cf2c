"""Obsidian-flavoured Markdown notes: front matter, [[wikilinks]], embeds, #tags, Markdown links, citations.

`parse_note` yields the note's node, its claims, warnings, and edges whose targets are still *references*:
`link:<name>` for a note or file reference, `cite:<ref>` for a paper. The pipeline resolves them against the
vault with Obsidian's rules. Every pattern here is bounded, so parsing is linear in the note's length.
"""

from __future__ import annotations

import bisect
import posixpath
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from ingest.citations import find_citations
from ingest.claims import claim_records
from ingest.frontmatter import FrontMatter, read_front_matter
from ingest.records import EdgeRecord, FileWarning, NodeRecord, ParseError
from ingest.text import sentence_around

WIKILINK = re.compile(r"(!?)\[\[([^\[\]\n]{1,2000})\]\]")
MD_LINK = re.compile(
    r"(!?)\[([^\[\]\n]{0,1000})\]\(\s{0,8}"
    r"(<[^<>\n]{1,1000}>|(?:[^()\s<>]|\([^()\s<>]{0,200}\)){1,2000})"  # one level of balanced parentheses
    r"(?:\s{1,8}\"[^\"\n]{0,400}\")?\s{0,8}\)"
)
TAG = re.compile(r"(?<![\w/#&\[\]])#([\w\-/]{1,200})")
# Possessive runs (`{3,}+): a line of backticks with no newline after it must not backtrack quadratically.
FENCE = re.compile(r"^[ \t]{0,3}(`{3,}+|~{3,}+)[^\n]*+\n.*?(?:^[ \t]{0,3}\1[ \t]*$|\Z)", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]{0,2000}`")
COMMENT = re.compile(r"%%.*?(?:%%|\Z)|<!--.*?(?:-->|\Z)", re.S)
MATH = re.compile(r"\$\$.{0,20000}?\$\$|(?<![\\$])\$(?=[^\s$])[^$\n]{0,2000}?(?<=[^\s\\])\$(?!\d)", re.S)
URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]{1,20}:")

# Keys the node keeps in its own fields; the rest of the front matter is kept as `front_matter`.
OWN_KEYS = ("title", "dek", "description", "claim", "aliases", "tags", "strand", "sources", "related", "draws_on")


def _blank(m: re.Match[str]) -> str:
    return re.sub(r"[^\n]", " ", m.group(0))


def blank_code(body: str) -> str:
    """Replace code with spaces so links, tags and citations inside it are ignored while every offset holds."""
    return INLINE_CODE.sub(_blank, FENCE.sub(_blank, body))


def blank_comments(scan: str) -> str:
    """Also blank `%%comments%%` and HTML comments, which Obsidian hides and never links from."""
    return COMMENT.sub(_blank, scan)


def blank_math(scan: str) -> str:
    """Also blank `$…$` math, where `#` and `[` are symbols, not tags or links."""
    return MATH.sub(_blank, scan)


def _str(value: Any) -> str:
    return "" if value is None else str(value).strip()


_NEWLINE = re.compile("\n")


class Lines:
    """Line numbers by bisection, so a note with many links is not read once per link."""

    def __init__(self, text: str, first: int) -> None:
        self.breaks = [m.start() for m in _NEWLINE.finditer(text)]
        self.first = first

    def of(self, pos: int) -> int:
        return self.first + bisect.bisect_left(self.breaks, pos)


def split_link(inner: str) -> tuple[str, str, str]:
    """Split the inside of a wikilink into (target, #subpath, display).

    >>> split_link("Note name#Heading|shown")
    ('Note name', '#Heading', 'shown')
    >>> split_link("folder/note#^block")
    ('folder/note', '#^block', '')
    >>> split_link("a\\\\|b")
    ('a', '', 'b')
    """
    target, _, display = inner.replace("\\|", "|").partition("|")
    target, hashmark, sub = target.partition("#")
    return target.strip(), (hashmark + sub).strip(), display.strip()


def parse_note(text: str, path: str, node_id: str) -> Iterator[NodeRecord | EdgeRecord | FileWarning]:
    """Parse one note. `node_id` is the id the pipeline gives the file."""
    fm = read_front_matter(text)
    for kind, line, message in fm.warnings:
        yield FileWarning(path, line, kind, message)
    meta, body = fm.meta, fm.body
    scan = blank_math(blank_comments(blank_code(body)))
    lines = Lines(body, fm.body_line)
    stem = posixpath.basename(path)
    stem = stem[: stem.rfind(".")] if "." in stem else stem
    title = _str(meta.get("title")) or stem
    node_meta = _node_meta(meta, scan)
    yield NodeRecord(node_id, "inquiry" if meta.get("draws_on") else "concept", title, body.strip(), path, 1, node_meta)

    def context(pos: int) -> str:
        return _display(sentence_around(body, pos))

    for m in WIKILINK.finditer(scan):
        target, sub, _display_text = split_link(body[m.start(2) : m.end(2)])
        if not target:
            continue  # [[#heading]] points inside this note
        embed = bool(m.group(1))
        yield EdgeRecord(
            node_id,
            "link:" + target,
            "embeds" if embed else "links_to",
            origin="wikilink",
            label=sub if embed else "",
            context=context(m.start()),
            path=path,
            line=lines.of(m.start()),
            ref=target,
        )
    for m in MD_LINK.finditer(scan):
        href = body[m.start(3) : m.end(3)].strip("<>")
        if URL_SCHEME.match(href) or href.startswith("#"):
            continue
        target, _, sub = unquote(href).partition("#")
        if not target:
            continue
        embed = bool(m.group(1))
        yield EdgeRecord(
            node_id,
            "link:" + target,
            "embeds" if embed else "links_to",
            origin="explicit",
            label=("#" + sub if sub else "") if embed else "",
            context=context(m.start()),
            path=path,
            line=lines.of(m.start()),
            ref=target,
        )
    for tag in node_meta["tags"]:
        yield EdgeRecord(node_id, "tag:" + tag, "tagged", origin="explicit", path=path, line=1)
    yield from _related(meta, fm, node_id, path)
    for ref in meta.get("sources") or []:
        if _str(ref):
            r = _str(ref).removeprefix("[[").removesuffix("]]")
            yield EdgeRecord(
                node_id, "cite:" + r, "cites", origin="front_matter", path=path, line=fm.key_line("sources"), ref=r
            )
    for c in find_citations(scan):
        yield EdgeRecord(
            node_id,
            "cite:" + c.ref,
            "cites",
            origin=c.origin,
            context=context(c.pos),
            path=path,
            line=lines.of(c.pos),
            ref=c.written,
        )
    for ref in meta.get("draws_on") or []:
        if _str(ref):
            target = _str(ref).removeprefix("[[").removesuffix("]]")
            yield EdgeRecord(node_id, "link:" + target, "draws_on", path=path, line=fm.key_line("draws_on"), ref=target)
    yield from claim_records(meta.get("claims") or [], node_id, node_meta, path, fm.key_line("claims"))


def _node_meta(meta: dict[str, Any], scan: str) -> dict[str, Any]:
    tags = [_clean_tag(str(t)) for t in meta.get("tags") or [] if _clean_tag(str(t))]
    for m in TAG.finditer(scan):
        tag = m.group(1).rstrip("/")
        if tag and not tag.isdigit() and tag not in tags:
            tags.append(tag)
    node_meta: dict[str, Any] = {
        "dek": _str(meta.get("dek") or meta.get("description")),
        "claim": _str(meta.get("claim")),
        "aliases": [_str(a) for a in meta.get("aliases") or [] if _str(a)],
        "tags": tags,
        "strand": _str(meta.get("strand")),
    }
    extra = {k: v for k, v in meta.items() if k not in OWN_KEYS and k != "claims"}
    if extra:
        node_meta["front_matter"] = extra
    return node_meta


def _related(meta: dict[str, Any], fm: FrontMatter, node_id: str, path: str) -> Iterator[EdgeRecord]:
    for i, rel in enumerate(meta.get("related") or []):
        if isinstance(rel, str):
            rel = {"to": rel}
        if not isinstance(rel, dict) or not _str(rel.get("to")):
            raise ParseError(
                f"related entry {i + 1} needs a 'to' naming a note, e.g. {{to: grokking, relation: extends}}",
                fm.key_line("related"),
            )
        target = _str(rel["to"]).removeprefix("[[").removesuffix("]]")
        target = split_link(target)[0]
        yield EdgeRecord(
            node_id,
            "link:" + target,
            "related",
            origin="explicit",
            label=_str(rel.get("relation")) or "related",
            context=_str(rel.get("note")),
            path=path,
            line=fm.key_line("related"),
            ref=target,
        )


def _clean_tag(tag: str) -> str:
    return tag.strip().lstrip("#").strip("/")


def _display(context: str) -> str:
    """Show a context sentence as it reads: [[a|b]] becomes b, [[a]] becomes a."""

    def repl(m: re.Match[str]) -> str:
        target, sub, display = split_link(m.group(2))
        return display or target or sub.lstrip("#^")

    return WIKILINK.sub(repl, context)


def split_front_matter(text: str, path: str = "") -> tuple[dict[str, Any], str, int]:
    """Front matter, body, and the line where the body starts. A block YAML cannot read raises ParseError
    here (for callers that want it strict); `parse_note` turns it into a warning instead."""
    fm = read_front_matter(text)
    for kind, line, message in fm.warnings:
        if kind == "bad-front-matter":
            raise ParseError(message, line)
    return fm.meta, fm.body, fm.body_line
