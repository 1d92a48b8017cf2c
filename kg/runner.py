"""Run a claim's registered experiment in a real subprocess with time and memory limits, and record the run.

Only experiments that ingest registered can run: a claim names an experiment node, the node names its file,
and the file must still hash to the code hash recorded at ingest.
"""

from __future__ import annotations

import json
import math
import os
import platform
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from kg import bwrap, trust
from kg.bwrap import Limits
from kg.store import Store
from kg.verdict import verdict as decide

DEFAULT_MEMORY_MB = 2048
LOG_LIMIT = 20000
PARAMS_LIMIT = 128 * 1024
METRICS_LIMIT = 1024 * 1024
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


def _run_env(outdir: Path, seed: int) -> dict[str, str]:
    """The experiment's whole environment: an allowlist, never anything of the server's (its secret key above all)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(outdir),
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(outdir / ".mpl"),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONHASHSEED": str(seed),
    }
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def _open_log(path: Path) -> Any:
    return os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644), "w+b")


def _tail(f: Any) -> str:
    """The end of a log, read from the runner's own descriptor: a file swapped in by the experiment is never read."""
    size = os.fstat(f.fileno()).st_size
    return os.pread(f.fileno(), LOG_LIMIT * 4, max(0, size - LOG_LIMIT * 4)).decode(errors="replace")[-LOG_LIMIT:]


def _refusal(store: Store, p: Plan, code_hash: str) -> str:
    """Why a prepared run must not start, or ''."""
    if code_hash != p.code_hash:
        return "the experiment file changed since it was registered; run `kg ingest` again"
    try:
        trust.check(store, p.file, code_hash)
    except trust.NotTrusted as exc:
        return str(exc)
    bad = _non_finite(p.params, "params") or _non_finite(p.prediction, "prediction")
    if bad:
        return f"claim '{p.claim}': {bad} is not a finite number; fix the front matter"
    return ""


def _non_finite(value: Any, where: str) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return where
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return next((w for k, v in items if (w := _non_finite(v, f"{where}.{k}"))), "")


def execute(
    store: Store,
    run_id: str,
    p: Plan,
    seed: int,
    runs_dir: Path,
    memory_mb: int = DEFAULT_MEMORY_MB,
    timeout: float | None = None,
    unsafe_no_sandbox: bool | None = None,
) -> dict[str, Any]:
    """Run a created run to the end, whatever the experiment does: a verdict of verified, refuted, error or
    timeout. The source is copied into the run folder and hashed there; the copy is what runs, in bubblewrap."""
    outdir = (runs_dir / run_id).resolve()
    mark_runs_dir(runs_dir)
    started = time.monotonic()
    _update(store, run_id, status="running", started_at=_now())
    try:
        return _execute(store, run_id, p, seed, outdir, started, memory_mb, timeout or p.timeout, unsafe_no_sandbox)
    except Exception as exc:  # a run always ends; the message says what went wrong
        return _finish(store, run_id, started, "error", {}, [], "", "", "", f"the runner failed: {exc}", outdir)


def _execute(
    store: Store, run_id: str, p: Plan, seed: int, outdir: Path, started: float,
    memory_mb: int, timeout: float, unsafe: bool | None,
) -> dict[str, Any]:  # fmt: skip
    outdir.mkdir(parents=True, exist_ok=False)
    params = json.dumps(p.params, allow_nan=False) if not _non_finite(p.params, "params") else "{}"
    if len(params.encode()) > PARAMS_LIMIT:
        why = f"the params are {len(params.encode()) // 1024} KB, over the {PARAMS_LIMIT // 1024} KB limit"
        return _finish(store, run_id, started, "error", {}, [], "", "", "", why, outdir)
    (outdir / "params.json").write_text(params)
    code_hash = trust.copy_source(p.file, outdir / "experiment.py")
    why = _refusal(store, p, code_hash)
    if why:
        return _finish(store, run_id, started, "error", {}, [], code_hash, "", "", why, outdir)
    limits = Limits(memory_mb=memory_mb, cpu_seconds=timeout)
    unsafe = bwrap.UNSAFE if unsafe is None else unsafe
    with _open_log(outdir / "stdout.log") as out, _open_log(outdir / "stderr.log") as err:
        try:
            launch = bwrap.spawn(outdir, run_id, seed, _run_env(outdir, seed), limits, out, err, unsafe=unsafe)
        except bwrap.SandboxUnavailable as exc:
            return _finish(store, run_id, started, "error", {}, [], code_hash, "", "", str(exc), outdir)
        _update(store, run_id, environment={**environment(), "isolation": launch.isolation})
        try:
            rc = launch.proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out, rc = True, None
        finally:
            bwrap.stop(launch)  # the namespace dies with its init: no daemon outlives the run
        stdout, stderr = _tail(out), _tail(err)
    if timed_out:
        return _finish(store, run_id, started, "timeout", {}, [], code_hash, stdout, stderr,
                       f"killed after the {timeout:.0f} s time limit", outdir)  # fmt: skip
    if rc != 0:
        why = f"the experiment exited with code {rc}"
        if rc is not None and rc < 0:
            why = f"the experiment was killed by signal {-rc}" + (" (CPU limit)" if -rc == signal.SIGXCPU else "")
        elif rc == 3:
            why = f"the experiment went over its {memory_mb} MB memory limit"
        return _finish(store, run_id, started, "error", {}, [], code_hash, stdout, stderr, why, outdir)
    try:
        metrics = read_metrics(outdir)
    except ValueError as exc:
        return _finish(store, run_id, started, "error", {}, [], code_hash, stdout, stderr, str(exc), outdir)
    v, checks = decide(p.prediction, metrics)
    why = "; ".join(c["problem"] for c in checks if "problem" in c)
    return _finish(store, run_id, started, v, metrics, checks, code_hash, stdout, stderr, why, outdir)


def read_metrics(outdir: Path) -> dict[str, Any]:
    """The metrics an experiment reported, read safely (a regular file, no symlink, under 1 MB) and checked.

    Raises ValueError with a message for anything kg.sandbox would not have written."""
    try:
        raw = trust.read_regular(outdir / "metrics.json", METRICS_LIMIT)
    except FileNotFoundError:
        raise ValueError("the experiment exited without writing metrics.json") from None
    except OSError as exc:
        raise ValueError(f"metrics.json cannot be read: {exc}") from None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ValueError("metrics.json is not valid JSON") from None
    metrics = data.get("metrics") if isinstance(data, dict) else None
    if not isinstance(metrics, dict) or len(metrics) > 1000:
        raise ValueError("metrics.json holds no dict of metrics (at most 1,000) under 'metrics'")
    for k, v in metrics.items():
        if not isinstance(v, (int, float, bool)) and v not in ("nan", "inf", "-inf"):
            raise ValueError(f"metric '{k[:100]}' is a {type(v).__name__}, not a number")
    return metrics


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
    artefacts = _artefacts(outdir)
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


def _artefacts(outdir: Path) -> list[str]:
    """The plots a run left: regular .png files directly in its folder (never symlinks), at most 50."""
    try:
        entries = list(os.scandir(outdir))
    except OSError:
        return []
    pngs = [e.name for e in entries if e.name.endswith(".png") and e.is_file(follow_symlinks=False)]
    return sorted(pngs)[:50]


def mark_runs_dir(runs_dir: Path) -> None:
    """Mark the runs folder so that an ingest of the folder around it skips it (ingest.scan.RUNS_MARKER)."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    marker = runs_dir / ".kg-runs"
    if not marker.exists():
        marker.write_text("Experiment runs written by kg; `kg ingest` skips this folder.\n")


def run_claim(store: Store, claim_id: str, runs_dir: Path, seed: int = 0, **limits: Any) -> dict[str, Any]:
    """Plan, create and execute one run of a claim."""
    p = plan(store, claim_id)
    run_id = create_run(store, p, seed)
    return execute(store, run_id, p, seed, runs_dir, **limits)


def recover_interrupted(store: Store) -> int:
    """Finish as `error` the runs left queued or running by a process that no longer runs them. Returns how many.

    The owner is the pid recorded with the run; a pid that now belongs to a process started after the run was
    created (a restarted server often gets its old pid back) is not the owner."""
    host = socket.gethostname()
    stale = []
    rows = store.conn.execute("SELECT id, pid, created_at FROM runs WHERE status IN ('queued', 'running')")
    for run_id, owner, created in rows.fetchall():
        if not _alive(owner, created):
            stale.append(run_id)
    for run_id in stale:
        _update(store, run_id, status="done", verdict="error", ended_at=_now(),
                error=f"interrupted: the process running it stopped (host {host})")  # fmt: skip
    return len(stale)


def _started_at(pid: int) -> float | None:
    """When a process started (seconds since the epoch), from /proc; None where that cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _alive(pid: int | None, created_at: str | None = None) -> bool:
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
            if f.read().rsplit(")", 1)[-1].split()[0] == "Z":
                return False
    except OSError:
        return True
    start = _started_at(pid)
    if start is not None and created_at:
        try:
            created = datetime.fromisoformat(created_at).timestamp()
        except ValueError:
            return True
        return start <= created + 2  # /proc's btime is whole seconds
    return True
