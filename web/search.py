"""Hybrid search, related nodes, and related papers for free text."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from kg.search import related
from web.db import embedder, get_store
from web.params import int_arg, kind_arg, text_arg
from web.views import NotFound, search_view

bp = Blueprint("search", __name__)


def _view() -> dict:
    return search_view(get_store(), text_arg("q"), kind_arg(), embedder(), limit=int_arg("limit", 20, 1, 100))


@bp.get("/search")
def page():  # type: ignore[no-untyped-def]
    return render_template("search.html", v=_view())


@bp.get("/api/search")
def page_json():  # type: ignore[no-untyped-def]
    return jsonify(_view())


@bp.get("/api/related/<path:node_id>")
def related_json(node_id: str):  # type: ignore[no-untyped-def]
    store = get_store()
    if store.node(node_id) is None:
        raise NotFound(node_id)
    return jsonify(related(store, node_id, kind=kind_arg(), limit=int_arg("limit", 10, 1, 100)))
