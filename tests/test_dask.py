"""Runs on a Dask LocalCluster: the same verdicts as local threads, records written by the parent only, and a
lost worker's run retried once, then an error."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest
from conftest import DATA, ROOT

from kg.embeddings import FakeEmbedder
from kg.executors import DaskExecutor
from kg.runner import plan, spec_for
from kg.store import Store
from kg.verify import verify_claims
from kg.writer import ingest

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow  # each test starts a LocalCluster: in `make test`, not in `make test-fast`
TOY = ["law", "seeds-below-two", "strict-seeds", "nan-beside-a-failure", "only-nan"]


def _verdicts(results: list[dict]) -> list[tuple]:
    return [(r["claim"], r["verdict"], r["passed"], r["total"]) for r in results]


def test_dask_gives_the_local_verdicts_and_the_parent_writes_artefacts(dist_store):
    s, runs = dist_store
    local = verify_claims(s, TOY, False, jobs=2, runs_dir=str(runs / "local"))
    dask = verify_claims(s, TOY, False, jobs=2, executor="dask", runs_dir=str(runs / "dask"))
    assert _verdicts(dask) == _verdicts(local)
    assert [v for _c, v, _p, _t in _verdicts(dask)] == ["verified", "verified", "mixed", "refuted", "error"]
    law = dask[0]
    # the worker ran in its own temporary folder; its artefacts came back as bytes and were written here
    assert all((runs / "dask" / r["id"] / "law.svg").is_file() for r in law["runs"])
    assert {r["seed"]: r["metrics"] for r in law["runs"]} == {r["seed"]: r["metrics"] for r in local[0]["runs"]}


@pytest.mark.slow
def test_dask_matches_local_on_real_claims(tmp_path):
    claims = ["relu-balancedness-conservation", "deep-linear-mode-timescales", "neural-collapse-simplex-etf"]
    with Store(tmp_path / "kg.db") as s:
        assert ingest(s, [str(ROOT / "data")], FakeEmbedder(), progress=False).errors == []
        kw = {"seeds": 1, "grid": "web", "runs_dir": str(tmp_path / "runs")}
        local = verify_claims(s, claims, False, **kw)
        dask = verify_claims(s, claims, False, executor="dask", **kw)
    assert _verdicts(dask) == _verdicts(local)
    assert all(v == "verified" for _c, v, _p, _t in _verdicts(dask))
    for a, b in zip(local, dask, strict=True):  # a run is a pure function of its spec: same seed, same metrics
        assert sorted((r["seed"], str(r["params"]), r["metrics"]) for r in a["runs"]) == sorted(
            (r["seed"], str(r["params"]), r["metrics"]) for r in b["runs"]
        )


def _kill_worker_while_running(ex: DaskExecutor, times: int) -> None:
    """SIGKILL the worker process each time it is running a task (the nanny starts a fresh one)."""
    for _ in range(times):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            busy = ex.client.processing()
            if any(busy.values()):
                break
            time.sleep(0.2)
        time.sleep(1.0)
        pids = ex.client.run(os.getpid)
        for pid in pids.values():
            os.kill(pid, signal.SIGKILL)
        time.sleep(2.0)


@pytest.mark.parametrize(("kills", "verdict", "attempts"), [(1, "verified", 2), (2, "error", 2)])
def test_a_lost_worker_is_retried_once_then_the_run_is_an_error(dist_store, kills, verdict, attempts):
    s, _runs = dist_store
    spec = spec_for(plan(s, "slow-law"), 0)
    ex = DaskExecutor(workers=1)
    try:
        killer = threading.Thread(target=_kill_worker_while_running, args=(ex, kills))
        killer.start()
        ((_i, rec),) = list(ex.run([spec]))
        killer.join()
    finally:
        ex.close()
    assert (rec.verdict, rec.attempts) == (verdict, attempts), rec.error
    if verdict == "error":
        assert "lost on the cluster after 2 attempts" in rec.error


def test_embed_partitions_matches_the_in_process_embedder_in_input_order():
    from kg.embed_dask import embed_partitions, partitions
    from kg.embeddings import FakeEmbedder

    texts = [f"note {i} about width {i % 7} and depth {i % 5}" for i in range(300)]
    assert len(partitions(len(texts), 2)) == 5  # 64 texts at least per partition
    out = embed_partitions(texts, 2, fake=True)
    assert out.shape == (300, 384) and out.dtype.name == "float32"
    assert (out == FakeEmbedder().encode(texts)).all()


def test_ingest_on_dask_gives_the_local_graph(tmp_path: Path):
    """`kg ingest --executor dask` embeds on a LocalCluster and writes the same store as the in-process path."""
    import subprocess

    from conftest import KG, dump, kg_env

    vault = tmp_path / "vault"
    shutil.copytree(DATA / "vault", vault)
    dbs = {}
    for executor in ("local", "dask"):
        db = tmp_path / f"{executor}.db"
        proc = subprocess.run([*KG, "ingest", str(vault), "--db", str(db), "--executor", executor, "--json"],
                              capture_output=True, text=True, env=kg_env(), timeout=300)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        dbs[executor] = db
    with Store(dbs["local"]) as a, Store(dbs["dask"]) as b:
        assert dump(a) == dump(b)
        assert b.conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] > 0
