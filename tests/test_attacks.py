"""The attack suite, server side: stored and reflected XSS, CSRF on every POST, path traversal, and
oversized or malformed requests. The browser half (payloads that must not fire) is in test_browser.py."""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from xss_payloads import PAYLOADS, make_payload_vault

from kg.embeddings import FakeEmbedder
from kg.store import Store
from kg.writer import ingest
from web import create_app

# Tags that run or load something by themselves; any other tag is only dangerous with an on* attribute.
DANGEROUS_TAGS = {"script", "iframe", "object", "embed", "svg", "math", "base", "style", "frame", "applet", "link"}
BAD_SCHEME = re.compile(r"^\s*(javascript|vbscript|data):", re.I)


class Audit(HTMLParser):
    """Collects every piece of markup that could run script."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script" and not (a.get("src") or "").startswith("/static/"):
            self.problems.append(f"<script> {attrs}")
        elif tag == "link" and not (a.get("href") or "").startswith("/static/"):
            self.problems.append(f"<link> {attrs}")
        elif tag in DANGEROUS_TAGS - {"script", "link"}:
            self.problems.append(f"<{tag}>")
        if tag == "meta" and "http-equiv" in a:
            self.problems.append(f"<meta http-equiv> {attrs}")
        if tag == "form" and not (a.get("action") or "/").startswith("/"):
            self.problems.append(f"<form action> {attrs}")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            if name in ("href", "src", "action", "data", "formaction") and value and BAD_SCHEME.match(value):
                self.problems.append(f"<{tag} {name}={value[:40]}>")
            if name == "style" and value and ("url(" in value or "expression(" in value):
                self.problems.append(f"<{tag} style={value[:40]}>")


def audit(html: str) -> list[str]:
    a = Audit()
    a.feed(html)
    return a.problems


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("attacks")
    make_payload_vault(root / "vault")
    db = root / "kg.db"
    with Store(db) as s:
        report = ingest(s, [str(root / "vault")], FakeEmbedder(), progress=False)
        assert report.errors == [], report.errors[:3]
    app = create_app(str(db), embedder=FakeEmbedder(), RUNS_DIR=str(root / "runs"))
    app.config["ROOT"] = root
    yield app
    app.extensions["kg_runs"].shutdown()


@pytest.fixture
def client(app):
    c = app.test_client()
    c.environ_base["HTTP_ORIGIN"] = "http://localhost"  # same-origin, so the token is what is tested
    return c


def every_page(client) -> list[str]:
    with Store(client.application.config["DB_PATH"]) as s:
        ids = [r[0] for r in s.conn.execute("SELECT id FROM nodes ORDER BY id")]
    return ["/", "/graph", "/search?q=quiescent+payloads"] + [
        "/node/" + "/".join(__import__("urllib.parse").parse.quote(part, safe=":") for part in i.split("/"))
        for i in ids
    ]


def test_payload_count():
    assert len(PAYLOADS) >= 30


def test_stored_payloads_render_inert_on_every_page(client):
    pages = every_page(client)
    assert len(pages) > 3 * len(PAYLOADS)
    for url in pages:
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)
        problems = audit(r.get_data(as_text=True))
        assert problems == [], (url, problems[:5])


def test_template_syntax_in_notes_is_not_evaluated(client):
    html = client.get("/node/payload-24").get_data(as_text=True)
    html = re.sub(r'<meta name="csrf-token" content="[^"]*">', "", html)  # a random token may hold "49"
    html = re.sub(r'(?:src|href)="/static/[^"]*"', "", html)  # static URLs carry content hashes
    html = re.sub(r"\d{4}-\d\d-\d\dT[0-9:.+]+", "", html)  # timestamps (07:49) may hold "49" too
    assert "{{7*7}}" in html and "49" not in html


@pytest.mark.parametrize("payload", PAYLOADS)
def test_reflected_payloads_are_escaped(client, payload):
    from urllib.parse import quote

    for url in (f"/search?q={quote(payload)}", f"/node/{quote(payload, safe='')}", f"/graph?tag={quote(payload)}",
                f"/search?q=a&kind={quote(payload)}", f"/nope/{quote(payload, safe='')}"):  # fmt: skip
        r = client.get(url)
        assert r.status_code < 500, url
        if r.mimetype == "text/html":
            assert audit(r.get_data(as_text=True)) == [], url


def test_json_is_never_served_as_html(client):
    for url in ("/api/node/payload-01", "/api/search?q=%3Cscript%3E", "/api/node/%3Cscript%3E"):
        r = client.get(url)
        assert r.mimetype == "application/json" and r.headers["X-Content-Type-Options"] == "nosniff"


def test_every_post_route_needs_csrf(client):
    posts = [rule for rule in client.application.url_map.iter_rules() if "POST" in (rule.methods or set())]
    assert posts, "expected at least the rerun route"
    for rule in posts:
        url = re.sub(r"<[^>]+>", "claim:payload-claim-1", rule.rule)
        assert client.post(url).status_code == 403, url
        assert client.post(url, headers={"X-CSRF-Token": "guess"}).status_code == 403, url
        assert client.post(url, data={"csrf_token": ""}).status_code == 403, url


def test_get_never_changes_state(client):
    for rule in client.application.url_map.iter_rules():
        if "rerun" in rule.rule:
            assert "GET" not in (rule.methods or set())


TRAVERSALS = [
    "/static/../kg.db", "/static/%2e%2e/%2e%2e/kg.db", "/static/..%2f..%2fkg.db", "/static//etc/passwd",
    "/static/%2fetc%2fpasswd", "/static/vendor/../../../../etc/passwd", "/runs/../kg.db",
    "/runs/0123456789abcdef/../../kg.db", "/runs/0123456789abcdef/..%2f..%2fkg.db", "/runs/0123456789abcdef/%2e%2e",
    "/runs/0123456789abcdef//etc/passwd", "/runs/0123456789abcdef/%2fetc%2fpasswd.png", "/runs/%2e%2e/x.png",
    "/static/vendor/vis-network-9.1.2.min.js/../../../../kg.db",
]  # fmt: skip


@pytest.mark.parametrize("url", TRAVERSALS)
def test_path_traversal_is_refused(client, url):
    r = client.get(url, follow_redirects=True)  # werkzeug folds '//' with a redirect inside the site
    assert r.status_code in (400, 404), (url, r.status_code)
    assert b"SQLite format" not in r.data and b"root:" not in r.data


def test_symlinked_artefact_is_refused(client, app):
    with Store(app.config["DB_PATH"]) as s:
        run_id = "00000000000000aa"
        s.conn.execute(
            "INSERT INTO runs (id, claim, experiment, status, verdict, artefacts, created_at) "
            "VALUES (?, 'claim:payload-claim-1', 'experiment:payload_exp', 'done', 'verified', ?, 'now')",
            (run_id, json.dumps(["evil.png", "real.png"])),
        )
    folder = Path(app.config["RUNS_DIR"]) / run_id
    folder.mkdir(parents=True, exist_ok=True)
    os.symlink("/etc/hostname", folder / "evil.png")
    (folder / "real.png").write_bytes(b"\x89PNG fake")
    assert client.get(f"/runs/{run_id}/evil.png").status_code == 404
    assert client.get(f"/runs/{run_id}/real.png").status_code == 200
    assert client.get(f"/runs/{run_id}/other.png").status_code == 404  # not a recorded artefact


MALFORMED = [
    ("GET", "/node/" + "a" * 5000, None), ("GET", "/search?q=" + "x" * 5000, None),
    ("GET", "/api/graph/x?depth=1e9", None),
    ("GET", "/api/search?q=%ff%fe", None), ("GET", "/node/%ff", None), ("GET", "/api/graph?limit=abc", None),
    ("DELETE", "/node/payload-01", None), ("PUT", "/api/claims/claim:x/rerun", None), ("POST", "/", b"{bad json"),
    ("GET", "/api/graph/payload-01?depth=3&max=100000", None), ("GET", "/search?q=a&limit=0", None),
]  # fmt: skip


@pytest.mark.parametrize("method,url,body", MALFORMED)
def test_malformed_requests_get_4xx_not_500(client, method, url, body):
    r = client.open(url, method=method, data=body)
    assert 200 <= r.status_code < 500, (method, url, r.status_code)
    assert b"Traceback" not in r.data


def test_oversized_body_is_413(client):
    r = client.post("/api/claims/claim:payload-claim-1/rerun", data=b"x" * (1 << 20))
    assert r.status_code == 413
