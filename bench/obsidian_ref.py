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
   sub-folder, so every link with more than one candidate is flagged `ambiguous` and reported apart, and
   `Resolver(files, same_folder_first=False)` (`bench.vault_real --tie root`) gives the other reading.
6. Nothing else: a link whose text equals another note's title or alias but no file name stays unresolved
   (aliases only feed the link suggester; help page "Aliases").
"""

from __future__ import annotations

import argparse
import json
import os
import posixpath
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

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


def extract_links(text: str) -> list[tuple[str, str, str, int]]:
    """(kind, text as written, key, line) for every link of a note, in the order they appear."""
    found: list[tuple[int, str, str, str]] = []
    fm = FRONT.match(text)
    if fm:
        for m in WIKILINK.finditer(fm.group(0)):
            found.append((m.start(), "frontmatter", m.group(2), split_link(m.group(2))[0]))
    start = fm.end() if fm else 0
    body = text[start:]
    scan = mask_code(body)
    wiki_spans = []
    for m in WIKILINK.finditer(scan):
        inner = body[m.start(2) : m.end(2)]
        found.append((start + m.start(), "embed" if m.group(1) else "wikilink", inner, split_link(inner)[0]))
        wiki_spans.append((m.start(), m.end()))
    for m in MDLINK.finditer(scan):
        if any(a <= m.start() < b for a, b in wiki_spans):
            continue
        dest = body[m.start(3) : m.end(3)].strip()
        if dest.startswith("<") and dest.endswith(">"):
            dest = dest[1:-1]
        if not dest or dest.startswith("#") or SCHEME.match(dest):
            continue
        key = unquote(dest.partition("#")[0]).strip()
        if key:
            found.append((start + m.start(), "markdown_embed" if m.group(1) else "markdown", dest, key))
    found.sort(key=lambda f: f[0])
    return [(kind, written, key, text.count("\n", 0, pos) + 1) for pos, kind, written, key in found]


class Resolver:
    """Obsidian's lookup over a list of vault files (see the module docstring for the rules)."""

    def __init__(self, files: list[str], same_folder_first: bool = True) -> None:
        self.files = files
        self.same_folder_first = same_folder_first  # False: rule 5 without (a), for the other reading
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
        hit = self._exact(rel) if self.same_folder_first else None
        if hit in cands:
            return hit, len(cands), "relative"
        hit = self._exact(link)
        if hit in cands:
            return hit, len(cands), "root"
        best = min(cands, key=lambda f: (f.count("/"), len(f), f))
        return best, len(cands), "name"


def resolve_vault(vault: Path, same_folder_first: bool = True) -> tuple[list[str], list[Link]]:
    """All files of the vault and every link of every note, resolved."""
    files = list_files(vault)
    resolver = Resolver(files, same_folder_first)
    links: list[Link] = []
    for f in files:
        if not f.lower().endswith(".md"):
            continue
        text = read_text(vault / f)
        for kind, written, key, line in extract_links(text):
            hit, n, reason = resolver.resolve(key, f)
            links.append(Link(f, written, key, kind, line, hit, n, reason))
    return files, links


# -- citations as researchers write them (issue 11 part 5; not an Obsidian rule) ------------------------------

OLD_ARCHIVES = "|".join(
    "hep-th hep-ph hep-lat hep-ex gr-qc astro-ph cond-mat quant-ph math-ph math nucl-th nucl-ex".split()
    + "physics cs nlin q-bio stat".split()
)
ARXIV_NEW = r"\d{4}\.\d{4,5}"
ARXIV_OLD = rf"(?:{OLD_ARCHIVES})(?:\.[A-Z]{{2}})?/\d{{7}}"
CITATION_PATTERNS = [
    ("arxiv", re.compile(rf"(?:https?://)?(?:www\.)?arxiv\.org/(?:abs|pdf)/({ARXIV_NEW}|{ARXIV_OLD})(?:v\d+)?", re.I)),
    ("arxiv", re.compile(rf"\barXiv:\s?({ARXIV_NEW}|{ARXIV_OLD})(?:v\d+)?", re.I)),
    ("arxiv", re.compile(rf"(?<![\w/.])({ARXIV_OLD})(?:v\d+)?\b")),
    ("doi", re.compile(r"(?:https?://(?:dx\.)?doi\.org/)?(?<![\w.])(10\.\d{4,9}/(?:[^\s\"<>\[\]()]|\([^\s()]*\))+)")),
]
PANDOC = re.compile(r"\[([^\[\]\n]*?@[^\[\]\n]*)\](?!\()")
PANDOC_KEY = re.compile(r"(?<![\w.@])-?@([A-Za-z0-9_][\w:.#$%&+?<>~/-]*)")
LATEX_CITE = re.compile(
    r"\\(?:cite|citep|citet|citealp|citeauthor|parencite|textcite|autocite)\*?(?:\[[^\]]*\]){0,2}\{([^}]*)\}"
)


def find_citations(text: str, bib_keys: set[str], pdfs: set[str]) -> list[dict[str, str]]:
    """Citations in a note's body, in order: {written, origin, ref} with ref `arxiv:…`, `doi:…`, `key:…`, `pdf:…`.

    A DOI of the form 10.48550/arXiv.<id> is the arXiv id. A wikilink cites when it names a BibTeX key or a PDF.
    """
    fm = FRONT.match(text)
    body = mask_code(text[fm.end() if fm else 0 :])
    found: list[tuple[int, dict[str, str]]] = []
    taken: list[tuple[int, int]] = []
    for origin, pattern in CITATION_PATTERNS:
        for m in pattern.finditer(body):
            if any(a <= m.start(1) < b for a, b in taken):
                continue
            value = m.group(1).rstrip(".,;:")
            ref = f"{origin}:{value.lower() if origin == 'doi' else value}"
            arx = re.fullmatch(rf"10\.48550/arxiv\.({ARXIV_NEW})", value, re.I)
            if arx:
                origin, ref = "arxiv", f"arxiv:{arx.group(1)}"
            taken.append((m.start(1), m.start(1) + len(value)))
            found.append((m.start(), {"written": m.group(0).rstrip(".,;:"), "origin": origin, "ref": ref}))
    for m in PANDOC.finditer(body):
        for k in PANDOC_KEY.finditer(m.group(1)):
            key = k.group(1).rstrip(".,;:")
            found.append((m.start() + k.start(), {"written": "@" + key, "origin": "pandoc", "ref": "key:" + key}))
    for m in LATEX_CITE.finditer(body):
        for key in (k.strip() for k in m.group(1).split(",")):
            if key:
                found.append((m.start(), {"written": key, "origin": "latex", "ref": "key:" + key}))
    for m in WIKILINK.finditer(body):
        key, _ = split_link(m.group(2))
        if key in bib_keys:
            found.append((m.start(), {"written": m.group(2), "origin": "wikilink", "ref": "key:" + key}))
        elif key.lower().endswith(".pdf") and posixpath.basename(key).lower() in pdfs:
            found.append((m.start(), {"written": m.group(2), "origin": "wikilink", "ref": "pdf:" + key}))
    return [c for _, c in sorted(found, key=lambda x: x[0])]


def note_title(text: str, path: str) -> str:
    """A note's title as the graph shows it: front-matter `title`, else the first `# heading`, else the name."""
    meta = front_matter(text)
    if isinstance(meta.get("title"), str) and meta["title"].strip():
        return meta["title"].strip()
    fm = FRONT.match(text)
    m = re.search(r"^#[ \t]+(.+?)[ \t]*\r?$", mask_code(text[fm.end() if fm else 0 :]), re.M)
    return m.group(1) if m else posixpath.splitext(posixpath.basename(path))[0]


def front_matter(text: str) -> dict[str, Any]:
    """The YAML front matter as a mapping; {} when absent or not valid YAML (Obsidian still opens the note)."""
    fm = FRONT.match(text)
    if not fm:
        return {}
    try:
        meta = yaml.safe_load(fm.group(1) or "")
    except yaml.YAMLError:
        return {}
    return meta if isinstance(meta, dict) else {}


def probable_targets(vault: Path, files: list[str]) -> dict[str, list[str]]:
    """Lowercased title or alias -> notes carrying it: where an unresolved link would get a `probable` edge.

    This is our extension (issue 11), not Obsidian's: Obsidian leaves such links unresolved.
    """
    out: dict[str, list[str]] = {}
    for f in files:
        if not f.lower().endswith(".md"):
            continue
        text = read_text(vault / f)
        aliases = front_matter(text).get("aliases") or []
        aliases = [aliases] if isinstance(aliases, str) else aliases
        for name in {note_title(text, f).lower(), *(str(a).strip().lower() for a in aliases)}:
            out.setdefault(name, []).append(f)
    return out


def rows(vault: Path) -> list[dict[str, Any]]:
    """The links of a vault as rows of `tests/data/realshapes/expected.yaml` (see its header)."""
    files, links = resolve_vault(vault)
    probable = probable_targets(vault, files)
    out = []
    for link in links:
        row: dict[str, Any] = {
            "note": link.source,
            "line": link.line,
            "link": link.text,
            "kind": link.kind,
            "target": link.resolved,
        }
        if link.candidates > 1:
            row["ambiguous"] = True
        if link.resolved is None and link.key.lower() in probable:
            row["probable"] = sorted(probable[link.key.lower()])
        out.append(row)
    return out


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
