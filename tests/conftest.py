"""Fixtures layered store → app → client, on real temporary SQLite files and the tiny vault in tests/data."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from kg.embeddings import FakeEmbedder
from kg.store import Store
from kg.writer import ingest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
KG = [sys.executable, "-m", "kg.cli"]


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    """A writable copy of the test vault."""
    dst = tmp_path / "vault"
    shutil.copytree(DATA / "vault", dst)
    return dst


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "kg.db")
    yield s
    s.close()


@pytest.fixture
def fake() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def vault_store(vault: Path, store: Store, fake: FakeEmbedder):
    report = ingest(store, [str(vault)], fake, progress=False)
    assert report.errors == [], report.errors
    return store


def dump(store: Store) -> dict:
    """Everything a user can see in the store, without timestamps, for comparing two stores."""
    nodes = [
        (r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7]))
        for r in store.conn.execute("SELECT id, kind, title, text, path, line, embed_key, meta FROM nodes ORDER BY id")
    ]
    edges = list(
        store.conn.execute(
            "SELECT source, target, kind, origin, round(weight, 4), label, context FROM edges "
            "ORDER BY source, target, kind, label"
        )
    )
    fts = list(
        store.conn.execute(
            "SELECT n.id, f.title, f.body, f.kind FROM nodes_fts f JOIN nodes n ON n.rowid = f.rowid ORDER BY n.id"
        )
    )
    return {"nodes": nodes, "edges": edges, "fts": fts}


def kg_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("KG_EMBEDDER", "fake")
    env.update(extra)
    return env
