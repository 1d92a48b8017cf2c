"""The server under attack: foreign Host headers, cross-origin POSTs (in Chromium, from a second local server),
the session secret, error pages that cannot fail, hostile note text and numbers, untrusted experiments, symlinked
run files, and a long run log."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import re
import stat
import threading
import uuid
from pathlib import Path

import pytest
from conftest import KG, kg_env
from hostile_experiments import ATTACKS, GOOD

from bench.server import start_server
from kg import bwrap
from kg.embeddings import FakeEmbedder
from kg.runlog import prune
from kg.store import Store
from kg.trust import trust_folder
from kg.writer import ingest
from web import create_app

CHROMIUM = "/usr/bin/chromium"

NOTE = """---
title: Hostile text
score: .nan
weight: .inf
---
The placeholder WIKILINKTOKEN0X and WIKILINKTOKEN99X sit beside [[Trusted note]] and a link.
"""
NAN_CLAIM = """---
title: A claim with a tolerance of NaN
claims:
  - id: nan-tolerance
    title: "A claim with a tolerance of NaN"
    experiment: good
    params: {scale: .nan}
    prediction: [{metric: value, op: "==", value: 0.5, tolerance: .nan}]
---
Its prediction cannot be checked.
"""


def make_vault(root: Path, canary: Path) -> None:
    (root / "trusted" / "experiments").mkdir(parents=True)
    (root / "trusted" / "experiments" / "good.py").write_text(GOOD)
    (root / "trusted" / "experiments" / "symlinks.py").write_text(ATTACKS["symlinks"])
    (root / "trusted" / "experiments" / "environ.py").write_text(ATTACKS["environ"])
    pred = [{"metric": "value", "op": "between", "value": [0.4, 0.6]}]
    claims = [
        {"id": "good", "title": "Good", "experiment": "good", "prediction": pred, "timeout": 30},
        {"id": "symlinks", "title": "Symlinks", "experiment": "symlinks", "params": {"canary": str(canary)},
         "prediction": [{"metric": "made", "op": ">=", "value": 0}], "timeout": 30},
        {"id": "environ", "title": "Environ", "experiment": "environ",
         "prediction": [{"metric": "secret_named", "op": "==", "value": 0}], "timeout": 30},
    ]  # fmt: skip
    front = json.dumps({"title": "Trusted note", "claims": claims})
    (root / "trusted" / "note.md").write_text(f"---\n{front}\n---\nClaims whose experiments are trusted.\n")
    (root / "stranger" / "experiments").mkdir(parents=True)
    (root / "stranger" / "experiments" / "stranger.py").write_text(GOOD)
    front = json.dumps({"title": "Stranger's note", "claims": [
        {"id": "stranger", "title": "A stranger's claim", "experiment": "stranger", "prediction": pred}]})  # fmt: skip
    (root / "stranger" / "stranger.md").write_text(f"---\n{front}\n---\nA vault from someone else.\n")
    (root / "trusted" / "hostile.md").write_text(NOTE)
    (root / "trusted" / "nan-claim.md").write_text(NAN_CLAIM)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hardening")
    canary = tmp / "canary.txt"
    canary.write_text("CANARY-" + uuid.uuid4().hex)
    make_vault(tmp / "vault", canary)
    db = tmp / "kg.db"
    with Store(db) as s:
        report = ingest(s, [str(tmp / "vault")], FakeEmbedder(), progress=False)
        # Non-finite numbers: stored as null with a warning in a note's properties, refused in a prediction.
        assert [(Path(e["path"]).name, e["line"]) for e in report.errors] == [("nan-claim.md", 3)], report.errors
        assert "tolerance must be a number" in report.errors[0]["error"]
        assert {w["kind"] for w in report.warnings if w["path"].endswith("hostile.md")} == {"non-finite-number"}
        trust_folder(s, tmp / "vault" / "trusted" / "experiments")
    return {"tmp": tmp, "db": db, "canary": canary}


@pytest.fixture(scope="module")
def app(site):
    app = create_app(str(site["db"]), embedder=FakeEmbedder(), RUNS_DIR=str(site["tmp"] / "runs"))
    yield app
    app.extensions["kg_runs"].shutdown()


@pytest.fixture
def client(app):
    return app.test_client()


def token(client) -> str:
    html = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


# -- Host and Origin -------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "evil.example:5000", "127.0.0.1.evil.example", "localhost.", "0"])
def test_a_foreign_host_is_400(client, host):
    r = client.get("/", headers={"Host": host})
    assert r.status_code == 400 and b"unknown Host" in r.data


@pytest.mark.parametrize("host", ["127.0.0.1:5000", "localhost", "LOCALHOST:80", "[::1]:5000"])
def test_local_hosts_are_served(client, host):
    assert client.get("/api/stats", headers={"Host": host}).status_code == 200


def test_names_given_with_host_are_served(site):
    app = create_app(str(site["db"]), embedder=FakeEmbedder(), ALLOWED_HOSTS=["kg.lan"])
    try:
        c = app.test_client()
        assert c.get("/api/stats", headers={"Host": "kg.lan:8000"}).status_code == 200
        assert c.get("/api/stats", headers={"Host": "other.lan"}).status_code == 400
    finally:
        app.extensions["kg_runs"].shutdown()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Origin": "http://127.0.0.1:8001"}, {"Origin": "null"}, {"Origin": "http://localhost.evil.example"},
     {"Referer": "http://127.0.0.1:8001/attack.html"}, {"Origin": "https://localhost:443"}],
)  # fmt: skip
def test_a_post_with_the_right_token_but_another_origin_is_403(client, headers):
    t = token(client)
    r = client.post("/api/claims/claim:good/rerun", headers={"X-CSRF-Token": t, **headers})
    assert r.status_code == 403 and b"cross-origin" in r.data


def test_a_same_origin_referer_is_enough(client, site):
    t = token(client)
    r = client.post("/api/claims/claim:good/rerun", headers={"X-CSRF-Token": t, "Referer": "http://localhost/x"})
    assert r.status_code in (200, 202)
    wait_done(client, r.get_json()["id"])


def test_session_cookie_is_strict_and_http_only(client):
    cookie = client.get("/").headers.get("Set-Cookie", "")
    assert "SameSite=Strict" in cookie and "HttpOnly" in cookie


# -- the secret ----------------------------------------------------------------------------------


def test_the_secret_lives_in_a_0600_file_made_once(site, monkeypatch):
    monkeypatch.delenv("KG_SECRET_KEY", raising=False)
    db = site["tmp"] / "secret-test.db"
    Store(db).close()
    first = create_app(str(db), embedder=FakeEmbedder())
    second = create_app(str(db), embedder=FakeEmbedder())
    for a in (first, second):
        a.extensions["kg_runs"].shutdown()
    path = Path(str(db) + ".secret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == path.read_text().strip()


def test_a_secret_given_in_the_environment_is_taken_out_of_it(site, monkeypatch):
    monkeypatch.setenv("KG_SECRET_KEY", "k" * 64)
    a = create_app(str(site["db"]), embedder=FakeEmbedder())
    a.extensions["kg_runs"].shutdown()
    assert a.config["SECRET_KEY"] == "k" * 64 and "KG_SECRET_KEY" not in os.environ


# -- errors and hostile content ---------------------------------------------------------------------


def test_the_500_handler_cannot_fail(site):
    app = create_app(str(site["db"]), embedder=FakeEmbedder())

    def boom():  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    app.add_url_rule("/boom", "boom", boom)
    app.add_url_rule("/api/boom", "api_boom", boom)
    try:
        c = app.test_client()
        html, js = c.get("/boom"), c.get("/api/boom")
        assert html.status_code == 500 and html.mimetype == "text/html" and b"Traceback" not in html.data
        assert js.status_code == 500 and js.get_json()["status"] == 500
        assert c.get("/boom", headers={"Accept": "application/json"}).get_json()["status"] == 500
        app.jinja_env.globals["csrf_token"] = lambda: 1 / 0  # now even the error page's template fails
        broken = c.get("/boom")
        assert broken.status_code == 500 and b"Internal Server Error" in broken.data
        assert c.get("/nope").status_code == 404
    finally:
        app.extensions["kg_runs"].shutdown()


def test_a_note_holding_the_old_placeholder_renders(client):
    r = client.get("/node/hostile")
    assert r.status_code == 200, r.data[:300]
    html = r.get_data(as_text=True)
    assert "WIKILINKTOKEN0X" in html and "WIKILINKTOKEN99X" in html and 'href="/node/note"' in html


@pytest.mark.parametrize("url", ["/", "/api/home", "/node/hostile", "/graph"])
def test_non_finite_front_matter_does_not_break_pages(client, url):
    assert client.get(url).status_code == 200


def test_kg_verify_reports_a_nan_tolerance_as_an_error(site):
    import subprocess

    # Ingest refused the claim (see the fixture), so there is nothing to run, and verify says so plainly.
    proc = subprocess.run([*KG, "verify", "nan-tolerance", "--db", str(site["db"]), "--json", "--runs-dir",
                           str(site["tmp"] / "runs")], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "no claim 'claim:nan-tolerance'" in proc.stderr


# -- trust, isolation and run files ---------------------------------------------------------------------


def wait_done(client, run_id: str) -> dict:
    import time

    for _ in range(300):
        run = client.get(f"/api/runs/{run_id}").get_json()
        if run["status"] == "done":
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} never ended")


def test_the_web_never_runs_an_untrusted_experiment(client, site):
    page = client.get("/node/claim:stranger").get_data(as_text=True)
    assert 'id="not-trusted"' in page and "kg trust" in page
    r = client.post(
        "/api/claims/claim:stranger/rerun", headers={"X-CSRF-Token": token(client), "Origin": "http://localhost"}
    )
    assert r.status_code == 403 and "not trusted" in r.get_json()["message"]
    with Store(site["db"]) as s:
        assert s.conn.execute("SELECT count(*) FROM runs WHERE claim = 'claim:stranger'").fetchone()[0] == 0
    assert 'id="not-trusted"' not in client.get("/node/claim:good").get_data(as_text=True)


def test_without_bubblewrap_the_web_refuses_runs(client, site, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on the PATH
    bwrap.probe.cache_clear()
    try:
        r = client.post(
            "/api/claims/claim:good/rerun", headers={"X-CSRF-Token": token(client), "Origin": "http://localhost"}
        )
        assert r.status_code == 503 and "bubblewrap is not installed" in r.get_json()["message"]
    finally:
        monkeypatch.undo()
        bwrap.probe.cache_clear()


def test_the_claim_page_says_which_isolation_held(client):
    r = client.post(
        "/api/claims/claim:good/rerun", headers={"X-CSRF-Token": token(client), "Origin": "http://localhost"}
    )
    run = wait_done(client, r.get_json()["id"])
    assert run["verdict"] == "verified" and run["environment"]["isolation"]["bwrap"] is True
    assert "bubblewrap: own pid, net" in client.get("/node/claim:good").get_data(as_text=True)


def test_run_lists_are_paginated(client):
    first = client.get("/api/claims/claim:good/runs?per_page=1").get_json()
    assert first["total"] >= 1 and len(first["runs"]) == 1 and first["page"] == 1
    assert client.get("/api/claims/claim:good/runs?page=999").get_json()["runs"] == []
    assert client.get("/api/claims/claim:good/runs?page=0").status_code == 400


def test_prune_keeps_the_recent_runs_and_every_latest_verdict(tmp_path):
    db = tmp_path / "kg.db"
    runs_dir = tmp_path / "runs"
    with Store(db) as s, s.transaction() as conn:
        for i in range(30):  # claim a: 30 finished runs
            row = (f"{i:016x}", f"2026-01-01T00:00:{i:02d}")
            conn.execute("INSERT INTO runs (id, claim, experiment, status, verdict, created_at) VALUES "
                         "(?, 'claim:a', 'e', 'done', 'verified', ?)", row)  # fmt: skip
            (runs_dir / f"{i:016x}").mkdir(parents=True)
        conn.execute("INSERT INTO runs (id, claim, experiment, status, verdict, created_at) VALUES "
                     "('b000000000000000', 'claim:b', 'e', 'done', 'refuted', '2026-01-01T00:00:00')")  # fmt: skip
        for i in range(8):  # claim b: newer runs that never finished
            conn.execute("INSERT INTO runs (id, claim, experiment, status, created_at) VALUES "
                         "(?, 'claim:b', 'e', 'running', ?)", (f"b{i:015x}1", f"2026-01-02T00:00:0{i}"))  # fmt: skip
    import subprocess

    out = subprocess.run([*KG, "runs", "prune", "--keep", "5", "--db", str(db), "--json"], capture_output=True,
                         text=True, timeout=60, check=True)  # fmt: skip
    data = json.loads(out.stdout)
    assert data["removed"] == 25 and data["folders"] == 25
    with Store(db) as s:
        left = {r[0] for r in s.conn.execute("SELECT id FROM runs WHERE claim = 'claim:a'")}
        assert left == {f"{i:016x}" for i in range(25, 30)}
        assert s.conn.execute("SELECT verdict FROM runs WHERE id = 'b000000000000000'").fetchone() == ("refuted",)
        assert prune(s, runs_dir, keep=5)["removed"] == 0
    assert sorted(p.name for p in runs_dir.iterdir()) == sorted(left)


# -- the real server ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(site):
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "KG_EMBEDDER": "fake"}
    proc, base = start_server(site["db"], env)
    yield base
    proc.terminate()
    proc.wait(timeout=10)


def raw_get(base: str, path: str, host: str) -> int:
    u = base.removeprefix("http://")
    conn = http.client.HTTPConnection(*u.split(":"), timeout=10)
    conn.request("GET", path, headers={"Host": host})
    return conn.getresponse().status


@pytest.mark.skipif(bwrap.probe() is not None, reason="no sandbox here")
def test_kg_serve_refuses_a_foreign_host(served):
    port = served.rsplit(":", 1)[1]
    assert raw_get(served, "/api/stats", f"rebind.example:{port}") == 400
    assert raw_get(served, "/api/stats", f"127.0.0.1:{port}") == 200


def post_rerun(base: str, claim: str) -> dict:
    import http.cookiejar
    import urllib.request

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(base + "/").read().decode()
    t = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    req = urllib.request.Request(f"{base}/api/claims/{claim}/rerun", method="POST",
                                 headers={"X-CSRF-Token": t, "Origin": base})  # fmt: skip
    run_id = json.loads(opener.open(req).read())["id"]
    import time

    for _ in range(300):
        run = json.loads(opener.open(f"{base}/api/runs/{run_id}").read())
        if run["status"] == "done":
            return run
        time.sleep(0.2)
    raise AssertionError("run never ended")


@pytest.mark.skipif(bwrap.probe() is not None, reason="no sandbox here")
def test_kg_serve_never_serves_a_symlinked_log_or_plot(served, site):
    import urllib.error
    import urllib.request

    run = post_rerun(served, "claim:symlinks")
    body = urllib.request.urlopen(f"{served}/api/runs/{run['id']}").read().decode()
    assert site["canary"].read_text() not in body and run["metrics"]["made"] == 3
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{served}/runs/{run['id']}/evil.png")
    assert err.value.code == 404
    good = post_rerun(served, "claim:good")
    assert good["verdict"] == "verified"
    assert urllib.request.urlopen(f"{served}/runs/{good['id']}/good.png").read() == b"\x89PNG good"


@pytest.mark.skipif(bwrap.probe() is not None, reason="no sandbox here")
def test_kg_serve_secret_never_reaches_a_run(served, site):
    run = post_rerun(served, "claim:environ")
    assert run["verdict"] == "verified"
    secret = Path(str(site["db"]) + ".secret").read_text().strip().encode()
    folder = site["tmp"] / "runs" / run["id"]
    assert (folder / "dump.txt").exists()
    for p in folder.rglob("*"):
        if p.is_file() and not p.is_symlink():
            assert secret not in p.read_bytes(), p


@pytest.mark.slow
@pytest.mark.skipif(bwrap.probe() is not None, reason="no sandbox here")
def test_a_cross_origin_form_post_from_another_local_server_fails_in_chromium(served, site):
    """The attacker's page, on another port of the same host, holds the victim's real token (the worst case) and
    auto-submits a form to the rerun route. Chromium sends the session cookie (same site) and the token, and
    the server still refuses, by Origin; the page's own Rerun button still works."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make browser` installs Debian's chromium")
    pages: dict[str, bytes] = {}

    class Attack(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    attacker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Attack)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    evil = f"http://127.0.0.1:{attacker.server_address[1]}"
    with Store(site["db"]) as s:
        before = s.conn.execute("SELECT count(*) FROM runs WHERE claim = 'claim:good'").fetchone()[0]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox",
                                        "--disable-gpu", "--no-first-run", "--disable-sync"])  # fmt: skip
            page = browser.new_page()
            page.goto(served + "/node/claim:good")
            t = page.locator('meta[name="csrf-token"]').get_attribute("content")
            pages["/attack.html"] = (
                f'<form id="f" method="POST" action="{served}/api/claims/claim:good/rerun">'
                f'<input name="csrf_token" value="{t}"></form><script>document.getElementById("f").submit()</script>'
            ).encode()
            with page.expect_response(lambda r: "/rerun" in r.url) as resp:
                page.goto(evil + "/attack.html")
            assert resp.value.status == 403
            assert resp.value.request.headers.get("origin") == evil
            with Store(site["db"]) as s:
                assert s.conn.execute("SELECT count(*) FROM runs WHERE claim = 'claim:good'").fetchone()[0] == before
            page.goto(served + "/node/claim:good")
            page.click("#rerun")
            page.wait_for_selector("#verdict[data-verdict]", timeout=90000)
            assert page.locator("#verdict").get_attribute("data-verdict") == "verified"
            browser.close()
    finally:
        attacker.shutdown()
    with Store(site["db"]) as s:
        assert s.conn.execute("SELECT count(*) FROM runs WHERE claim = 'claim:good'").fetchone()[0] == before + 1


def test_kg_serve_help_names_the_new_flags():
    import subprocess

    out = subprocess.run([*KG, "serve", "--help"], capture_output=True, text=True, timeout=60, env=kg_env()).stdout
    assert "--unsafe-no-sandbox" in out and "--allow-host" in out
