"""The web app through Flask's test client on a real SQLite file: pages, JSON twins, errors, CSRF, reruns."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest
from conftest import DATA

from kg.embeddings import FakeEmbedder
from kg.store import Store
from kg.trust import trust_folder
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
        trust_folder(s, src / "runs_vault" / "experiments")
    app = create_app(str(db), embedder=FakeEmbedder(), RUNS_DIR=str(tmp_path / "runs"))
    yield app
    app.extensions["kg_runs"].shutdown()


@pytest.fixture
def client(app):
    c = app.test_client()
    c.environ_base["HTTP_ORIGIN"] = "http://localhost"  # what a browser sends with a same-origin POST
    return c


def token(client) -> str:
    html = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


PAGES = ["/", "/node/alpha", "/node/tag:topic/kernels", "/node/arxiv:1806.07572", "/node/claim:toy-square",
         "/node/experiment:toy_square", "/node/inquiry-one", "/node/Missing%20Note", "/search?q=kernel", "/graph",
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


def test_a_plain_vault_gets_no_sections_for_material_it_lacks(tmp_path: Path):
    """A vault of plain notes (no inquiries, typed relations or papers) shows no empty sections for them; once the
    store holds a paper, every note's page shows its (possibly empty) related papers again."""
    vault = tmp_path / "plain"
    vault.mkdir()
    (vault / "One.md").write_text("The first note links [[Two]].\n")
    (vault / "Two.md").write_text("The second note.\n")
    db = tmp_path / "kg.db"
    with Store(db) as s:
        assert ingest(s, [str(vault)], FakeEmbedder(), progress=False).errors == []
    client = create_app(str(db), embedder=FakeEmbedder()).test_client()
    html = client.get("/node/One").get_data(as_text=True)
    for absent in ("inquiries", "related", "related-papers"):
        assert f'id="{absent}"' not in html, absent
    assert 'id="neighbourhood"' in html and 'id="backlinks"' in html
    (vault / "refs.bib").write_text("@article{k1, title={A paper}, author={Doe, Jane}, year={2020}}\n")
    with Store(db) as s:
        assert ingest(s, [str(vault)], FakeEmbedder(), progress=False).errors == []
    html = client.get("/node/One").get_data(as_text=True)
    assert 'id="related-papers"' in html and 'id="inquiries"' not in html


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


# -- pages as a reader sees them: relations, the map, math and Obsidian Markdown, files, static assets ------------


def test_related_concepts_have_no_duplicate_rows_or_labels(app):
    from web.views import related_rows

    e = {"weight": 1.0}
    out_edges = [
        {**e, "source": "alpha", "target": "beta", "label": "extends", "context": "extends: beta carries it"},
        {**e, "source": "alpha", "target": "beta", "label": "extends:", "context": "extends: beta carries it"},
        {**e, "source": "alpha", "target": "beta", "label": "refines", "context": "a second sentence"},
        {**e, "source": "alpha", "target": "delta", "label": "contrasts", "context": "delta argues the other way"},
    ]
    in_edges = [{**e, "source": "beta", "target": "alpha", "label": "extends", "context": "from beta's side"}]
    with app.app_context():
        from web.db import get_store

        rows = related_rows(get_store(), out_edges, in_edges)
    assert [r["id"] for r in rows] == ["beta", "delta"]  # one row per neighbour, the stronger first
    beta = rows[0]
    assert beta["labels"] == ["extends", "refines"]
    assert [(x["label"], x["text"]) for x in beta["links"]] == [
        ("extends", "beta carries it"), ("refines", "a second sentence"), ("extends", "from beta's side"),
    ]  # fmt: skip
    assert all(not x["text"].startswith("extends:") for x in beta["links"])


def test_related_rows_on_the_page_are_unique(client):
    html = client.get("/node/alpha").get_data(as_text=True)
    ids = re.findall(r'class="related-row" data-id="([^"]+)"', html)
    assert ids and len(ids) == len(set(ids))


def test_cited_papers_come_first(client):
    data = client.get("/api/node/alpha").get_json()
    papers = data["related_papers"]
    cited = [p for p in papers if p["cited"]]
    assert {p["id"] for p in cited} >= {"arxiv:1806.07572"}
    assert papers[: len(cited)] == cited  # cited first, then by cosine


def test_map_json_counts_what_it_leaves_out(client):
    g = client.get("/api/graph/alpha?max=5").get_json()
    assert len(g["nodes"]) == 5 == g["graph"]["shown"]
    left = g["graph"]["left_out"]
    assert left and sum(left.values()) > 0
    group = next(iter(left))
    more = client.get(f"/api/graph/alpha?max=5&more={group}").get_json()
    assert len(more["nodes"]) > 5 and group not in more["graph"]["left_out"]
    deeper = client.get("/api/graph/alpha?max=5&depth=2").get_json()
    assert {n["id"] for n in g["nodes"]} <= {n["id"] for n in deeper["nodes"]}  # depth 2 grows from what is shown


def test_markdown_keeps_math_and_renders_obsidian_syntax():
    from web.render import Links, render_markdown

    text = (
        "Let $x_i * y_j$ and $$a_1*b_2$$ hold, with \\(z_k\\).\n\n"
        "\\begin{align}\na_1 &= b_2 \\\\\nc &= d\n\\end{align}\n\n"
        "> [!tip]- Folded\n> inside\n\n"
        "==bright== text %%secret%% and #topic/x\n\n- [x] done\n\nNote[^1]\n\n[^1]: foot\n\n"
        "```python\nx = 1\n```\n"
    )
    html = render_markdown(text, Links(lambda name: None))
    assert '<span class="math inline">x_i * y_j</span>' in html
    assert '<span class="math display">a_1*b_2</span>' in html and "z_k" in html
    assert "a_1 &amp;= b_2 \\\\" in html  # the row break survives
    assert '<details class="callout callout-tip">' in html and "<summary" in html
    assert "<mark>bright</mark>" in html and "secret" not in html
    assert 'href="/node/tag:topic/x"' in html
    assert 'type="checkbox"' in html and 'class="footnotes"' in html
    assert '<span class="k">' not in html or "highlight" not in html
    assert '<span class="n">x</span>' in html  # Pygments


def test_embeds_go_one_level_deep():
    from web.render import Links, Target, render_markdown

    bodies = {"a": "A says ![[b]]", "b": "B says ![[a]]"}
    targets = {k: Target(k, "concept", k.upper()) for k in bodies}

    def links(depth: int) -> Links:
        def embed(t: Target, heading: str) -> str | None:
            return None if depth >= 1 else render_markdown(bodies[t.id], links(depth + 1))

        return Links(targets.get, embed)

    html = render_markdown(bodies["a"], links(0))
    assert html.count('class="embed"') == 1 and "B says" in html
    assert 'class="wikilink embed"' in html  # the inner embed is a link, not another copy


def test_attachments_are_served_from_the_vault_root_only(app, client, tmp_path):
    root = tmp_path / "vault"
    (root / "img").mkdir()
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 32
    (root / "img" / "plot.png").write_bytes(png)
    secret = tmp_path / "secret.txt"
    secret.write_text("keep out")
    (root / "img" / "link.png").symlink_to(secret)
    with Store(app.config["DB_PATH"]) as s:
        for nid, path in (("img/plot.png", "img/plot.png"), ("up", "../secret.txt"), ("link", "img/link.png")):
            s.conn.execute(
                "INSERT INTO nodes (id, kind, title, root, path, hash, meta, created_at, updated_at) "
                "VALUES (?, 'attachment', ?, ?, ?, '', ?, '', '')",
                (nid, nid, str(root), path, json.dumps({"mime": "image/png"})),
            )
    r = client.get("/file/img/plot.png")
    assert r.status_code == 200 and r.data == png and r.mimetype == "image/png"
    for bad in ("/file/up", "/file/link", "/file/alpha", "/file/nope"):
        assert client.get(bad).status_code == 404, bad


def test_static_files_are_hashed_compressed_and_long_lived(client):
    html = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert html.headers.get("Content-Encoding") == "gzip"
    page = client.get("/").get_data(as_text=True)
    css = re.search(r'href="(/static/app\.css\?v=[0-9a-f]{10})"', page).group(1)
    r = client.get(css)
    assert r.status_code == 200 and "max-age=31536000" in r.headers["Cache-Control"]
    assert 'href="#main"' in page and 'id="main"' in page  # skip link and its target
    assert client.get("/favicon.ico").status_code == 301
    assert "katex.min.js" in page


def test_full_graph_layout_is_cached_in_the_store(app, client):
    data = client.get("/api/graph").get_json()
    assert data["edges"] and all(len(e) == 3 for e in data["edges"])
    assert len({n["color"] for n in data["nodes"]}) >= 2  # Louvain communities as colours
    with Store(app.config["DB_PATH"]) as s:
        keys = [k for (k,) in s.conn.execute("SELECT key FROM settings WHERE key LIKE 'layout:%'")]
        assert keys == [f"layout:{s.generation()}"]


def test_snippets_render_wikilinks_as_text_and_balance_math():
    from web.text import mark_html

    html = str(mark_html("see [[Gradient flow|the flow]] with $x_i$ and a cut $\\frac{1}{2", [[4, 30]]))
    assert "[[" not in html and "<mark>the flow</mark>" in html
    assert html.count("$") == 2  # the cut-off formula is dropped, the whole one kept
