"""The experiment runner on real subprocesses: verdicts, limits, logs, records and recovery."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import DATA

from kg import bwrap
from kg.embeddings import FakeEmbedder
from kg.runner import RunError, create_run, get_run, plan, recover_interrupted, run_claim
from kg.store import Store
from kg.trust import trust_folder
from kg.writer import ingest


@pytest.fixture
def runs_store(tmp_path: Path):
    src = tmp_path / "vault"
    shutil.copytree(DATA / "runs_vault", src)
    s = Store(tmp_path / "kg.db")
    report = ingest(s, [str(src)], FakeEmbedder(), progress=False)
    assert report.errors == []
    trust_folder(s, src / "experiments")
    yield s, src, tmp_path / "runs"
    s.close()


def test_verified_run_records_everything(runs_store):
    s, _src, runs = runs_store
    run = run_claim(s, "slow", runs, seed=3)
    assert run["verdict"] == "verified" and run["status"] == "done"
    assert run["metrics"] == {"seed": 3, "value": 0.5}
    assert run["seed"] == 3 and run["params"] == {}
    assert run["seconds"] >= 2.0
    assert run["started_at"] and run["ended_at"] and run["code_hash"]
    assert {"python", "numpy"} <= set(run["environment"])
    assert run["artefacts"] == ["slow.png"] and (runs / run["id"] / "slow.png").exists()
    assert run["checks"][0]["ok"] is True


def test_wrong_prediction_is_refuted(runs_store):
    s, _src, runs = runs_store
    assert run_claim(s, "wrong", runs)["verdict"] == "refuted"


def test_hang_times_out_and_is_killed(runs_store):
    s, _src, runs = runs_store
    run = run_claim(s, "hangs", runs)
    assert run["verdict"] == "timeout" and "time limit" in run["error"]
    assert 1.5 < run["seconds"] < 10


def test_raise_is_an_error_with_its_log(runs_store):
    s, _src, runs = runs_store
    run = run_claim(s, "raises", runs)
    assert run["verdict"] == "error"
    assert "this experiment fails on purpose" in run["stderr"] and "Traceback" in run["stderr"]


def test_unbounded_allocation_hits_the_memory_limit(runs_store):
    s, _src, runs = runs_store
    run = run_claim(s, "hogs", runs, memory_mb=400)
    assert run["verdict"] == "error" and "memory" in (run["error"] + run["stderr"]).lower()
    assert run["seconds"] < 25


@pytest.mark.skipif(bwrap.probe() is not None, reason="bubblewrap cannot start here")
def test_sandbox_keeps_writes_in_the_run_folder(runs_store, tmp_path):
    s, _src, runs = runs_store
    target = "/var/tmp/kg-escape-test"  # writable by anyone on the host
    if os.path.exists(target):
        os.remove(target)
    run = run_claim(s, "escape", runs)
    assert run["status"] == "done" and run["verdict"] == "verified", run["stderr"]
    assert run["metrics"] == {"wrote_outside": 0, "wrote_inside": 1, "network": 0}
    assert not os.path.exists(target)


def test_changed_file_refuses_to_run(runs_store):
    s, src, runs = runs_store
    path = src / "experiments" / "slow.py"
    path.write_text(path.read_text() + "\n# edited after ingest\n")
    run = run_claim(s, "slow", runs)
    assert run["verdict"] == "error" and "changed since it was registered" in run["error"]


def test_only_registered_claims_run(runs_store):
    s, _src, _runs = runs_store
    with pytest.raises(RunError):
        plan(s, "claim:does-not-exist")
    with pytest.raises(RunError):
        plan(s, "../../etc/passwd")


def test_interrupted_runs_are_failed_at_next_start(runs_store):
    s, _src, _runs = runs_store
    p = plan(s, "slow")
    run_id = create_run(s, p, 0, status="running")
    s.conn.execute("UPDATE runs SET pid = 999999 WHERE id = ?", (run_id,))
    mine = create_run(s, p, 0, status="running")  # owned by this live process: left alone
    assert recover_interrupted(s) == 1
    assert get_run(s, run_id)["verdict"] == "error" and "interrupted" in get_run(s, run_id)["error"]
    assert get_run(s, mine)["status"] == "running"


def test_verify_cli_json_and_exit_code(runs_store, tmp_path):
    import subprocess

    from conftest import KG

    s, _src, runs = runs_store
    proc = subprocess.run(
        [*KG, "verify", "slow", "wrong", "--db", s.path, "--json", "--runs-dir", str(runs), "--seed", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1  # one claim is refuted
    out = json.loads(proc.stdout)
    assert [r["verdict"] for r in out] == ["verified", "refuted"]
    assert set(out[0]) >= {"claim", "experiment", "strand", "verdict", "metrics", "seconds"}
    ok = subprocess.run([*KG, "verify", "slow", "--db", s.path, "--runs-dir", str(runs)], capture_output=True)
    assert ok.returncode == 0
