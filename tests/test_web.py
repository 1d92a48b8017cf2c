"""The web app through Flask's test client on a real SQLite file: pages, JSON twins, errors, CSRF, reruns."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from conftest import DATA

from kg.embeddings import FakeEmbedder
from kg.store import Store
from kg.writer import ingest
from web import create_app


@pytest.fixture
def app(tmp_path: Path):
    src = tmp_path / "vault"
    shutil.copytree(DATA / "vault", src)
    shutil.copytree(DATA / "runs_vault", src / "runs_vault")
    (src / "runs_vault" / "claims.md").rename(src / "runs_vault" / "bad-claims.md")
    db = tmp_path / "kg.db"
    with Store(db) as s:
        assert ingest(s, [str(src)], FakeEmbedder(), progress=False).errors == []
    app = create_app(str(db), embedder=FakeEmbedder(), RUNS_DIR=str(tmp_path / "runs"))
    yield app
    app.extensions["kg_runs"].shutdown()


@pytest.fixture
def client(app):
    return app.test_client()


def token(client) -> str:
    html = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


PAGES = ["/", "/node/alpha", "/node/tag:topic/kernels", "/node/arxiv:1806.07572", "/node/claim:toy-square",
         "/node/experiment:toy_square", "/node/inquiry-one", "/node/missing-note", "/search?q=kernel", "/graph",
         "/search?q=alpha&kind=concept"]  # fmt: skip


@pytest.mark.parametrize("url", PAGES)
def test_pages_render(client, url):
    r = client.get(url)
    assert r.status_code == 200, r.data[:300]
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]


def test_note_page_has_the_seed_sections(client):
    html = client.get("/node/alpha").get_data(as_text=True)
    for section in ("inquiries", "related", "neighbourhood", "related-papers", "backlinks", "mentions", "original"):
        assert f'id="{section}"' in html, section
    assert "alpha comes first" in html  # the original claim title
    assert "contrasts" in html and "delta argues the other way" in html  # relation label and its sentence
    assert 'class="wikilink unresolved"' in html  # [[Missing Note]]
    assert 'href="/node/beta"' in html


def test_json_twins_come_from_the_same_view(client):
    page = client.get("/node/alpha").get_data(as_text=True)
    data = client.get("/api/node/alpha").get_json()
    assert data["node"]["title"] in page
    assert sorted(lab for r in data["related"] for lab in r["labels"]) == ["contrasts", "extends"]
    assert data["inquiries"][0]["id"] == "inquiry-one"
    stats = client.get("/api/stats").get_json()
    assert stats["nodes"]["concept"] >= 6
    hits = client.get("/api/search?q=squares&kind=claim").get_json()
    assert hits["results"][0]["id"] == "claim:toy-square"
    rel = client.get("/api/related/alpha?kind=paper").get_json()
    assert rel and {r["kind"] for r in rel} == {"paper"}
    g = client.get("/api/graph/alpha?depth=2").get_json()
    assert g["graph"]["centre"] == "alpha" and {"nodes", "links"} <= set(g)
    assert {n["id"] for n in g["nodes"]} >= {"alpha", "beta", "delta"}


def test_full_graph_filters(client):
    everything = client.get("/api/graph").get_json()
    concepts = client.get("/api/graph?kind=concept").get_json()
    assert {n["kind"] for n in concepts["nodes"]} == {"concept"}
    assert concepts["total"] < everything["total"]
    strand = client.get("/api/graph?strand=tractable-limits").get_json()
    assert [n["id"] for n in strand["nodes"]] == ["beta"]
    tagged = client.get("/api/graph?tag=topic/kernels").get_json()
    assert {n["id"] for n in tagged["nodes"]} == {"alpha", "delta", "tag:topic/kernels"}
    rel = client.get("/api/graph?relation=contrasts").get_json()
    assert {n["id"] for n in rel["nodes"]} == {"alpha", "delta"}
    small = client.get("/api/graph?limit=10").get_json()
    assert small["sampled"] is True and small["shown"] == 10 and small["total"] > 10


@pytest.mark.parametrize(
    "url,code",
    [("/node/nope", 404), ("/api/node/nope", 404), ("/api/graph/alpha?depth=0", 400), ("/api/graph/alpha?depth=x", 400),
     ("/api/search?q=a&kind=planet", 400), ("/api/search?limit=-3&q=a", 400), ("/runs/../../etc/passwd", 404),
     ("/runs/0123456789abcdef/..%2f..%2fkg.db", 404), ("/api/runs/zzz", 404), ("/static/../kg.db", 404)],
)  # fmt: skip
def test_errors_are_4xx_without_traceback(client, url, code):
    r = client.get(url)
    assert r.status_code == code
    assert b"Traceback" not in r.data


def test_404_page_is_html_and_escapes_the_id(client):
    r = client.get("/node/<script>alert(1)</script>")
    assert r.status_code == 404 and b"<script>alert(1)" not in r.data and b"&lt;script&gt;" in r.data


def test_rerun_needs_csrf(client):
    assert client.post("/api/claims/claim:slow/rerun").status_code == 403
    assert client.post("/api/claims/claim:slow/rerun", headers={"X-CSRF-Token": "forged"}).status_code == 403


def test_rerun_runs_in_background_and_joins(client):
    t = token(client)
    first = client.post("/api/claims/claim:slow/rerun", headers={"X-CSRF-Token": t})
    assert first.status_code == 202
    second = client.post("/api/claims/claim:slow/rerun", headers={"X-CSRF-Token": t})
    assert second.status_code == 200 and second.get_json() == {**second.get_json(), "joined": True}
    assert second.get_json()["id"] == first.get_json()["id"]
    assert client.get("/").status_code == 200  # the server keeps serving while it runs
    run_id = first.get_json()["id"]
    for _ in range(100):
        run = client.get(f"/api/runs/{run_id}").get_json()
        if run["status"] == "done":
            break
        time.sleep(0.2)
    assert run["verdict"] == "verified"
    png = client.get(f"/runs/{run_id}/slow.png")
    assert png.status_code == 200 and png.data[:4] == b"\x89PNG"
    page = client.get("/node/claim:slow").get_data(as_text=True)
    assert "verdict-verified" in page and f"/runs/{run_id}/slow.png" in page


def test_bad_experiment_does_not_block_the_server(client):
    t = token(client)
    client.post("/api/claims/claim:hangs/rerun", headers={"X-CSRF-Token": t})
    t0 = time.monotonic()
    for url in ("/", "/node/alpha", "/api/graph/alpha"):
        assert client.get(url).status_code == 200
    assert time.monotonic() - t0 < 5


def test_rerun_of_unknown_claim_is_404(client):
    r = client.post("/api/claims/claim:nope/rerun", headers={"X-CSRF-Token": token(client)})
    assert r.status_code == 404


def test_claim_without_runs_shows_an_honest_empty_state(client):
    html = client.get("/node/claim:toy-square").get_data(as_text=True)
    assert "has not been run on this machine yet" in html and "not yet run" in html


def test_oversized_request_is_413(client):
    r = client.post("/api/claims/claim:slow/rerun", data=b"x" * 200_000, headers={"X-CSRF-Token": token(client)})
    assert r.status_code == 413
