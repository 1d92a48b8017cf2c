"""Finding a vault's files: what is read, what is an attachment, and what is skipped and why.

Nothing is skipped silently: every path left out comes back with its reason. Symlinks are followed only
when they land inside the root; FIFOs, sockets and devices are never opened.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ingest import summaries

# Folders that belong to tools, not to the vault.
TOOL_DIRS = {
    ".git": "version control",
    ".obsidian": "Obsidian's settings",
    ".trash": "Obsidian's trash",
    "__pycache__": "Python cache",
    "node_modules": "JavaScript packages",
    ".venv": "Python environment",
}
RUNS_MARKER = ".kg-runs"  # the runner writes this into its runs folder, which ingest then skips


@dataclass(frozen=True)
class SourceFile:
    root: str  # absolute path of the root it was found under
    shown_root: str  # the root as the user gave it
    rel: str  # posix path from the root, as stored (a name that is not UTF-8 is repaired)
    fs_rel: str = ""  # the path on disk when it differs from `rel`

    @property
    def path(self) -> str:
        return posixpath.join(self.shown_root.replace(os.sep, "/"), self.rel)

    @property
    def abspath(self) -> Path:
        return Path(self.root) / (self.fs_rel or self.rel)

    @property
    def fmt(self) -> str | None:
        return format_of(self.rel)


@dataclass
class Skipped:
    path: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


@dataclass
class ScanResult:
    files: list[SourceFile] = field(default_factory=list)  # files a parser reads
    attachments: list[SourceFile] = field(default_factory=list)  # every other regular file in a vault
    skipped: list[Skipped] = field(default_factory=list)
    renamed: list[tuple[SourceFile, str]] = field(default_factory=list)  # names that were not UTF-8


def format_of(rel: str) -> str | None:
    """Which parser reads a file, by its name; None for files that are attachments.

    >>> [format_of(p) for p in ["a/N.md", "refs.bib", "x.png", "experiments/run.py", "tool.py"]]
    ['markdown', 'bibtex', None, 'experiment', None]
    """
    low = rel.lower()
    ext = posixpath.splitext(low)[1]
    table = {
        ".md": "markdown",
        ".markdown": "markdown",
        ".bib": "bibtex",
        ".xml": "atom",
        ".atom": "atom",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".pdf": "pdf",
        ".txt": "notepage",
    }
    if ext == ".py" and "experiments" in posixpath.dirname(low).split("/"):
        return "experiment"
    if summaries.is_summaries_file(rel):
        return "summaries"
    return table.get(ext)


def _fix_name(rel: str) -> str:
    """A file name that is not valid UTF-8, as it will be stored: the bad bytes become U+FFFD."""
    return os.fsencode(rel).decode("utf-8", "replace")


def scan(roots: Iterable[str]) -> ScanResult:
    """Every file under the roots (a root may also be a single file), in a stable order."""
    out = ScanResult()
    for shown in roots:
        p = Path(shown)
        if p.is_file():
            sf = SourceFile(str(p.parent.resolve()), str(p.parent), p.name)
            (out.files if sf.fmt else out.attachments).append(sf)
            continue
        _walk(p.resolve(), shown.rstrip("/") or "/", out)
    return out


def _walk(base: Path, shown: str, out: ScanResult) -> None:
    real_base = os.path.realpath(base)
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        rel_dir = Path(dirpath).relative_to(base).as_posix()
        keep = []
        for d in sorted(dirnames):
            rel = d if rel_dir == "." else f"{rel_dir}/{d}"
            full = os.path.join(dirpath, d)
            reason = _skip_dir(d, full, real_base)
            if reason:
                out.skipped.append(Skipped(posixpath.join(shown, _fix_name(rel)), reason))
            else:
                keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            shown_path = posixpath.join(shown, _fix_name(rel))
            reason = _skip_file(name, os.path.join(dirpath, name), real_base)
            if reason:
                out.skipped.append(Skipped(shown_path, reason))
                continue
            fixed = _fix_name(rel)
            sf = SourceFile(str(base), shown, fixed, rel if fixed != rel else "")
            if fixed != rel:
                out.renamed.append((sf, rel))
            (out.files if sf.fmt else out.attachments).append(sf)


def _skip_dir(name: str, full: str, real_base: str) -> str:
    if name in TOOL_DIRS:
        return f"folder of {TOOL_DIRS[name]}"
    if name.startswith("."):
        return "hidden folder"
    if os.path.islink(full):
        target = os.path.realpath(full)
        if not _inside(target, real_base):
            return "symlink to a folder outside the ingested root"
        return "symlink to a folder inside the root (its files are read where they live)"
    if os.path.exists(os.path.join(full, RUNS_MARKER)):
        return "experiment runs written by kg (marked by .kg-runs)"
    return ""


def _skip_file(name: str, full: str, real_base: str) -> str:
    if name.startswith("."):
        return "hidden file"
    try:
        st = os.stat(full)  # follows a symlink, so the target's type decides
    except OSError as exc:
        return f"cannot read ({exc.strerror}); a broken symlink?"
    if os.path.islink(full) and not _inside(os.path.realpath(full), real_base):
        return "symlink to a file outside the ingested root"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (a FIFO, socket or device); never opened"
    return ""


def _inside(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip("/") + "/")
