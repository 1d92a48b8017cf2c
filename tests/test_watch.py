"""Watch mode: `kg serve --watch VAULT` re-ingests on save, and the page shows the saved note."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
from conftest import DATA, kg_env

import kg.sync.run
from bench.server import start_server
from kg.embeddings import FakeEmbedder
from kg.search import related
from kg.store import Store
from kg.sync import ingest
from kg.sync.progress import ProgressFile, progress_path, read_progress
from web import create_app


def fetch(base: str, node_id: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{base}/api/node/{urllib.parse.quote(node_id)}", timeout=5) as r:
            return json.load(r)
    except OSError:
        return None


def wait_for(check, seconds: float = 60.0):
    """Poll until `check()` is truthy; the latency itself is measured in bench/, not asserted here."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    return None


def test_saved_note_shows_on_its_page(tmp_path: Path):
    vault = tmp_path / "vault"
    shutil.copytree(DATA / "vault", vault)
    proc, base = start_server(tmp_path / "kg.db", kg_env(), extra=("--watch", str(vault)), timeout=60)
    try:
        assert wait_for(lambda: fetch(base, "gamma")), "the first ingest, which runs beside the server, never landed"
        (vault / "gamma.md").write_text("Gamma, edited while the server runs. It now links [[beta]].\n")
        page = wait_for(lambda: (p := fetch(base, "gamma")) and "edited while" in json.dumps(p) and p)
        assert page, "the edit never reached the page"
        (vault / "Brand New.md").write_text("A note created after start.\n")
        assert wait_for(lambda: fetch(base, "Brand New"))
        (vault / "Brand New.md").unlink()
        assert wait_for(lambda: fetch(base, "Brand New") is None)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class GatedEmbedder(FakeEmbedder):
    """The fake embedder, made to wait for the test before each chunk, so the test sees an ingest mid-way."""

    def __init__(self) -> None:
        super().__init__()
        self.go = threading.Semaphore(0)
        self.calls = 0

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        assert self.go.acquire(timeout=60), "the test never released the chunk"
        self.calls += 1
        return super().encode(texts, progress)


def test_pages_answer_and_progress_shows_while_vectors_are_made(tmp_path: Path, vault: Path, monkeypatch):
    monkeypatch.setattr(kg.sync.run, "EMBED_CHUNK", 3)
    db = str(tmp_path / "kg.db")
    emb = GatedEmbedder()
    with Store(db) as s:
        reports: list = []
        worker = threading.Thread(target=lambda: reports.append(ingest(s, [str(vault)], emb, progress=False)))
        worker.start()
        state = wait_for(lambda: read_progress(db), 30)
        assert state and state["pid"] > 0
        state = wait_for(lambda: (p := read_progress(db)) and p["stage"] == "embedding" and p, 30)
        assert state, "the ingest never said it was embedding"
        total = state["total"]
        assert total > 6 and state["done"] == 0
        client = create_app(db, embedder=FakeEmbedder()).test_client()
        page = client.get("/node/gamma")
        assert page.status_code == 200, "a note page must answer while vectors are still being made"
        assert b'id="ingest-status"' in page.data and b"embedding 0 of" in page.data
        assert client.get("/api/status").get_json()["ingest"]["stage"] == "embedding"
        with Store(db) as reader:
            assert reader.vectors()[0] == []
            gen = reader.generation()
            emb.go.release()  # the first chunk of 3 lands, in its own transaction
            assert wait_for(lambda: len(reader.vectors()[0]) == 3, 30)
            assert reader.generation() > gen, "a chunk of vectors must bump the generation, so caches refresh"
            landed = reader.vectors()[0][0]
            # The vector index behind related items refreshes with the generation: the two other vectors show.
            assert len(related(reader, landed, limit=5)) == 2
        for _ in range(100):
            emb.go.release()
        worker.join(60)
        assert not worker.is_alive() and reports and reports[0].errors == []
    assert emb.calls == -(-total // 3)
    assert read_progress(db) is None and not progress_path(db).exists()
    assert client.get("/api/status").get_json()["ingest"] is None
    assert b'id="ingest-status"' in client.get("/node/gamma").data  # hidden, for the script to fill
    assert b'data-running="1"' not in client.get("/node/gamma").data


def test_progress_left_by_a_dead_ingest_is_ignored(tmp_path: Path):
    db = str(tmp_path / "kg.db")
    ProgressFile(db)("embedding", 5, 10)
    assert read_progress(db)["done"] == 5
    state = json.loads(progress_path(db).read_text())
    state["pid"] = 2**22 + 12345  # above Linux's pid_max default: no such process
    progress_path(db).write_text(json.dumps(state))
    assert read_progress(db) is None
    progress_path(db).write_text("{not json")
    assert read_progress(db) is None
