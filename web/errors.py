"""Errors as pages (or JSON under /api/): 400 with a message, 404 for unknown ids, never a traceback."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from kg.search import SearchError
from kg.store import StoreError
from web.views import NotFound


def _respond(code: int, title: str, message: str):  # type: ignore[no-untyped-def]
    if request.path.startswith("/api/"):
        return jsonify({"error": title, "message": message, "status": code}), code
    return render_template("error.html", code=code, title=title, message=message), code


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
        return _respond(exc.code or 500, exc.name, exc.description or "")

    @app.errorhandler(Exception)
    def crash(exc: Exception):  # type: ignore[no-untyped-def]
        app.logger.exception("unhandled error on %s", request.path)
        return _respond(500, InternalServerError.name, "Something went wrong on our side; the log has the details.")
