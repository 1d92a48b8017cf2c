"""Fixtures layered store → app → client, on real temporary SQLite files and the tiny vault in tests/data."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from bench.storedump import dump  # noqa: F401  (tests import it from here)
from kg.embeddings import Embedder, FakeEmbedder, real_embedder
from kg.store import Store
from kg.writer import ingest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
KG = [sys.executable, "-m", "kg.cli"]
# A script for long fuzzing campaigns; it needs the optional `fuzz` extra (atheris), which the suite does not.
collect_ignore = ["fuzz/atheris_run.py"]


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


@pytest.fixture(scope="session")
def model() -> Embedder:
    """The real model, loaded once per test process (each xdist worker has its own)."""
    return real_embedder()


@pytest.fixture
def vault_store(vault: Path, store: Store, fake: FakeEmbedder):
    report = ingest(store, [str(vault)], fake, progress=False)
    assert report.errors == [], report.errors
    return store


def kg_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("KG_EMBEDDER", "fake")
    env.update(extra)
    return env


@pytest.fixture
def dist_store(tmp_path: Path):
    """The distribution test vault, ingested and trusted (a vault's experiments run only once trusted)."""
    from kg.trust import trust_folder

    src = tmp_path / "vault"
    shutil.copytree(DATA / "dist_vault", src)
    s = Store(tmp_path / "kg.db")
    assert ingest(s, [str(src)], FakeEmbedder(), progress=False).errors == []
    trust_folder(s, src / "experiments")
    yield s, tmp_path / "runs"
    s.close()
