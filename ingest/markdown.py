"""Obsidian-compatible Markdown notes: front matter, [[wikilinks]], #tags and Markdown links.

`parse_note` yields the note's node, its claims, and edges whose targets are still *references*:
`link:<name>` for a note reference, `cite:<ref>` for a paper. The pipeline resolves them against the vault.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import yaml

from ingest.claims import claim_records
from ingest.records import EdgeRecord, NodeRecord, ParseError
from ingest.text import sentence_around

WIKILINK = re.compile(r"(!?)\[\[([^\[\]\n]+?)\]\]")
MD_LINK = re.compile(r"(?<!!)\[([^\]\n]*)\]\(([^)\s]+\.md)(#[^)\s]*)?\)")
TAG = re.compile(r"(?<![\w/#&\[])#([A-Za-z_][\w\-]*(?:/[\w\-]+)*)")
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
FRONT = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.S)

# libyaml's safe loader when present: the same documents, parsed about ten times faster.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
LIST_FIELDS = ("aliases", "tags", "sources", "draws_on", "related", "claims")


def split_front_matter(text: str, path: str) -> tuple[dict[str, Any], str, int]:
    """Split YAML front matter from the body. Returns (meta, body, line number where the body starts)."""
    m = FRONT.match(text)
    if not m:
        return {}, text, 1
    raw = m.group(1) or ""
    try:
        meta = yaml.load(raw, Loader=SAFE_LOADER) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ParseError(
            f"front matter is not valid YAML ({problem}); quote values that contain ':' or '#'",
            line,
        ) from None
    except RecursionError:
        raise ParseError("front matter is nested too deeply to read", 2) from None
    if not isinstance(meta, dict):
        raise ParseError("front matter must be a mapping of keys to values (key: value)", 2)
    for key in LIST_FIELDS:
        value = meta.get(key)
        if value is None:
            continue
        if isinstance(value, (str, dict)):
            meta[key] = [value]
        elif not isinstance(value, list):
            raise ParseError(f"front matter field '{key}' must be a list", _key_line(raw, key))
    body_start = text[: m.end()].count("\n") + 1
    return meta, text[m.end() :], body_start


def _key_line(raw: str, key: str) -> int:
    for i, line in enumerate(raw.splitlines()):
        if line.startswith(f"{key}:"):
            return i + 2
    return 1


def blank_code(body: str) -> str:
    """Replace code spans with spaces so links and tags inside code are ignored but offsets hold."""

    def blank(m: re.Match[str]) -> str:
        return re.sub(r"[^\n]", " ", m.group(0))

    return INLINE_CODE.sub(blank, FENCE.sub(blank, body))


def _str(value: Any) -> str:
    return "" if value is None else str(value).strip()


def parse_note(text: str, path: str, node_id: str) -> Iterator[NodeRecord | EdgeRecord]:
    """Parse one note. `node_id` is the slug the pipeline gave the file."""
    meta, body, body_line = split_front_matter(text, path)
    scan = blank_code(body)

    def line_of(pos: int) -> int:
        return body_line + body.count("\n", 0, pos)

    title = _str(meta.get("title"))
    if not title:
        h1 = re.search(r"^#\s+(.+)$", scan, re.M)
        title = h1.group(1).strip() if h1 else path.rsplit("/", 1)[-1].removesuffix(".md")
    kind = "inquiry" if meta.get("draws_on") else "concept"
    tags = [_clean_tag(str(t)) for t in meta.get("tags") or [] if _clean_tag(str(t))]
    for m in TAG.finditer(scan):
        if m.group(1) not in tags and not m.group(1).isdigit():
            tags.append(m.group(1))
    extra = {
        k: v
        for k, v in meta.items()
        if k
        not in (
            "title",
            "dek",
            "claim",
            "aliases",
            "tags",
            "strand",
            "sources",
            "related",
        )
        and k not in ("draws_on", "claims")
    }
    node_meta: dict[str, Any] = {
        "dek": _str(meta.get("dek") or meta.get("description")),
        "claim": _str(meta.get("claim")),
        "aliases": [_str(a) for a in meta.get("aliases") or [] if _str(a)],
        "tags": tags,
        "strand": _str(meta.get("strand")),
    }
    if extra:
        node_meta["front_matter"] = _jsonable(extra)
    yield NodeRecord(node_id, kind, title, body.strip(), path, 1, node_meta)

    seen: set[tuple[str, str]] = set()
    for m in WIKILINK.finditer(scan):
        inner = body[m.start(2) : m.end(2)]
        target, _, alias = inner.partition("|")
        target, _, heading = target.partition("#")
        target = target.strip()
        if not target:
            continue  # [[#heading]] points inside this note
        label = "embed" if m.group(1) else ""
        yield EdgeRecord(
            node_id,
            "link:" + target,
            "links_to",
            origin="wikilink",
            label=label,
            context=_display(sentence_around(body, m.start())),
            path=path,
            line=line_of(m.start()),
        )
        seen.add((target.lower(), label))
    for m in MD_LINK.finditer(scan):
        href = unquote(m.group(2))
        if re.match(r"^[a-z]+:", href):
            continue
        yield EdgeRecord(
            node_id,
            "link:" + href,
            "links_to",
            origin="explicit",
            context=_display(sentence_around(body, m.start())),
            path=path,
            line=line_of(m.start()),
        )
    for tag in tags:
        yield EdgeRecord(node_id, "tag:" + tag, "tagged", origin="explicit", path=path, line=1)
    for i, rel in enumerate(meta.get("related") or []):
        if isinstance(rel, str):
            rel = {"to": rel}
        if not isinstance(rel, dict) or not _str(rel.get("to")):
            raise ParseError(
                f"related entry {i + 1} needs a 'to' naming a note, e.g. {{to: grokking, relation: extends}}",
                _key_line(text, "related"),
            )
        target = _str(rel["to"]).removeprefix("[[").removesuffix("]]")
        yield EdgeRecord(
            node_id,
            "link:" + target,
            "related",
            origin="explicit",
            label=_str(rel.get("relation")) or "related",
            context=_str(rel.get("note")),
            path=path,
            line=_key_line(text, "related"),
        )
    for ref in meta.get("sources") or []:
        if _str(ref):
            yield EdgeRecord(
                node_id,
                "cite:" + _str(ref),
                "source",
                path=path,
                line=_key_line(text, "sources"),
            )
    for ref in meta.get("draws_on") or []:
        if _str(ref):
            target = _str(ref).removeprefix("[[").removesuffix("]]")
            yield EdgeRecord(
                node_id,
                "link:" + target,
                "draws_on",
                path=path,
                line=_key_line(text, "draws_on"),
            )
    yield from claim_records(meta.get("claims") or [], node_id, node_meta, path, _key_line(text, "claims"))


def _clean_tag(tag: str) -> str:
    return tag.strip().lstrip("#").strip("/")


def _display(context: str) -> str:
    """Show a context sentence as it reads: [[a|b]] becomes b, [[a]] becomes a."""

    def repl(m: re.Match[str]) -> str:
        target, _, alias = m.group(2).partition("|")
        return alias or target.partition("#")[0]

    return WIKILINK.sub(repl, context)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
