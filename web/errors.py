"""Errors as pages (or JSON under /api/): 400 with a message, 404 for unknown ids, never a traceback.

The handlers cannot fail: if the page or the JSON cannot be built (a broken template, a store that is gone),
a plain response is built by hand instead."""

from __future__ import annotations

import html
import json

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from kg.search import SearchError
from kg.store import StoreError
from web.views import NotFound


def _wants_json() -> bool:
    try:
        return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"
    except Exception:  # noqa: BLE001 - no request to ask: answer in HTML
        return False


def _plain(code: int, title: str, message: str, as_json: bool) -> Response:
    """A response made without Flask's helpers, templates or the store."""
    if as_json:
        body = json.dumps({"error": str(title), "message": str(message), "status": int(code)})
        return Response(body, status=code, mimetype="application/json")
    t, m = html.escape(str(title)), html.escape(str(message))
    page = f"<!doctype html><title>{t}</title><h1>{t}</h1><p>{m}"
    return Response(page, status=code, mimetype="text/html")


def _respond(code: int, title: str, message: str):  # type: ignore[no-untyped-def]
    as_json = _wants_json()
    try:
        if as_json:
            return jsonify({"error": title, "message": message, "status": code}), code
        return render_template("error.html", code=code, title=title, message=message), code
    except Exception:  # noqa: BLE001 - an error page must never raise
        return _plain(code, title, message, as_json)


def init_app(app: Flask) -> None:
    @app.errorhandler(NotFound)
    def not_found(exc: NotFound):  # type: ignore[no-untyped-def]
        return _respond(404, "Not found", f"There is no node with id “{exc.args[0]}”. Try the search.")

    @app.errorhandler(SearchError)
    def bad_search(exc: SearchError):  # type: ignore[no-untyped-def]
        return _respond(400, "Bad request", str(exc))

    @app.errorhandler(StoreError)
    def no_store(exc: StoreError):  # type: ignore[no-untyped-def]
        return _respond(503, "No knowledge graph yet", str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        return _respond(exc.code or 500, str(exc.name), str(exc.description or ""))

    @app.errorhandler(Exception)
    def crash(exc: Exception):  # type: ignore[no-untyped-def]
        try:
            app.logger.exception("unhandled error on %s", request.path)
        except Exception:  # noqa: BLE001, S110 - logging must not turn a 500 into a crash
            pass
        return _respond(500, "Internal Server Error", "Something went wrong on our side; the log has the details.")
