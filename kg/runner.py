"""Run a claim's registered experiment in a real subprocess with time and memory limits, and record the run.

Only experiments that ingest registered can run: a claim names an experiment node, the node names its file,
and the file must still hash to the code hash recorded at ingest.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from kg.store import Store
from kg.verdict import verdict as decide

DEFAULT_MEMORY_MB = 2048
LOG_LIMIT = 20000
LIBRARIES = ("numpy", "scipy", "torch", "matplotlib")


class RunError(Exception):
    """A claim that cannot be run: unknown, without an experiment, or with an unregistered file."""


@dataclass
class Plan:
    claim: str
    experiment: str
    strand: str
    file: Path
    params: dict[str, Any]
    prediction: list[dict[str, Any]]
    timeout: float
    code_hash: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def normalise_claim_id(claim: str) -> str:
    return claim if claim.startswith("claim:") else "claim:" + claim


def plan(store: Store, claim_id: str) -> Plan:
    """What running a claim means: its registered experiment file, params, prediction and limits."""
    claim = store.node(normalise_claim_id(claim_id))
    if claim is None or claim["kind"] != "claim":
        raise RunError(f"no claim '{claim_id}'; list claims with `kg search --kind claim`")
    m = claim["meta"]
    if not m.get("experiment"):
        raise RunError(f"claim '{claim['id']}' has no experiment attached")
    exp = store.node("experiment:" + m["experiment"])
    if exp is None:
        raise RunError(f"experiment '{m['experiment']}' is not registered; run `kg ingest` on its folder")
    root = exp["root"]
    file = (Path(root) / exp["path"]).resolve()
    if not str(file).startswith(str(Path(root).resolve()) + os.sep):
        raise RunError(f"experiment '{m['experiment']}' points outside its root")
    return Plan(
        claim=claim["id"],
        experiment=exp["id"],
        strand=m.get("strand", ""),
        file=file,
        params=dict(m.get("params") or {}),
        prediction=list(m.get("prediction") or []),
        timeout=float(m.get("timeout") or 60),
        code_hash=exp["meta"]["code_hash"],
    )


def environment() -> dict[str, str]:
    """Python, platform and library versions, recorded with every run."""
    env = {"python": platform.python_version(), "platform": platform.platform(terse=True)}
    for lib in LIBRARIES:
        try:
            env[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            pass
    return env


def create_run(store: Store, p: Plan, seed: int, status: str = "queued") -> str:
    run_id = uuid.uuid4().hex[:16]
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO runs (id, claim, experiment, status, params, seed, prediction, environment, pid, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, p.claim, p.experiment, status, json.dumps(p.params), seed, json.dumps(p.prediction),
             json.dumps(environment()), os.getpid(), _now()),
        )  # fmt: skip
    return run_id


def _update(store: Store, run_id: str, **fields: Any) -> None:
    cols = ", ".join(f"{k} = ?" for k in fields)
    vals = [json.dumps(v) if isinstance(v, (dict, list)) else v for v in fields.values()]
    with store.transaction() as conn:
        conn.execute(f"UPDATE runs SET {cols} WHERE id = ?", [*vals, run_id])


def get_run(store: Store, run_id: str) -> dict[str, Any] | None:
    rows = list(store.db.query("SELECT * FROM runs WHERE id = ?", [run_id]))
    if not rows:
        return None
    r = rows[0]
    for k in ("params", "metrics", "checks", "environment", "artefacts", "prediction"):
        r[k] = json.loads(r[k])
    return r


def _limits(memory_mb: int, cpu_seconds: float) -> Any:
    def apply() -> None:
        os.setsid()
        # Die with the process that started the run, so a crashed server leaves no orphan behind.
        try:
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
        mem = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        cpu = int(cpu_seconds) + 5
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024 * 1024, 64 * 1024 * 1024))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def execute(
    store: Store,
    run_id: str,
    p: Plan,
    seed: int,
    runs_dir: Path,
    memory_mb: int = DEFAULT_MEMORY_MB,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run a created run to the end: subprocess, limits, logs, metrics, verdict. Returns the run record."""
    outdir = (runs_dir / run_id).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    timeout = timeout or p.timeout
    started = time.monotonic()
    _update(store, run_id, status="running", started_at=_now())
    code = p.file.read_bytes() if p.file.exists() else b""
    code_hash = hashlib.sha256(code).hexdigest()
    if code_hash != p.code_hash:
        why = "the experiment file changed since it was registered; run `kg ingest` again"
        return _finish(store, run_id, started, "error", {}, [], code_hash, "", "", why, outdir)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(outdir),
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(outdir / ".mpl"),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONHASHSEED": str(seed),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if key in os.environ:
            env[key] = os.environ[key]
    cmd = [sys.executable, "-m", "kg.sandbox", str(p.file), json.dumps(p.params), str(seed), str(outdir)]
    with open(outdir / "stdout.log", "wb") as out, open(outdir / "stderr.log", "wb") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=outdir,
                                preexec_fn=_limits(memory_mb, timeout), close_fds=True)  # fmt: skip
        try:
            rc = proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            rc = proc.returncode
    stdout = (outdir / "stdout.log").read_text(errors="replace")[-LOG_LIMIT:]
    stderr = (outdir / "stderr.log").read_text(errors="replace")[-LOG_LIMIT:]
    if timed_out:
        return _finish(store, run_id, started, "timeout", {}, [], code_hash, stdout, stderr,
                       f"killed after the {timeout:.0f} s time limit", outdir)  # fmt: skip
    metrics_file = outdir / "metrics.json"
    if rc != 0 or not metrics_file.exists():
        why = f"the experiment exited with code {rc}"
        if rc is not None and rc < 0:
            why = f"the experiment was killed by signal {-rc}" + (" (CPU limit)" if -rc == signal.SIGXCPU else "")
        elif rc == 3:
            why = f"the experiment went over its {memory_mb} MB memory limit"
        return _finish(store, run_id, started, "error", {}, [], code_hash, stdout, stderr, why, outdir)
    result = json.loads(metrics_file.read_text())
    v, checks = decide(p.prediction, result["metrics"])
    why = "; ".join(c["problem"] for c in checks if "problem" in c)
    return _finish(store, run_id, started, v, result["metrics"], checks, code_hash, stdout, stderr, why, outdir)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _finish(
    store: Store,
    run_id: str,
    started: float,
    verdict: str,
    metrics: dict[str, Any],
    checks: list[dict[str, Any]],
    code_hash: str,
    stdout: str,
    stderr: str,
    error: str,
    outdir: Path,
) -> dict[str, Any]:
    artefacts = sorted(f.name for f in outdir.glob("*.png") if f.is_file() and not f.is_symlink())
    _update(
        store,
        run_id,
        status="done",
        verdict=verdict,
        metrics=metrics,
        checks=checks,
        ended_at=_now(),
        seconds=round(time.monotonic() - started, 3),
        code_hash=code_hash,
        artefacts=artefacts,
        stdout=stdout,
        stderr=stderr,
        error=error,
    )
    return get_run(store, run_id) or {}


def run_claim(store: Store, claim_id: str, runs_dir: Path, seed: int = 0, **limits: Any) -> dict[str, Any]:
    """Plan, create and execute one run of a claim."""
    p = plan(store, claim_id)
    run_id = create_run(store, p, seed)
    return execute(store, run_id, p, seed, runs_dir, **limits)


def recover_interrupted(store: Store) -> int:
    """Mark runs left queued or running by a process that no longer exists as failed. Returns how many."""
    host = socket.gethostname()
    stale = []
    for run_id, owner in store.conn.execute("SELECT id, pid FROM runs WHERE status IN ('queued', 'running')"):
        if not _alive(owner):
            stale.append(run_id)
    for run_id in stale:
        _update(store, run_id, status="done", verdict="error", ended_at=_now(),
                error=f"interrupted: the process running it stopped (host {host})")  # fmt: skip
    return len(stale)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); read its state.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
