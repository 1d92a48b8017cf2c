"""Ingest while readers read (WAL keeps them unblocked), and two ingests at once on one store."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

from conftest import KG, kg_env

from bench.vault import make_vault
from kg.store import Store


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
    vault = tmp_path / "v"
    make_vault(vault, 1500)
    db = tmp_path / "kg.db"
    Store(db).close()
    worst = [0.0]
    reads = [0]
    stop = threading.Event()

    def reader() -> None:
        with Store(db) as s:
            while not stop.is_set():
                t = time.perf_counter()
                s.stats()
                s.node("note-000001")
                worst[0] = max(worst[0], time.perf_counter() - t)
                reads[0] += 1
                time.sleep(0.005)

    th = threading.Thread(target=reader)
    th.start()
    proc = subprocess.run([*KG, "ingest", str(vault), "--db", str(db)], env=kg_env(), capture_output=True)
    stop.set()
    th.join()
    assert proc.returncode == 0
    assert reads[0] > 50
    assert worst[0] < 0.1, f"a read waited {worst[0] * 1000:.0f} ms"
