"""Run a claim's registered experiment inside bubblewrap (kg/bwrap.py), and record the run.

Only experiments that ingest registered, from trusted folders (kg/trust.py), can run: a claim names an
experiment node, the node names its file, and the bytes that run must hash to the code hash recorded at ingest.
The source is copied into the run folder and hashed there; the copy is what runs, with `python -I -B`.

A run is a pure function of its spec: `run_one(RunSpec) -> RunRecord` launches the experiment, reads what it
wrote and decides the verdict, and never touches the store, so it can run in a thread, another process or a
Dask worker on another machine. The parent creates the run row (`create_run`) and writes the record back
(`record_run`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from kg import bwrap, trust
from kg.bwrap import Limits
from kg.store import Store
from kg.store import runs as stored
from kg.verdict import verdict as decide

DEFAULT_MEMORY_MB = 2048
LOG_LIMIT = 20000
PARAMS_LIMIT = 128 * 1024
METRICS_LIMIT = 1024 * 1024
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
    run_id: str = ""
    unsafe: bool = False  # run without bubblewrap: only with --unsafe-no-sandbox


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
    environment: dict[str, Any]
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
    run_id: str = "",
    unsafe: bool | None = None,
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
        run_id=run_id,
        unsafe=bwrap.UNSAFE if unsafe is None else unsafe,
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
    row = {"id": run_id, "claim": p.claim, "experiment": p.experiment, "status": status, "params": json.dumps(params),
           "seed": seed, "prediction": json.dumps(prediction), "environment": json.dumps(environment()),
           "pid": os.getpid(), "created_at": _now(), "sweep": sweep}  # fmt: skip
    with store.transaction() as conn:
        stored.insert_run(conn, row)
    return run_id


def _update(store: Store, run_id: str, **fields: Any) -> None:
    vals = {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in fields.items()}
    with store.transaction() as conn:
        stored.update_run(conn, run_id, vals)


def get_run(store: Store, run_id: str) -> dict[str, Any] | None:
    r = stored.run_row(store, run_id)
    if r is None:
        return None
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


def _non_finite(value: Any, where: str) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return where
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return next((w for k, v in items if (w := _non_finite(v, f"{where}.{k}"))), "")


def refusal(store: Store, p: Plan) -> str:
    """Why a claim's runs must not start (an untrusted or changed file, non-finite params), or ''.

    Checked by the parent, which holds the store, before any run of the plan is dispatched."""
    try:
        trust.check(store, p.file, p.code_hash)
    except trust.NotTrusted as exc:
        return str(exc)
    bad = _non_finite(p.params, "params") or _non_finite(p.prediction, "prediction")
    if bad:
        return f"claim '{p.claim}': {bad} is not a finite number; fix the front matter"
    return ""


def refused_record(spec: RunSpec, why: str) -> RunRecord:
    """The record of a run that was not started, saying why."""
    stamp = _now()
    return RunRecord("error", {}, [], "", "", why, "", {**environment(), "host": socket.gethostname()}, stamp,
                     stamp, 0.0)  # fmt: skip


def run_one(spec: RunSpec) -> RunRecord:
    """Run one experiment to the end, in bubblewrap, and return its whole record. Touches no store: safe in a
    thread, another process or a Dask worker. Whatever the experiment does, the record says verified, refuted,
    error or timeout."""
    started_at, started = _now(), time.monotonic()
    own = spec.outdir is None
    outdir = Path(tempfile.mkdtemp(prefix="kg-run-")) if own else Path(spec.outdir or "").resolve()
    try:
        return _run_in(spec, outdir, own, started_at, started)
    except Exception as exc:  # a run always ends; the message says what went wrong
        return _record(spec, "error", {}, [], f"the runner failed: {exc}", "", started_at, started, outdir, own)
    finally:
        if own:
            shutil.rmtree(outdir, ignore_errors=True)


def _run_in(spec: RunSpec, outdir: Path, own: bool, started_at: str, started: float) -> RunRecord:
    def done(verdict: str, metrics: dict[str, Any], checks: list[dict[str, Any]], why: str, code_hash: str,
             logs: tuple[str, str] = ("", ""), isolation: dict[str, Any] | None = None) -> RunRecord:  # fmt: skip
        rec = _record(spec, verdict, metrics, checks, why, code_hash, started_at, started, outdir, own)
        rec.stdout, rec.stderr = logs
        if isolation is not None:
            rec.environment["isolation"] = isolation
        return rec

    outdir.mkdir(parents=True, exist_ok=True)
    outdir.chmod(0o755)  # mkdtemp makes it 0700; the sandbox enters it under the run's own uid
    bad = _non_finite(spec.params, "params")
    if bad:
        return done("error", {}, [], f"{bad} is not a finite number; fix the front matter", "")
    params = json.dumps(spec.params, allow_nan=False)
    if len(params.encode()) > PARAMS_LIMIT:
        why = f"the params are {len(params.encode()) // 1024} KB, over the {PARAMS_LIMIT // 1024} KB limit"
        return done("error", {}, [], why, "")
    (outdir / "params.json").write_text(params)
    try:
        text = trust.source_text(spec.code)
    except OSError as exc:
        return done("error", {}, [], f"the experiment's source cannot be read: {exc}", "")
    fd = os.open(outdir / "experiment.py", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o444)
    with os.fdopen(fd, "wb") as f:
        f.write(text.encode("utf-8"))
    code_hash = hashlib.sha256(trust.read_regular(outdir / "experiment.py", trust.SOURCE_LIMIT)).hexdigest()
    if code_hash != spec.code_hash:
        return done("error", {}, [], "the experiment file changed since it was registered; run `kg ingest` again",
                    code_hash)  # fmt: skip
    limits = Limits(memory_mb=spec.memory_mb, cpu_seconds=spec.timeout)
    run_id = spec.run_id or uuid.uuid4().hex[:16]
    with _open_log(outdir / "stdout.log") as out, _open_log(outdir / "stderr.log") as err:
        try:
            launch = bwrap.spawn(outdir, run_id, spec.seed, _run_env(outdir, spec.seed), limits, out, err,
                                 unsafe=spec.unsafe)  # fmt: skip
        except bwrap.SandboxUnavailable as exc:
            return done("error", {}, [], str(exc), code_hash)
        try:
            rc = launch.proc.wait(timeout=spec.timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out, rc = True, None
        finally:
            bwrap.stop(launch)  # the namespace dies with its init: no daemon outlives the run
        logs = (_tail(out), _tail(err))
    iso = launch.isolation
    if timed_out:
        return done("timeout", {}, [], f"killed after the {spec.timeout:.0f} s time limit", code_hash, logs, iso)
    if rc != 0:
        why = f"the experiment exited with code {rc}"
        if rc is not None and rc < 0:
            why = f"the experiment was killed by signal {-rc}" + (" (CPU limit)" if -rc == signal.SIGXCPU else "")
        elif rc == 3:
            why = f"the experiment went over its {spec.memory_mb} MB memory limit"
        return done("error", {}, [], why, code_hash, logs, iso)
    try:
        metrics = read_metrics(outdir)
    except ValueError as exc:
        return done("error", {}, [], str(exc), code_hash, logs, iso)
    v, checks = decide(spec.prediction, metrics)
    why = "; ".join(c["problem"] for c in checks if "problem" in c)
    return done(v, metrics, checks, why, code_hash, logs, iso)


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


def _artefacts(outdir: Path) -> list[str]:
    """The plots a run left: regular .png and .svg files directly in its folder (never symlinks), at most 50."""
    try:
        entries = list(os.scandir(outdir))
    except OSError:
        return []
    pngs = [e.name for e in entries if e.name.endswith(ARTEFACT_SUFFIXES) and e.is_file(follow_symlinks=False)]
    return sorted(pngs)[:50]


def mark_runs_dir(runs_dir: Path) -> None:
    """Mark the runs folder so that an ingest of the folder around it skips it (ingest.scan.RUNS_MARKER)."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    marker = runs_dir / ".kg-runs"
    if not marker.exists():
        marker.write_text("Experiment runs written by kg; `kg ingest` skips this folder.\n")


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
    names = _artefacts(outdir)
    return RunRecord(
        verdict=verdict,
        metrics=metrics,
        checks=checks,
        stdout="",
        stderr="",
        error=error,
        code_hash=code_hash,
        environment={**environment(), "host": socket.gethostname()},
        started_at=started_at,
        ended_at=_now(),
        seconds=round(time.monotonic() - started, 3),
        artefacts=names,
        files={n: trust.read_regular(outdir / n, 64 * 1024 * 1024) for n in names} if carry_bytes else {},
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
    unsafe_no_sandbox: bool | None = None,
) -> dict[str, Any]:
    """Run a created run in this process's care: mark it running, run it, write its record. Returns the row."""
    row = get_run(store, run_id) or {}
    mark_runs_dir(Path(runs_dir))
    _update(store, run_id, status="running", started_at=_now())
    outdir = (Path(runs_dir) / run_id).resolve()
    spec = spec_for(p, seed, row.get("params"), outdir=outdir, memory_mb=memory_mb, timeout=timeout,
                    prediction=row.get("prediction"), run_id=run_id, unsafe=unsafe_no_sandbox)  # fmt: skip
    why = refusal(store, p)
    return record_run(store, run_id, refused_record(spec, why) if why else run_one(spec))


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
    for run_id, owner, created in stored.unfinished_runs(store):
        if not pid_alive(owner, created):
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


def pid_alive(pid: int | None, created_at: str | None = None) -> bool:
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
