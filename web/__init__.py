"""The Flask app: thin views over `kg`. One blueprint per resource; the store is opened once per request."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from flask import Flask

from kg.store import default_db_path


def _warm_full_graph(db_path: str) -> None:
    """Lay out the full graph (or load its cached layout) before the first visitor asks for it."""
    from kg.store import Store, StoreError
    from web.fullgraph import warm

    try:
        with Store(db_path, create=False) as store:
            warm(store)
    except StoreError:
        pass


def create_app(db_path: str | None = None, *, embedder: Any = None, preload: bool = False, **config: Any) -> Flask:
    """Build the app for a knowledge-graph file. `embedder` defaults to the real model, loaded on first use."""
    from kg.embeddings import default_embedder
    from web import assets, errors, files, graph, home, nodes, runs, search, security
    from web.db import close_store

    app = Flask(__name__)
    db = str(db_path or default_db_path())
    app.config.update(
        DB_PATH=db,
        SECRET_KEY=security.secret_key(db),
        MAX_CONTENT_LENGTH=64 * 1024,
        RUNS_DIR=str(Path(db_path or default_db_path()).resolve().parent / "runs"),
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_HTTPONLY=True,
        JSON_SORT_KEYS=False,
    )
    app.config.update(config)
    app.extensions["kg_embedder"] = embedder or default_embedder()
    app.teardown_appcontext(close_store)
    security.init_app(app)
    assets.init_app(app)
    from web.text import mark_html, plain_tex

    app.jinja_env.filters["marked"] = mark_html
    app.jinja_env.filters["plain_tex"] = plain_tex
    app.jinja_env.globals["site_name"] = "Knowledge graph"
    from web.vis import KIND_COLOURS, VERDICT_COLOURS

    app.jinja_env.globals["kind_colours"] = KIND_COLOURS
    app.jinja_env.globals["verdict_colours"] = {k: v for k, v in VERDICT_COLOURS.items() if k != "timeout"}
    errors.init_app(app)

    @app.context_processor
    def _ingest_progress() -> dict[str, Any]:
        from kg.sync.progress import read_progress

        return {"ingest_progress": home.ingest_state(read_progress(app.config["DB_PATH"]))}

    for bp in (home.bp, nodes.bp, graph.bp, search.bp, runs.bp, files.bp):
        app.register_blueprint(bp)
    runs.init_app(app)
    if preload:
        threading.Thread(target=lambda: app.extensions["kg_embedder"].encode(["warm up"]), daemon=True).start()
        threading.Thread(target=_warm_full_graph, args=(app.config["DB_PATH"],), daemon=True).start()
    return app
