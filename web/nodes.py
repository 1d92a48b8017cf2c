"""A page for every node, its JSON twin, and the hover preview."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from web.db import get_store
from web.params import int_arg
from web.views import node_view, preview

bp = Blueprint("nodes", __name__)


@bp.get("/node/<path:node_id>")
def page(node_id: str):  # type: ignore[no-untyped-def]
    depth = int_arg("depth", 1, 1, 3)
    return render_template("node.html", v=node_view(get_store(), node_id), depth=depth)


@bp.get("/api/node/<path:node_id>")
def page_json(node_id: str):  # type: ignore[no-untyped-def]
    return jsonify(node_view(get_store(), node_id))


@bp.get("/api/preview/<path:node_id>")
def hover(node_id: str):  # type: ignore[no-untyped-def]
    return jsonify(preview(get_store(), node_id))
