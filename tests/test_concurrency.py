"""Ingest while readers read (WAL keeps them unblocked), and two ingests at once on one store."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import KG, kg_env

from bench.vault import make_vault
from kg.store import Store

# Real `kg ingest` subprocesses over vaults of 1,500 notes: the full suite, not the fast one.
pytestmark = pytest.mark.slow


def test_second_ingest_is_refused_clearly(tmp_path: Path):
    vault = tmp_path / "v"
    make_vault(vault, 1500)
    db = tmp_path / "kg.db"
    first = subprocess.Popen([*KG, "ingest", str(vault), "--db", str(db)], env=kg_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    time.sleep(1.0)
    second = subprocess.run([*KG, "ingest", str(vault), "--db", str(db)], env=kg_env(), capture_output=True, text=True)
    assert first.wait(timeout=300) == 0
    assert second.returncode == 1 and "another `kg ingest` is writing" in second.stderr
    with Store(db) as s:
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert s.stats()["nodes"]["concept"] >= 1500


def test_readers_are_not_blocked_by_an_ingest(tmp_path: Path):
    """A reader with no busy timeout fails at once if it ever has to wait for the writer; none may fail."""
    vault = tmp_path / "v"
    make_vault(vault, 1500)
    db = tmp_path / "kg.db"
    Store(db).close()
    seen: set[int] = set()
    errors: list[str] = []
    reads = [0]
    stop = threading.Event()

    def reader() -> None:
        with Store(db) as s:
            s.conn.execute("PRAGMA busy_timeout = 0")
            while not stop.is_set():
                try:
                    seen.add(sum(s.stats()["nodes"].values()))
                    s.node("note-000001")
                except Exception as exc:  # a locked read is the failure this test looks for
                    errors.append(repr(exc))
                reads[0] += 1
                time.sleep(0.005)

    th = threading.Thread(target=reader)
    th.start()
    proc = subprocess.run([*KG, "ingest", str(vault), "--db", str(db)], env=kg_env(), capture_output=True)
    after = reads[0]
    while reads[0] < after + 2 and th.is_alive():
        time.sleep(0.01)
    stop.set()
    th.join()
    assert proc.returncode == 0
    assert errors == []
    assert 0 in seen and max(seen) >= 1500  # it read before and after the ingest's one transaction
