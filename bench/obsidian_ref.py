"""A reference link resolver written from Obsidian's documented rules, independent of `ingest/`.

`python -m bench.obsidian_ref VAULT [--json]` lists every link in every note of VAULT and the vault-relative
path Obsidian opens for it (None: unresolved, drawn as a dangling link in Obsidian's graph).

The rules, with where each comes from (help pages found through the search tool):

1. Files. Everything under the vault root is a file of the vault, except names starting with "." (Obsidian
   hides `.obsidian`, `.git`, `.trash` and other dot files). A `runs/` folder is an ordinary folder. Notes are
   the `.md` files; every other file is an attachment.
2. Link syntax (help page "Internal links", e.g. huggingface.co/spaces/anpigon/obsidian-qa-bot/.../Internal
   links.md and www.mintlify.com/obsidianmd/obsidian-help/linking/internal-links): `[[target]]`,
   `![[target]]` (embed), `[[target#Heading]]`, `[[target#^block]]`, `[[target|display]]` (`\\|` inside a
   table), and Markdown links `[text](target)` / `![alt](target)` whose target is URL-encoded (`%20`).
   Everything from the first `#` is the subpath; the text after the first `|` is display text. An empty
   target (`[[#Heading]]`) points into the note itself. Links inside fenced code, inline code and math
   (`$...$`, `$$...$$`) are not links. Links inside front-matter values (`related: "[[x]]"`) are links
   ("frontmatter" kind), as Obsidian's properties index them.
3. `.md` is optional: a target names the note `target.md` or the file `target` (help page: "Both variations
   link to the same file. File extensions are optional in wikilinks" for notes). Any other file needs its
   extension: `[[photo]]` does not open `photo.png`.
4. Matching ignores case and is done on the file name; a folder path in the link must match the end of the
   file's path (`[[b/note]]` matches `a/b/note.md`, never `c/note.md`). A target starting with `./` or `../`
   is relative to the linking note's folder; one starting with `/` is relative to the vault root.
5. Several matches: Obsidian's resolver is given the linking note's path (`getFirstLinkpathDest(linkpath,
   sourcePath)`; ryotaushio.github.io/the-hobbyist-dev/obsidian/api-&-internals/links.html explains that in
   "Shortest path when possible" mode the source path is needed to resolve a link). We implement: (a) the
   path taken relative to the note's folder, if that file exists (so a same-named note in the same folder
   wins); (b) the path taken from the vault root (so `[[note]]` opens `/note.md`, trip2g.com/dev/obsidian_links:
   "files closer to vault root take precedence"); (c) among the remaining suffix matches, the fewest folders,
   then the shortest path, then the alphabetically first. Sources disagree on (a) against (b) for a note in a
   sub-folder, so every link with more than one candidate is flagged `ambiguous` and reported apart.
6. Nothing else: a link whose text equals another note's title or alias but no file name stays unresolved
   (aliases only feed the link suggester; help page "Aliases").
"""

from __future__ import annotations

import argparse
import json
import os
import posixpath
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import unquote

WIKILINK = re.compile(r"(!?)\[\[([^\[\]\n]*?)\]\]")
MDLINK = re.compile(r"(!?)\[((?:[^\[\]\n]|\[[^\[\]\n]*\])*)\]\(\s*(<[^<>\n]*>|[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)")
FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")
INLINE_CODE = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.S)
MATH_BLOCK = re.compile(r"\$\$.*?\$\$", re.S)
MATH_INLINE = re.compile(r"(?<![\\$])\$(?![\s$])[^$\n]*?(?<![\s\\])\$(?!\d)")
FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?\r?\n)?---[ \t]*(?:\r?\n|\Z)", re.S)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


@dataclass
class Link:
    source: str  # vault-relative path of the note holding the link
    text: str  # the link as written between the brackets (or the Markdown destination)
    key: str  # the target part: before '#' and '|', stripped (what a note's link map is keyed by)
    kind: str  # wikilink | embed | markdown | markdown_embed | frontmatter
    line: int
    resolved: str | None  # vault-relative path Obsidian opens, or None
    candidates: int  # files that matched the name; > 1 means the tie-break decided
    reason: str  # how it resolved: relative | root | name | self | unresolved


def list_files(vault: Path) -> list[str]:
    """Every file of the vault, vault-relative with '/' (names that are not UTF-8 keep surrogate escapes)."""
    out: list[str] = []
    base = os.fsencode(vault)
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(b"."))
        for name in sorted(filenames):
            if name.startswith(b"."):
                continue
            rel = os.path.relpath(os.path.join(dirpath, name), base)
            out.append(os.fsdecode(rel).replace(os.sep, "/"))
    return out


def read_text(path: Path) -> str:
    """A note's text as Obsidian shows it: UTF-8 with bad bytes replaced, BOM dropped."""
    data = path.read_bytes()
    return data.decode("utf-8", errors="replace").removeprefix("\ufeff")


def _blank(m: re.Match[str]) -> str:
    return re.sub(r"[^\n]", " ", m.group(0))


def mask_code(body: str) -> str:
    """Blank fenced code, inline code and math so links inside them are not seen; offsets and lines hold."""
    lines = body.split("\n")
    fence: str | None = None
    for i, line in enumerate(lines):
        m = FENCE_OPEN.match(line)
        if fence is None and m:
            fence = m.group(1)
            lines[i] = " " * len(line)
        elif fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line.strip(" `~\r"):
                fence = None
            lines[i] = " " * len(line)
    text = "\n".join(lines)
    text = INLINE_CODE.sub(_blank, text)
    text = MATH_BLOCK.sub(_blank, text)
    return MATH_INLINE.sub(_blank, text)


def split_link(inner: str) -> tuple[str, str]:
    """(key, display) of a wikilink's inner text: the target before '#' and '|', stripped."""
    inner = inner.replace("\\|", "|")
    target, _, display = inner.partition("|")
    key = target.partition("#")[0].strip()
    return key, display


def extract_links(text: str) -> Iterator[tuple[str, str, str, int]]:
    """(kind, text as written, key, line) for every link of a note."""
    body_start = 0
    fm = FRONT.match(text)
    if fm:
        for m in WIKILINK.finditer(fm.group(0)):
            key, _ = split_link(m.group(2))
            yield "frontmatter", m.group(2), key, fm.group(0).count("\n", 0, m.start()) + 1
        body_start = fm.end()
    body = text[body_start:]
    first_line = text.count("\n", 0, body_start) + 1
    scan = mask_code(body)
    for m in WIKILINK.finditer(scan):
        inner = body[m.start(2) : m.end(2)]
        key, _ = split_link(inner)
        yield ("embed" if m.group(1) else "wikilink"), inner, key, first_line + scan.count("\n", 0, m.start())
    wiki_spans = [(m.start(), m.end()) for m in WIKILINK.finditer(scan)]
    for m in MDLINK.finditer(scan):
        if any(a <= m.start() < b for a, b in wiki_spans):
            continue
        dest = body[m.start(3) : m.end(3)].strip()
        if dest.startswith("<") and dest.endswith(">"):
            dest = dest[1:-1]
        if not dest or dest.startswith("#") or SCHEME.match(dest):
            continue
        key = unquote(dest.partition("#")[0]).strip()
        if not key:
            continue
        kind = "markdown_embed" if m.group(1) else "markdown"
        yield kind, dest, key, first_line + scan.count("\n", 0, m.start())


class Resolver:
    """Obsidian's lookup over a list of vault files (see the module docstring for the rules)."""

    def __init__(self, files: list[str]) -> None:
        self.files = files
        self.by_path = {f.lower(): f for f in files}
        self.by_name: dict[str, list[str]] = {}
        for f in files:
            self.by_name.setdefault(posixpath.basename(f).lower(), []).append(f)

    def _exact(self, path: str) -> str | None:
        low = path.lower()
        return self.by_path.get(low) or self.by_path.get(low + ".md")

    def resolve(self, key: str, source: str) -> tuple[str | None, int, str]:
        """(resolved path or None, number of candidates, reason) for a link key written in `source`."""
        if not key:
            return source, 1, "self"
        link = key.replace("\\", "/")
        if link.startswith("/"):
            hit = self._exact(posixpath.normpath(link.lstrip("/")))
            return (hit, 1, "root") if hit else (None, 0, "unresolved")
        folder = posixpath.dirname(source)
        rel = posixpath.normpath(posixpath.join(folder, link))
        if link.startswith(("./", "../")):
            hit = self._exact(rel) if not rel.startswith("..") else None
            return (hit, 1, "relative") if hit else (None, 0, "unresolved")
        name = posixpath.basename(link).lower()
        cands = [
            f
            for f in self.by_name.get(name, []) + self.by_name.get(name + ".md", [])
            if ("/" + f.lower()).endswith("/" + link.lower()) or ("/" + f.lower()).endswith("/" + link.lower() + ".md")
        ]
        if not cands:
            return None, 0, "unresolved"
        hit = self._exact(rel)
        if hit in cands:
            return hit, len(cands), "relative"
        hit = self._exact(link)
        if hit in cands:
            return hit, len(cands), "root"
        best = min(cands, key=lambda f: (f.count("/"), len(f), f))
        return best, len(cands), "name"


def resolve_vault(vault: Path) -> tuple[list[str], list[Link]]:
    """All files of the vault and every link of every note, resolved."""
    files = list_files(vault)
    resolver = Resolver(files)
    links: list[Link] = []
    for f in files:
        if not f.lower().endswith(".md"):
            continue
        text = read_text(vault / f)
        for kind, written, key, line in extract_links(text):
            hit, n, reason = resolver.resolve(key, f)
            links.append(Link(f, written, key, kind, line, hit, n, reason))
    return files, links


def main() -> None:
    ap = argparse.ArgumentParser(description="Resolve every link of a vault as Obsidian does.")
    ap.add_argument("vault", type=Path)
    ap.add_argument("--json", action="store_true", help="one JSON object per link")
    a = ap.parse_args()
    files, links = resolve_vault(a.vault)
    if a.json:
        for link in links:
            print(json.dumps(asdict(link), ensure_ascii=False))
        return
    notes = sum(f.lower().endswith(".md") for f in files)
    unresolved = sum(link.resolved is None for link in links)
    ambiguous = sum(link.candidates > 1 for link in links)
    print(f"{len(files)} files, {notes} notes, {len(links)} links: {unresolved} unresolved, {ambiguous} ambiguous")


if __name__ == "__main__":
    main()
