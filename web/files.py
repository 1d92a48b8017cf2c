"""Attachments (images and other files a note references), served from their vault root and nowhere else."""

from __future__ import annotations

import mimetypes
import os
import stat
from pathlib import Path

from flask import Blueprint, Response, abort

from web.db import get_store

bp = Blueprint("files", __name__)
MAX_BYTES = 50 * 1024 * 1024


def attachment_path(node: dict) -> Path | None:
    """The real path of an attachment node's file, if it sits inside its vault root; None otherwise."""
    root = node.get("root") or (node.get("meta") or {}).get("root") or ""
    rel = node.get("path") or ""
    if not root or not rel or os.path.isabs(rel):
        return None
    real_root = os.path.realpath(root)
    target = os.path.realpath(os.path.join(real_root, rel))
    if os.path.commonpath([real_root, target]) != real_root or target == real_root:
        return None
    return Path(target)


@bp.get("/file/<path:node_id>")
def attachment(node_id: str) -> Response:
    node = get_store().node(node_id)
    if node is None or node["kind"] != "attachment":
        abort(404, description="no such file")
    path = attachment_path(node)
    if path is None:
        abort(404, description="no such file")
    try:
        # O_NOFOLLOW: a symlink swapped in after the check is refused, not followed.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        abort(404, description="no such file")
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            abort(404, description="no such file")
        data = fh.read()
    mime = (node.get("meta") or {}).get("mime") or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    resp = Response(data, mimetype=mime)
    resp.headers["Cache-Control"] = "public, max-age=3600"
    if mime == "image/svg+xml":
        resp.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return resp
