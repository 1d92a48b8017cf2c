"""The concept map (home page) and the counts."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template

from kg.sync.progress import read_progress
from web.db import get_store
from web.homeview import home_view
from web.views import stats_view

bp = Blueprint("home", __name__)


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    return render_template("home.html", v=home_view(get_store()))


@bp.get("/api/home")
def index_json():  # type: ignore[no-untyped-def]
    return jsonify(home_view(get_store()))


@bp.get("/api/stats")
def stats():  # type: ignore[no-untyped-def]
    return jsonify(stats_view(get_store()))


@bp.get("/api/status")
def status():  # type: ignore[no-untyped-def]
    """Whether an ingest is writing to this store, and how far it has got (pages poll this while one runs)."""
    state = read_progress(current_app.config["DB_PATH"])
    return jsonify({"ingest": ingest_state(state)})


def ingest_state(state: dict | None) -> dict | None:  # type: ignore[type-arg]
    if state is None:
        return None
    return {k: state[k] for k in ("stage", "done", "total", "started", "updated") if k in state}
