"""Static files with content-hashed URLs (so they can be cached for a year), compression, and the favicon."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Flask, current_app, redirect, url_for
from flask_compress import Compress

YEAR = 365 * 24 * 3600


@lru_cache(maxsize=512)
def _digest(path: str, mtime: float) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:10]


def static_version(filename: str) -> str | None:
    """A short hash of a static file's bytes, or None if there is no such file."""
    folder = Path(current_app.static_folder or "")
    target = (folder / filename).resolve()
    if not target.is_relative_to(folder.resolve()) or not target.is_file():
        return None
    return _digest(str(target), target.stat().st_mtime)


def init_app(app: Flask) -> None:
    app.config.setdefault("COMPRESS_MIMETYPES", [
        "text/html", "text/css", "application/javascript", "text/javascript", "application/json", "image/svg+xml",
    ])  # fmt: skip
    app.config.setdefault("COMPRESS_MIN_SIZE", 500)
    if app.config.get("SEND_FILE_MAX_AGE_DEFAULT") is None:
        app.config["SEND_FILE_MAX_AGE_DEFAULT"] = YEAR  # safe: every static URL carries its content hash
    Compress(app)

    @app.url_defaults
    def hashed_static(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "filename" in values and "v" not in values:
            version = static_version(values["filename"])
            if version:
                values["v"] = version

    @app.get("/favicon.ico")
    def favicon():  # type: ignore[no-untyped-def]
        return redirect(url_for("static", filename="favicon.svg"), code=301)
