"""Rerun a claim's web sweep (POST, CSRF-checked), follow its runs, and serve plots from their own folders only."""

from __future__ import annotations

import os
import re
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, send_from_directory

from kg import bwrap, runlog, trust
from kg.jobs import RunQueue
from kg.runner import RunError, get_run, recover_interrupted
from kg.store import Store
from kg.verify import get_sweep, recover_sweeps, sweep_progress
from web.db import get_store
from web.params import int_arg
from web.views import NotFound

bp = Blueprint("runs", __name__)
RUN_ID = re.compile(r"^[0-9a-f]{16}$")
ARTEFACT = re.compile(r"^[A-Za-z0-9_.-]{1,100}\.png$")
ARTEFACT_LIMIT = 32 * 1024 * 1024
SWEEP_PLOT = re.compile(r"^sweep\.(png|svg)$")


def queue() -> RunQueue:
    return current_app.extensions["kg_runs"]


@bp.post("/api/claims/<path:claim_id>/rerun")
def rerun(claim_id: str):  # type: ignore[no-untyped-def]
    store = get_store()
    node = store.node(claim_id)
    if node is None or node["kind"] != "claim":
        raise NotFound(claim_id)
    try:
        sweep, joined = queue().submit_sweep(claim_id)
    except trust.NotTrusted as exc:
        abort(403, description=f"not trusted: {exc}")
    except bwrap.SandboxUnavailable as exc:
        abort(503, description=str(exc))
    except RunError as exc:
        abort(400, description=str(exc))
    first = queue().active_run(claim_id) or ""
    body = {"id": first, "sweep": sweep["id"], "total": sweep["total"], "status": "queued", "joined": joined}
    return jsonify(body), 200 if joined else 202


@bp.get("/api/sweeps/<sweep_id>")
def sweep_json(sweep_id: str):  # type: ignore[no-untyped-def]
    """A sweep's progress: its runs so far (status, verdict, seconds), and its verdict once done."""
    if not RUN_ID.match(sweep_id):
        abort(404, description="no such sweep")
    progress = sweep_progress(get_store(), sweep_id)
    if progress is None:
        abort(404, description="no such sweep")
    return jsonify(progress)


@bp.get("/sweeps/<sweep_id>/<name>")
def sweep_plot(sweep_id: str, name: str):  # type: ignore[no-untyped-def]
    """A sweep's plot (PNG or SVG), from that sweep's own folder."""
    if not RUN_ID.match(sweep_id) or not SWEEP_PLOT.match(name):
        abort(404, description="no such file")
    sweep = get_sweep(get_store(), sweep_id)
    if sweep is None or name not in sweep["artefacts"]:
        abort(404, description="no such file")
    folder = Path(current_app.config["RUNS_DIR"]).resolve() / "sweeps" / sweep_id
    target = (folder / name).resolve()
    if target.parent != folder or target.is_symlink() or not target.is_file():
        abort(404, description="no such file")
    mime = "image/svg+xml" if name.endswith(".svg") else "image/png"
    return send_from_directory(folder, name, mimetype=mime, max_age=3600)


@bp.get("/api/claims/<path:claim_id>/active")
def active(claim_id: str):  # type: ignore[no-untyped-def]
    run_id = queue().active_run(claim_id)
    return jsonify({"id": run_id})


@bp.get("/api/claims/<path:claim_id>/runs")
def claim_runs(claim_id: str):  # type: ignore[no-untyped-def]
    """A claim's runs, newest first, a page at a time (?page=N, ?per_page=M up to 100)."""
    store = get_store()
    if store.node(claim_id) is None:
        raise NotFound(claim_id)
    page = int_arg("page", 1, 1, 1_000_000)
    return jsonify(runlog.claim_runs(store, claim_id, page, int_arg("per_page", runlog.KEEP, 1, 100)))


@bp.get("/api/runs/<run_id>")
def run_json(run_id: str):  # type: ignore[no-untyped-def]
    if not RUN_ID.match(run_id):
        abort(404, description="no such run")
    run = get_run(get_store(), run_id)
    if run is None:
        abort(404, description="no such run")
    return jsonify(run)


@bp.get("/runs/<run_id>/<name>")
def artefact(run_id: str, name: str):  # type: ignore[no-untyped-def]
    """A plot of a run: the name must be a recorded artefact of that run, inside that run's folder."""
    if not RUN_ID.match(run_id) or not ARTEFACT.match(name):
        abort(404, description="no such file")
    run = get_run(get_store(), run_id)
    if run is None or name not in run["artefacts"]:
        abort(404, description="no such file")
    folder = Path(current_app.config["RUNS_DIR"]).resolve() / run_id
    try:  # the file as it is now: a regular file, never a symlink or FIFO, read without following links
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            data = trust.read_regular(name, ARTEFACT_LIMIT, dir_fd=dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        abort(404, description="no such file")
    resp = Response(data, mimetype="image/png")
    resp.headers["Cache-Control"] = "private, max-age=3600"
    return resp


def init_app(app: Flask) -> None:
    """Start the run queue, and fail the runs a crash left behind."""
    db = app.config["DB_PATH"]
    if Path(db).exists():
        with Store(db, create=False) as store:
            recover_interrupted(store)
            recover_sweeps(store, Path(app.config["RUNS_DIR"]))
    app.extensions["kg_runs"] = RunQueue(
        db, app.config["RUNS_DIR"], workers=app.config.get("RUN_WORKERS", 2),
        memory_mb=app.config.get("RUN_MEMORY_MB", 2048),
        unsafe_no_sandbox=bool(app.config.get("UNSAFE_NO_SANDBOX", False)),
    )  # fmt: skip
