"""Where a running ingest says how far it has got: `<db>.progress.json`, beside the store.

A file rather than a table, so a server in another process (or the same one) can show progress without
waiting on the ingest's write lock. It is replaced atomically, at most a few times a second, and removed when
the ingest ends; a file left by a killed ingest is ignored because its pid is gone.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from kg.runner import pid_alive

STAGES = ("reading", "parsing", "linking", "embedding", "similar")
MIN_INTERVAL = 0.25


def progress_path(db_path: str) -> Path:
    return Path(str(db_path) + ".progress.json")


class ProgressFile:
    """Writes one ingest's stage and counts; call it as `progress(stage, done, total)`."""

    def __init__(self, db_path: str) -> None:
        self.path = progress_path(db_path)
        self.started = time.time()
        self._last = 0.0
        self._stage = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage == self._stage and done < total and now - self._last < MIN_INTERVAL:
            return
        self._stage, self._last = stage, now
        state = {"pid": os.getpid(), "stage": stage, "done": done, "total": total}
        state |= {"started": self.started, "updated": time.time()}
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(state))
            os.replace(tmp, self.path)
        except OSError:
            pass  # progress is a courtesy: a read-only folder must not stop the ingest

    def clear(self) -> None:
        for p in (self.path, self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")):
            try:
                p.unlink()
            except OSError:
                pass


def read_progress(db_path: str) -> dict[str, Any] | None:
    """The running ingest's progress, or None when no ingest is running on this store."""
    try:
        state = json.loads(progress_path(db_path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not isinstance(state.get("pid"), int) or not pid_alive(state["pid"]):
        return None
    return state
