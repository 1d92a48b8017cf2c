"""Who may talk to the server and how: a Host allowlist (no DNS rebinding), a same-origin Origin plus a CSRF
token on every POST, the session secret kept in a file of its own, and headers that keep pages from running
anything but our own scripts."""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, request, session

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def csrf_token() -> str:
    """The session's CSRF token, made on first use."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _hostname(host: str) -> str:
    """The name in a Host header or URL netloc, without port or IPv6 brackets, lowercased."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else ""
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def check_host() -> None:
    """A request for any name but ours is refused: a DNS-rebinding page reaches us under its own name."""
    allowed = {_hostname(h) for h in (*LOCAL_HOSTS, *current_app.config.get("ALLOWED_HOSTS", ()))}
    if _hostname(request.headers.get("Host", "")) not in allowed:
        abort(400, description="unknown Host; this server answers only to the names it was started with")


def check_origin() -> None:
    """A POST must come from one of our own pages: its Origin (or, failing that, Referer) is this server."""
    sent = request.headers.get("Origin") or request.headers.get("Referer") or ""
    parts = urlsplit(sent)
    if parts.scheme not in ("http", "https") or parts.netloc.lower() != request.host.lower():
        abort(403, description="cross-origin request refused; use the page's own form or button")


def check_csrf() -> None:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and (request.content_length or 0) > limit:
        abort(413, description=f"request body over {limit // 1024} KB")
    if request.method in SAFE_METHODS:
        return
    check_origin()
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(403, description="missing or wrong CSRF token; reload the page and try again")


def set_headers(response):  # type: ignore[no-untyped-def]
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def secret_key(db_path: str | Path) -> str:
    """The session secret: a file beside the database (mode 0600), made once. KG_SECRET_KEY, if set, is taken
    and removed from the environment, so that no child process can ever inherit it."""
    from_env = os.environ.pop("KG_SECRET_KEY", None)
    if from_env:
        return from_env
    path = Path(db_path).resolve().with_name(Path(db_path).name + ".secret")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    except FileExistsError:
        pass
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd) as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            raise PermissionError(f"{path} is not a regular file of yours; remove it and start the server again")
        if st.st_mode & 0o077:
            os.fchmod(f.fileno(), 0o600)
        key = f.read().strip()
    if len(key) < 32:
        raise ValueError(f"{path} holds no usable secret; remove it and start the server again")
    return key


def init_app(app: Flask) -> None:
    app.before_request(check_host)
    app.before_request(check_csrf)
    app.after_request(set_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
