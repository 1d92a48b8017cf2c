"""Workspace trust, as in an editor: experiments run only from folders the user has trusted, and only as the
bytes that were trusted. The project's own data/experiments is trusted by default; any other folder is trusted
with `kg trust PATH`, which records every Python file under it with its hash. A changed file needs trust again.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.records import ParseError
from ingest.text import decode_text
from kg.store import Store, default_db_path
from kg.store import trust as stored

PROJECT_EXPERIMENTS = Path(__file__).resolve().parents[1] / "data" / "experiments"
SOURCE_LIMIT = 5 * 1024 * 1024


class NotTrusted(Exception):
    """An experiment outside every trusted folder, or changed since it was trusted; the message says what to run."""


def read_regular(path: str | Path, limit: int, dir_fd: int | None = None) -> bytes:
    """A regular file's bytes, never following a symlink, never blocking on a FIFO, at most `limit` bytes.

    Raises OSError (with a message that says why) for anything else."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{path} is not a regular file")
        if st.st_size > limit:
            raise OSError(f"{path} is {st.st_size // 1024} KB, over the {limit // 1024} KB limit")
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise OSError(f"{path} grew over the {limit // 1024} KB limit while being read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def source_text(data: bytes) -> str:
    """An experiment's source as ingest reads it (UTF-8, BOM dropped, CRLF and CR as LF), so hashes agree."""
    try:
        return decode_text(data, "Python")
    except ParseError as exc:
        raise OSError(str(exc)) from None


def code_hash(text: str) -> str:
    """The code hash ingest records for an experiment (ingest/experiments.py)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_hash(path: str | Path) -> str:
    return code_hash(source_text(read_regular(path, SOURCE_LIMIT)))


def copy_source(src: Path, dest: Path) -> str:
    """Copy an experiment's source (as ingest reads it) to `dest`, read-only, and return the hash of the copy."""
    text = source_text(read_regular(src, SOURCE_LIMIT))
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o444)
    with os.fdopen(fd, "wb") as f:
        f.write(text.encode("utf-8"))
    return hashlib.sha256(read_regular(dest, SOURCE_LIMIT)).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def trust_folder(store: Store, path: str | Path) -> dict[str, Any]:
    """Trust a folder: record it and the hash of every Python file under it. Returns {folder, files, skipped}."""
    folder = Path(path).resolve()
    if not folder.is_dir():
        raise NotADirectoryError(f"{path} is not a folder; name the folder that holds the experiments")
    files: dict[str, str] = {}
    skipped: list[str] = []
    for dirpath, dirnames, names in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(names):
            if not name.endswith(".py"):
                continue
            p = Path(dirpath) / name
            real = p.resolve()
            try:
                if not _inside(real, folder):
                    raise OSError("it links outside the folder")
                files[str(real)] = file_hash(real)
            except OSError as exc:
                skipped.append(f"{p}: {exc}")
    stored.trust_folder(store, str(folder), files, _now())
    return {"folder": str(folder), "files": len(files), "skipped": skipped}


def revoke(store: Store, path: str | Path) -> bool:
    """Stop trusting a folder. Returns whether it was trusted."""
    return stored.revoke_folder(store, str(Path(path).resolve()))


def folders(store: Store) -> list[dict[str, Any]]:
    """Every trusted folder, the project's own first, with how many files each has trusted."""
    rows = stored.trusted_folders(store)
    out = [{"folder": str(PROJECT_EXPERIMENTS), "default": True, "trusted_at": None, "files": None}]
    return out + [{"folder": p, "default": False, "trusted_at": at, "files": n} for p, at, n in rows]


def trust_command(store: Store, folder: Path) -> str:
    db = "" if Path(store.path).resolve() == Path(default_db_path()).resolve() else f" --db {shlex.quote(store.path)}"
    return f"kg trust {shlex.quote(str(folder))}{db}"


def check(store: Store, file: Path, digest: str | None = None) -> None:
    """Raise NotTrusted unless `file` (hashing `digest`, or its current bytes) may run."""
    file = Path(file).resolve()
    if _inside(file, PROJECT_EXPERIMENTS):
        return
    held = [Path(p) for p in stored.folder_paths(store) if _inside(file, Path(p))]
    if not held:
        cmd = trust_command(store, file.parent)
        raise NotTrusted(f"{file} is not in a trusted folder, so it will not run; if you trust its author, run `{cmd}`")
    if digest is None:
        try:
            digest = file_hash(file)
        except OSError as exc:
            raise NotTrusted(f"{file} cannot be read ({exc})") from None
    trusted = stored.trusted_hash(store, str(file))
    if trusted is None or trusted != digest:
        what = "is new since its folder was trusted" if trusted is None else "changed since it was trusted"
        cmd = trust_command(store, max(held, key=lambda p: len(p.parts)))
        raise NotTrusted(f"{file} {what}, so it will not run; read it, then run `{cmd}` to trust it again")


def experiment_file(store: Store, experiment_id: str) -> Path | None:
    node = store.node(experiment_id)
    if node is None:
        return None
    return (Path(node["root"]) / node["path"]).resolve()


def status(store: Store, experiment_id: str) -> dict[str, Any]:
    """{trusted, reason} for an experiment, for pages: the reason holds the `kg trust` command to run."""
    file = experiment_file(store, experiment_id)
    if file is None:
        return {"trusted": False, "reason": f"experiment '{experiment_id}' is not registered"}
    try:
        check(store, file)
    except NotTrusted as exc:
        return {"trusted": False, "reason": str(exc)}
    return {"trusted": True, "reason": ""}
