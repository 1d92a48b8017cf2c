"""Markdown to safe HTML: wikilinks become links (unresolved ones marked), raw HTML is never passed through,
and the result is sanitised once more with nh3."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import quote

import nh3
from markdown_it import MarkdownIt

from ingest.markdown import blank_code

WIKILINK = re.compile(r"(!?)\[\[([^\[\]\n]+?)\]\]")
TOKEN = "WIKILINKTOKEN{}X"
TOKEN_RE = re.compile(r"WIKILINKTOKEN(\d+)X")

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")

ALLOWED_TAGS = {
    "a", "p", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "br", "table", "thead", "tbody", "tr", "th", "td", "span", "del",
}  # fmt: skip
ALLOWED_ATTRS = {"a": {"href", "class", "data-preview", "title"}, "span": {"class"}, "th": {"align"}, "td": {"align"}}


def node_url(node_id: str) -> str:
    return "/node/" + quote(node_id, safe=":/")


def render_markdown(text: str, resolve: Callable[[str], tuple[str, bool, str] | None]) -> str:
    """Render a note body. `resolve(name)` gives (node id, is_stub, display name) for a link name, or None.

    A bare link written as the target's slug, [[deep-linear-networks]], shows the target's display name."""
    links: list[str] = []

    def stash(m: re.Match[str]) -> str:
        target, _, alias = m.group(2).partition("|")
        name, _, heading = target.partition("#")
        shown = alias.strip() or (f"{name.strip()} › {heading.strip()}" if heading and name.strip() else target.strip())
        hit = resolve(name.strip()) if name.strip() else None
        if hit and not alias.strip() and not heading and name.strip() == hit[0] and "-" in hit[0]:
            shown = hit[2]
        cls = "wikilink embed" if m.group(1) else "wikilink"
        if hit is None or hit[1]:
            cls += " unresolved"
        if hit is None:
            links.append(f'<span class="{cls}">{html.escape(shown)}</span>')
        else:
            url = html.escape(node_url(hit[0]))
            links.append(f'<a class="{cls}" href="{url}" data-preview="{html.escape(hit[0])}">{html.escape(shown)}</a>')
        return TOKEN.format(len(links) - 1)

    # Links inside code are code, not links: match on a copy with code blanked out, replace in the original.
    scan = blank_code(text)
    parts, last = [], 0
    for m in WIKILINK.finditer(scan):
        parts += [text[last : m.start()], stash(WIKILINK.match(text, m.start()))]  # type: ignore[arg-type]
        last = m.end()
    body = "".join(parts) + text[last:]
    rendered = _md.render(body)
    rendered = TOKEN_RE.sub(lambda m: links[int(m.group(1))], rendered)
    return nh3.clean(
        rendered,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRS,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
