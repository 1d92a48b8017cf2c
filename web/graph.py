"""Neighbourhood graphs for node pages, and the full graph with its filters."""

from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify, render_template, request, send_from_directory

from web.db import get_store
from web.fullgraph import full_graph_view
from web.params import int_arg, text_arg
from web.views import cached, graph_view

bp = Blueprint("graph", __name__)
MORE = ("relations", "citations", "links", "similar", "tags", "hops")


@bp.get("/api/graph/<path:node_id>")
def neighbourhood(node_id: str):  # type: ignore[no-untyped-def]
    more = tuple(
        m for m in request.args.getlist("more") if m in ("relations", "citations", "links", "similar", "tags", "hops")
    )
    return jsonify(graph_view(get_store(), node_id, int_arg("depth", 1, 1, 3), int_arg("max", 30, 5, 300), more))


def _filters() -> dict:
    return {
        "kinds": [k for k in request.args.getlist("kind") if k][:6],
        "tag": text_arg("tag", 200),
        "strand": text_arg("strand", 60),
        "relation": text_arg("relation", 60),
        "verdict": text_arg("verdict", 20),
        "focus": text_arg("focus", 300),
        "limit": int_arg("limit", 5000, 10, 20000),
    }


@bp.get("/graph")
def page():  # type: ignore[no-untyped-def]
    f = _filters()
    focus = get_store().node(f["focus"]) if f["focus"] else None
    if not f["kinds"]:
        f["kinds"] = ["concept", "inquiry", "claim"] + ([focus["kind"]] if focus else [])
    return render_template("graph.html", f=f)


@bp.get("/api/graph")
def full_json():  # type: ignore[no-untyped-def]
    """The full graph's JSON, serialised once per store generation and set of filters."""
    store, f = get_store(), _filters()
    key = "fullgraph-json:" + json.dumps(f, sort_keys=True)
    body = cached(store, key, lambda: json.dumps(full_graph_view(store, **f), separators=(",", ":")))
    return Response(body, mimetype="application/json")


@bp.get("/static/vendor/vis-network-9.1.2.min.js")
def vis_network():  # type: ignore[no-untyped-def]
    """vis-network exactly as pyvis ships it, served as one cacheable file."""
    import pyvis

    folder = f"{pyvis.__path__[0]}/lib/vis-9.1.2"
    resp = send_from_directory(folder, "vis-network.min.js", max_age=86400)
    return resp


@bp.get("/static/vendor/vis-network-9.1.2.css")
def vis_network_css():  # type: ignore[no-untyped-def]
    import pyvis

    return send_from_directory(f"{pyvis.__path__[0]}/lib/vis-9.1.2", "vis-network.css", max_age=86400)
