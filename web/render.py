"""Note bodies to safe HTML, the way Obsidian shows them: wikilinks and tags as links (unresolved ones marked),
`![[note]]` transcluded one level deep, images from the vault, `%%comments%%` hidden, math left for KaTeX.
Raw HTML is never passed through, and the result is sanitised once more with nh3."""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import nh3

from ingest.markdown import blank_code
from web.mdext import markdown

WIKILINK = re.compile(r"(!?)\[\[([^\[\]\n]+?)\]\]")
COMMENT = re.compile(r"%%.*?%%", re.S)
SCAN = re.compile(f"{COMMENT.pattern}|{WIKILINK.pattern}", re.S)
IMAGE_EXT = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp", ".avif"}
SIZE = re.compile(r"^(\d{1,4})(?:x(\d{1,4}))?$")

ALLOWED_TAGS = {
    "a", "p", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "br", "table", "thead", "tbody", "tr", "th", "td", "span", "del", "s", "div", "details", "summary",
    "mark", "img", "input", "sup", "section",
}  # fmt: skip
ALLOWED_ATTRS = {
    "*": {"class"},
    "a": {"href", "data-preview", "title", "id"},
    "th": {"align", "style"},
    "td": {"align", "style"},
    "img": {"src", "alt", "width", "height", "loading"},
    "input": {"type", "checked", "disabled"},
    "li": {"id"},
    "sup": {"id"},
    "details": {"open"},
}

_md = markdown()


@dataclass(frozen=True)
class Target:
    """What a link resolved to."""

    id: str
    kind: str
    title: str
    stub: bool = False


@dataclass
class Links:
    """How a body's links resolve: `resolve(name)` gives a Target or None; `embed(target, heading)` gives the
    rendered body (or section) of a note for `![[…]]`, or None where embedding stops (one level deep)."""

    resolve: Callable[[str], Target | None]
    embed: Callable[[Target, str], str | None] | None = None


def node_url(node_id: str) -> str:
    return "/node/" + quote(node_id, safe=":/")


def file_url(node_id: str) -> str:
    return "/file/" + quote(node_id, safe="/")


def is_image(t: Target) -> bool:
    return t.kind == "attachment" and ("." + t.id.rsplit(".", 1)[-1].lower()) in IMAGE_EXT


def _img(t: Target, alt: str, size: str = "") -> str:
    m = SIZE.match(size.strip())
    dims = f' width="{m.group(1)}"' + (f' height="{m.group(2)}"' if m and m.group(2) else "") if m else ""
    return f'<img src="{html.escape(file_url(t.id))}" alt="{html.escape(alt)}"{dims} loading="lazy">'


def _link(target: Target | None, shown: str, cls: str) -> str:
    if target is None or target.stub:
        cls += " unresolved"
    if target is None:
        return f'<span class="{cls}">{html.escape(shown)}</span>'
    url = file_url(target.id) if target.kind == "attachment" else node_url(target.id)
    return (
        f'<a class="{cls}" href="{html.escape(url)}" data-preview="{html.escape(target.id)}">{html.escape(shown)}</a>'
    )


def wikilink_html(inner: str, embed: bool, links: Links) -> str:
    """One `[[…]]` or `![[…]]` as HTML."""
    target_text, _, alias = inner.partition("|")
    name, _, heading = target_text.partition("#")
    name, heading, alias = name.strip(), heading.strip(), alias.strip()
    hit = links.resolve(name) if name else None
    if embed and hit is not None and hit.kind == "attachment":
        return _img(hit, name, alias) if is_image(hit) else _link(hit, alias or name, "wikilink embed")
    shown = alias or (f"{name} › {heading}" if heading and name else target_text.strip())
    if embed and ("." + name.rsplit(".", 1)[-1].lower()) in IMAGE_EXT:
        shown = name  # an image that is not in the store: its file name, not its size
    if hit and not alias and not heading and name == hit.id and "-" in hit.id:
        shown = hit.title  # a link written as the target's slug shows its title
    if embed and hit is not None and not hit.stub and links.embed is not None:
        body = links.embed(hit, heading)
        if body is not None:
            title = hit.title + (f" › {heading}" if heading else "")
            head = _link(hit, title, "wikilink")
            return f'<div class="embed"><p class="embed-title">{head}</p>{body}</div>'
    return _link(hit, shown, "wikilink embed" if embed else "wikilink")


def _render_image(self: Any, tokens: list[Any], idx: int, options: Any, env: Any) -> str:
    tok = tokens[idx]
    src, alt = unquote(tok.attrGet("src") or ""), tok.content
    if re.match(r"^[a-z][a-z0-9+.-]*:", src, re.I):
        return f'<a href="{html.escape(src)}">{html.escape(alt or src)}</a>'  # remote images stay links
    links: Links | None = env.get("links")
    hit = links.resolve(src) or links.resolve(src.rsplit("/", 1)[-1]) if links else None
    if hit is None or not is_image(hit):
        return f'<span class="image unresolved">{html.escape(alt or src)}</span>'
    return _img(hit, alt)


_md.add_render_rule("image", _render_image)


def section(text: str, heading: str) -> str | None:
    """The part of a body under `heading`, up to the next heading of the same or a higher level.

    >>> section("# A\\nx\\n## B\\ny\\n### C\\nz\\n## D\\nw", "b")
    '## B\\ny\\n### C\\nz'
    """
    lines = text.split("\n")
    for i, line in enumerate(lines):
        m = re.match(r"^(#{1,6})\s+(.+?)\s*#*\s*$", line)
        if m and m.group(2).strip().lower() == heading.strip().lower():
            level = len(m.group(1))
            end = next(
                (j for j in range(i + 1, len(lines)) if re.match(rf"^#{{1,{level}}}\s", lines[j])),
                len(lines),
            )
            return "\n".join(lines[i:end]).strip()
    return None


def render_markdown(text: str, links: Links) -> str:
    """Render a note body to sanitised HTML."""
    pieces: list[str] = []
    # Links are stashed under a placeholder the note cannot contain: a random word checked against the text.
    nonce = secrets.token_hex(8)
    while nonce in text:
        nonce = secrets.token_hex(8)
    token = "WL" + nonce + "L{}X"
    token_re = re.compile(rf"(<p>)?WL{nonce}L(\d+)X(</p>)?")
    # Links and comments inside code are code: match on a copy with code blanked out, replace in the original.
    scan = blank_code(text)
    parts, last = [], 0
    for m in SCAN.finditer(scan):
        parts.append(text[last : m.start()])
        if m.group(0).startswith("%%"):
            parts.append("")
        else:
            pieces.append(wikilink_html(m.group(2), bool(m.group(1)), links))
            parts.append(token.format(len(pieces) - 1))
        last = m.end()
    body = "".join(parts) + text[last:]
    rendered = _md.render(body, {"links": links})

    def put(m: re.Match[str]) -> str:
        piece = pieces[int(m.group(2))]
        if m.group(1) and m.group(3):
            return piece if piece.startswith("<div") else f"<p>{piece}</p>"
        return (m.group(1) or "") + piece + (m.group(3) or "")

    rendered = token_re.sub(put, rendered)
    return nh3.clean(
        rendered,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRS,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        filter_style_properties={"text-align"},
    )
