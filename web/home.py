"""The concept map (home page) and the counts."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template

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
