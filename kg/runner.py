"""Run a claim's registered experiment in a real subprocess with time and memory limits, and record the run.

Only experiments that ingest registered can run: a claim names an experiment node, the node names its file,
and the file must still hash to the code hash recorded at ingest.

A run is a pure function of its spec: `run_one(RunSpec) -> RunRecord` launches the experiment, reads what it
wrote and decides the verdict, and never touches the store, so it can run in a thread, another process or a
Dask worker on another machine. The parent creates the run row (`create_run`) and writes the record back
(`record_run`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from kg.store import Store
from kg.verdict import verdict as decide

DEFAULT_MEMORY_MB = 2048
LOG_LIMIT = 20000
LIBRARIES = ("numpy", "scipy", "torch", "matplotlib")
ARTEFACT_SUFFIXES = (".png", ".svg")


class RunError(Exception):
    """A claim that cannot be run: unknown, without an experiment, or with an unregistered file."""


@dataclass
class Plan:
    """What running a claim means, from its declaration: experiment, params, prediction, limits and grid."""

    claim: str
    experiment: str
    strand: str
    file: Path
    params: dict[str, Any]
    prediction: list[dict[str, Any]]
    timeout: float
    code_hash: str
    seeds: int = 1
    require: float = 1.0
    sweep: dict[str, list[Any]] = field(default_factory=dict)
    web_sweep: dict[str, Any] = field(default_factory=dict)
    mechanism_off: dict[str, Any] = field(default_factory=dict)
    control: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RunSpec:
    """Everything one run needs, and nothing of the store: picklable, so it can travel to a Dask worker.

    `code` is the experiment's source as read by the parent; the run refuses it unless it hashes to
    `code_hash`. With `outdir` None the run works in a temporary folder and returns its artefacts as bytes.
    """

    claim: str
    experiment: str
    code: bytes
    code_hash: str
    params: dict[str, Any]
    seed: int
    prediction: list[dict[str, Any]]
    timeout: float
    memory_mb: int = DEFAULT_MEMORY_MB
    outdir: str | None = None


@dataclass
class RunRecord:
    """What one run produced: verdict, metrics, checks, logs, artefacts, code hash, environment and timings."""

    verdict: str
    metrics: dict[str, Any]
    checks: list[dict[str, Any]]
    stdout: str
    stderr: str
    error: str
    code_hash: str
    environment: dict[str, str]
    started_at: str
    ended_at: str
    seconds: float
    artefacts: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    attempts: int = 1


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


now = _now


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
        seeds=int(m.get("seeds") or 1),
        require=float(m.get("require") or 1.0),
        sweep=dict(m.get("sweep") or {}),
        web_sweep=dict(m.get("web_sweep") or {}),
        mechanism_off=dict(m.get("mechanism_off") or {}),
        control=list(m.get("control") or []),
    )


def spec_for(
    p: Plan,
    seed: int,
    params: dict[str, Any] | None = None,
    *,
    outdir: Path | str | None = None,
    memory_mb: int = DEFAULT_MEMORY_MB,
    timeout: float | None = None,
    prediction: list[dict[str, Any]] | None = None,
) -> RunSpec:
    """The spec of one run of a plan: its code as it is now on disk, params (default: the plan's) and seed."""
    code = p.file.read_bytes() if p.file.is_file() else b""
    return RunSpec(
        claim=p.claim,
        experiment=p.experiment,
        code=code,
        code_hash=p.code_hash,
        params=dict(p.params if params is None else params),
        seed=seed,
        prediction=list(p.prediction if prediction is None else prediction),
        timeout=float(timeout or p.timeout),
        memory_mb=memory_mb,
        outdir=str(outdir) if outdir is not None else None,
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


def create_run(
    store: Store,
    p: Plan,
    seed: int,
    status: str = "queued",
    *,
    params: dict[str, Any] | None = None,
    prediction: list[dict[str, Any]] | None = None,
    sweep: str | None = None,
) -> str:
    """Add a run row owned by this process (its pid marks it live); returns the run id."""
    run_id = uuid.uuid4().hex[:16]
    params = p.params if params is None else params
    prediction = p.prediction if prediction is None else prediction
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO runs (id, claim, experiment, status, params, seed, prediction, environment, pid, created_at, "
            "sweep) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, p.claim, p.experiment, status, json.dumps(params), seed, json.dumps(prediction),
             json.dumps(environment()), os.getpid(), _now(), sweep),
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


def run_one(spec: RunSpec) -> RunRecord:
    """Run one experiment to the end and return its whole record. Touches no store: safe on any machine."""
    started_at, started = _now(), time.monotonic()
    own = spec.outdir is None
    outdir = Path(tempfile.mkdtemp(prefix="kg-run-")) if own else Path(spec.outdir or "").resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    codedir = Path(tempfile.mkdtemp(prefix="kg-code-"))
    try:
        code_hash = hashlib.sha256(spec.code).hexdigest()
        if code_hash != spec.code_hash:
            why = "the experiment file changed since it was registered; run `kg ingest` again"
            return _record(spec, "error", {}, [], why, code_hash, started_at, started, outdir, own)
        # Run exactly the bytes that were hashed, from a private copy outside the run folder.
        file = codedir / (spec.experiment.removeprefix("experiment:") + ".py")
        file.write_bytes(spec.code)
        rc, timed_out = launch(file, spec.params, spec.seed, outdir, spec.memory_mb, spec.timeout)
        verdict, metrics, checks, why = _outcome(spec, outdir, rc, timed_out)
        return _record(spec, verdict, metrics, checks, why, code_hash, started_at, started, outdir, own)
    finally:
        shutil.rmtree(codedir, ignore_errors=True)
        if own:
            shutil.rmtree(outdir, ignore_errors=True)


def launch(
    file: Path, params: dict[str, Any], seed: int, outdir: Path, memory_mb: int, timeout: float
) -> tuple[int | None, bool]:
    """Start the experiment in its sandboxed subprocess and wait for it. Returns (exit code, timed out).

    The one place a run's process is launched: logs go to stdout.log and stderr.log in `outdir`, metrics to
    metrics.json.
    """
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
    cmd = [sys.executable, "-m", "kg.sandbox", str(file), json.dumps(params), str(seed), str(outdir)]
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
    return rc, timed_out


def _outcome(
    spec: RunSpec, outdir: Path, rc: int | None, timed_out: bool
) -> tuple[str, dict[str, Any], list[dict[str, Any]], str]:
    """Read what the run left in its folder: (verdict, metrics, checks, reason)."""
    if timed_out:
        return "timeout", {}, [], f"killed after the {spec.timeout:.0f} s time limit"
    metrics_file = outdir / "metrics.json"
    if rc != 0 or not metrics_file.exists():
        why = f"the experiment exited with code {rc}"
        if rc is not None and rc < 0:
            why = f"the experiment was killed by signal {-rc}" + (" (CPU limit)" if -rc == signal.SIGXCPU else "")
        elif rc == 3:
            why = f"the experiment went over its {spec.memory_mb} MB memory limit"
        return "error", {}, [], why
    try:
        metrics = json.loads(metrics_file.read_text())["metrics"]
        if not isinstance(metrics, dict):
            raise TypeError("metrics is not a mapping")
    except (ValueError, KeyError, TypeError) as exc:
        return "error", {}, [], f"the experiment's metrics.json is unreadable ({exc})"
    v, checks = decide(spec.prediction, metrics)
    why = "; ".join(c["problem"] for c in checks if "problem" in c)
    return v, metrics, checks, why


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _record(
    spec: RunSpec,
    verdict: str,
    metrics: dict[str, Any],
    checks: list[dict[str, Any]],
    error: str,
    code_hash: str,
    started_at: str,
    started: float,
    outdir: Path,
    carry_bytes: bool,
) -> RunRecord:
    def log(name: str) -> str:
        f = outdir / name
        return f.read_text(errors="replace")[-LOG_LIMIT:] if f.is_file() else ""

    files = sorted(f for f in outdir.iterdir() if f.suffix in ARTEFACT_SUFFIXES and f.is_file() and not f.is_symlink())
    return RunRecord(
        verdict=verdict,
        metrics=metrics,
        checks=checks,
        stdout=log("stdout.log"),
        stderr=log("stderr.log"),
        error=error,
        code_hash=code_hash,
        environment={**environment(), "host": socket.gethostname()},
        started_at=started_at,
        ended_at=_now(),
        seconds=round(time.monotonic() - started, 3),
        artefacts=[f.name for f in files],
        files={f.name: f.read_bytes() for f in files} if carry_bytes else {},
    )


def record_run(store: Store, run_id: str, rec: RunRecord, runs_dir: Path | None = None) -> dict[str, Any]:
    """Write a finished run's record into the store (and artefacts sent as bytes into its run folder)."""
    if rec.files and runs_dir is not None:
        folder = (Path(runs_dir) / run_id).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in rec.files.items():
            (folder / Path(name).name).write_bytes(data)
    _update(
        store,
        run_id,
        status="done",
        verdict=rec.verdict,
        metrics=rec.metrics,
        checks=rec.checks,
        started_at=rec.started_at,
        ended_at=rec.ended_at,
        seconds=rec.seconds,
        code_hash=rec.code_hash,
        environment=rec.environment,
        artefacts=rec.artefacts,
        stdout=rec.stdout,
        stderr=rec.stderr,
        error=rec.error,
    )
    return get_run(store, run_id) or {}


def execute(
    store: Store,
    run_id: str,
    p: Plan,
    seed: int,
    runs_dir: Path,
    memory_mb: int = DEFAULT_MEMORY_MB,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run a created run in this process's care: mark it running, run it, write its record. Returns the row."""
    row = get_run(store, run_id) or {}
    _update(store, run_id, status="running", started_at=_now())
    outdir = (Path(runs_dir) / run_id).resolve()
    spec = spec_for(p, seed, row.get("params"), outdir=outdir, memory_mb=memory_mb, timeout=timeout,
                    prediction=row.get("prediction"))  # fmt: skip
    return record_run(store, run_id, run_one(spec))


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
