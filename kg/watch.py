"""Watch mode: re-ingest a vault when a file in it is saved (watchdog), so a page shows the note as saved.

Saves come in bursts (an editor writes a temp file, renames it, touches it again); events are gathered for
a short quiet period, then one incremental ingest runs. The ingest itself is the ordinary one: unchanged
files cost a hash, an edited note is parsed and embedded alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingest.scan import TOOL_DIRS
from kg.embeddings import Embedder
from kg.store import Store
from kg.sync import IngestBusy, IngestReport, ingest

QUIET_SECONDS = 0.3


class Watcher:
    """Re-ingests `roots` into the store at `db_path` after each burst of file events."""

    def __init__(
        self,
        db_path: str,
        roots: list[str],
        embedder: Embedder | None = None,
        on_report: Callable[[IngestReport], None] | None = None,
    ) -> None:
        self.db_path, self.roots, self.embedder = db_path, roots, embedder
        self.on_report = on_report or (lambda r: None)
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._last_event = 0.0
        self._observer: Any = None
        self._thread: threading.Thread | None = None

    def _event(self, path: str) -> None:
        parts = Path(path).parts
        if any(p in TOOL_DIRS or p.startswith(".") for p in parts[-6:]) or path.endswith((".db", "-wal", "-shm")):
            return
        self._last_event = time.monotonic()
        self._dirty.set()

    def start(self, initial: bool = False) -> Watcher:
        """Watch for saves in a thread; with `initial`, that thread first ingests the roots as they stand."""
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type in ("created", "modified", "deleted", "moved"):
                    watcher._event(str(getattr(event, "dest_path", "") or event.src_path))

        self._observer = Observer()
        for root in self.roots:
            target = root if Path(root).is_dir() else str(Path(root).parent)
            self._observer.schedule(Handler(), target, recursive=True)
        self._observer.start()
        if initial:
            self._dirty.set()
        self._thread = threading.Thread(target=self._loop, name="kg-watch", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self._dirty.wait(timeout=0.5):
                continue
            while time.monotonic() - self._last_event < QUIET_SECONDS:
                time.sleep(QUIET_SECONDS / 3)
            self._dirty.clear()
            self.run_once()

    def run_once(self) -> IngestReport | None:
        """One ingest of the watched roots; a busy store is retried on the next event."""
        store = Store(self.db_path)
        try:
            report = ingest(store, self.roots, self.embedder, progress=False)
        except IngestBusy:
            self._dirty.set()
            return None
        finally:
            store.close()
        self.on_report(report)
        return report

    def stop(self) -> None:
        self._stop.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)
