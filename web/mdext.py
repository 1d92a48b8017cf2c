"""markdown-it extensions for Obsidian notes: math kept verbatim for KaTeX, callouts, ==highlights==, #tags,
and code highlighted by Pygments. Each is a small plugin; `markdown()` lists them in order."""

from __future__ import annotations

import re
from html import escape
from typing import Any
from urllib.parse import quote

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from mdit_py_plugins.amsmath import amsmath_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.tasklists import tasklists_plugin
from mdit_py_plugins.texmath import texmath_plugin
from pygments import highlight as pyg_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

TAG = re.compile(r"#([A-Za-z_][\w\-]*(?:/[\w\-]+)*)")
CALLOUT = re.compile(r"^\[!([A-Za-z][\w-]*)\]([+-]?)[ \t]*(.*)$")
_FORMATTER = HtmlFormatter(nowrap=True)


def _math_inline(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    return f'<span class="math inline">{escape(tokens[idx].content)}</span>'


def _math_display_inline(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    return f'<span class="math display">{escape(tokens[idx].content.strip())}</span>'


def _math_block(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    return f'<div class="math display">{escape(tokens[idx].content.strip())}</div>\n'


def _bracket_display(state: StateInline, silent: bool) -> bool:
    """`\\[…\\]` inside a paragraph: display math, before the backslash escape rule eats the bracket."""
    if not state.src.startswith("\\[", state.pos):
        return False
    end = state.src.find("\\]", state.pos + 2)
    if end < 0:
        return False
    if not silent:
        tok = state.push("math_inline_double", "math", 0)
        tok.content = state.src[state.pos + 2 : end]
    state.pos = end + 2
    return True


def math_plugin(md: MarkdownIt) -> None:
    """`$…$`, `$$…$$`, `\\(…\\)`, `\\[…\\]` and `\\begin{align}`-style environments, kept verbatim (so `_`, `*`
    and `\\\\` survive) in spans that KaTeX renders in the browser."""
    md.use(texmath_plugin, delimiters="brackets")
    # Obsidian's (and Pandoc's) rule: `$` opens math only before a non-space, closes only after one, and a
    # closing `$` followed by a digit is a price ("costs $5 and $10" is text).
    md.use(dollarmath_plugin, double_inline=True, allow_digits=False, allow_space=False)
    md.use(amsmath_plugin)
    md.inline.ruler.before("escape", "math_bracket_display", _bracket_display)
    for name in ("math_inline", "math_single", "math_inline_double"):
        md.add_render_rule(name, _math_inline if name != "math_inline_double" else _math_display_inline)
    for name in ("math_block", "math_block_eqno", "math_block_label", "amsmath"):
        md.add_render_rule(name, _math_block)


def _mark_rule(state: StateInline, silent: bool) -> bool:
    src, pos = state.src, state.pos
    if not src.startswith("==", pos) or src.startswith("===", pos):
        return False
    end = src.find("==", pos + 2)
    if end <= pos + 2 or src[pos + 2].isspace():
        return False
    if not silent:
        state.push("mark_open", "mark", 1)
        old_max = state.posMax
        state.pos, state.posMax = pos + 2, end
        state.md.inline.tokenize(state)
        state.posMax = old_max
        state.push("mark_close", "mark", -1)
    state.pos = end + 2
    return True


def mark_plugin(md: MarkdownIt) -> None:
    """Obsidian's `==highlight==` as <mark>."""
    md.inline.ruler.before("emphasis", "obsidian_mark", _mark_rule)


def _tag_rule(state: StateInline, silent: bool) -> bool:
    pos = state.pos
    if state.src[pos] != "#" or (pos > 0 and not (state.src[pos - 1].isspace() or state.src[pos - 1] in "([{,;")):
        return False
    m = TAG.match(state.src, pos)
    if not m:
        return False
    if not silent:
        tok = state.push("obsidian_tag", "a", 0)
        tok.meta = {"tag": m.group(1)}
    state.pos = m.end()
    return True


def _render_tag(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    tag = tokens[idx].meta["tag"]
    href = "/node/" + quote("tag:" + tag, safe=":/")
    return f'<a class="tag" href="{escape(href)}" data-preview="{escape("tag:" + tag)}">#{escape(tag)}</a>'


def tag_plugin(md: MarkdownIt) -> None:
    """`#topic/kernels` in text links to the tag's page."""
    md.inline.ruler.before("text", "obsidian_tag", _tag_rule)
    md.add_render_rule("obsidian_tag", _render_tag)


def _callouts(state: Any) -> None:
    """Turn a blockquote whose first line is `[!type]±title` into a callout, before inline parsing."""
    tokens = state.tokens
    stack: list[Token] = []
    for i, tok in enumerate(tokens):
        if tok.type == "blockquote_open":
            stack.append(tok)
            if i + 2 < len(tokens) and tokens[i + 1].type == "paragraph_open" and tokens[i + 2].type == "inline":
                first, _, rest = tokens[i + 2].content.partition("\n")
                m = CALLOUT.match(first.strip())
                if m:
                    tok.meta = {"callout": m.group(1).lower(), "fold": m.group(2), "title": m.group(3)}
                    tokens[i + 2].content = rest
                    if not rest.strip():
                        tokens[i + 1].hidden = tokens[i + 3].hidden = True
        elif tok.type == "blockquote_close" and stack:
            tok.meta = stack.pop().meta


def _callout_open(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    meta = tokens[idx].meta or {}
    if "callout" not in meta:
        return "<blockquote>\n"
    kind = re.sub(r"[^a-z0-9-]", "", meta["callout"])
    title = escape(meta["title"] or kind.capitalize())
    if meta["fold"]:
        state = " open" if meta["fold"] == "+" else ""
        return f'<details class="callout callout-{kind}"{state}><summary class="callout-title">{title}</summary>\n'
    return f'<div class="callout callout-{kind}"><p class="callout-title">{title}</p>\n'


def _callout_close(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    meta = tokens[idx].meta or {}
    if "callout" not in meta:
        return "</blockquote>\n"
    return "</details>\n" if meta["fold"] else "</div>\n"


def callout_plugin(md: MarkdownIt) -> None:
    """Obsidian callouts, `> [!note] Title`; `+` or `-` after the type makes them foldable, open or shut.

    Titles are plain text: inline Markdown in a title is shown as written."""
    md.core.ruler.before("inline", "obsidian_callouts", _callouts)
    md.add_render_rule("blockquote_open", _callout_open)
    md.add_render_rule("blockquote_close", _callout_close)


def highlight_code(code: str, lang: str, _attrs: str) -> str:
    """Pygments colouring for fenced code with a known language; markdown-it escapes the rest."""
    if not lang:
        return ""
    try:
        lexer = get_lexer_by_name(lang.split()[0])
    except ClassNotFound:
        return ""
    return pyg_highlight(code, lexer, _FORMATTER)


def pygments_css() -> str:
    """The stylesheet for highlighted code, scoped to rendered bodies."""
    return HtmlFormatter(style="friendly").get_style_defs(".body pre code")


def markdown() -> MarkdownIt:
    """The parser for note bodies: CommonMark with tables, no raw HTML, and the plugins above."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "highlight": highlight_code})
    md.enable(["table", "strikethrough"])
    for plugin in (math_plugin, footnote_plugin, tasklists_plugin, mark_plugin, tag_plugin, callout_plugin):
        md.use(plugin)
    return md
