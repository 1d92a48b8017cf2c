"""The app in real headless Chromium, against `kg serve` on a corpus ingested with the real model.

Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import DATA, KG, ROOT
from xss_payloads import PAYLOADS, make_payload_vault

from bench.server import start_server

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make browser` installs Debian's chromium")
    tmp = tmp_path_factory.mktemp("web")
    db = tmp / "kg.db"
    make_payload_vault(tmp / "payloads")
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    ingest = subprocess.run(
        [*KG, "ingest", str(ROOT / "data"), str(DATA / "xss"), str(tmp / "payloads"), "--db", str(db), "--json"],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert ingest.returncode == 0, ingest.stdout[-2000:] + ingest.stderr[-2000:]
    proc, base = start_server(db, env)
    yield base
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"],
        )  # fmt: skip
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    yield pg
    ctx.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def test_home_page(server, page):
    page.goto(server + "/")
    assert page.locator("h1").inner_text() == "A map of learning mechanics"
    assert page.locator(".strand").count() == 5
    assert page.locator(".community").count() >= 3
    shot(page, "home")


def test_note_page_sections(server, page):
    page.goto(server + "/node/learning-mechanics")
    assert page.locator("#title").inner_text() == "Can deep learning theory unify around training dynamics?"
    assert page.locator("#dek").is_visible()
    assert page.locator("#inquiries li").count() >= 8
    assert page.locator("#related .cards > li").count() >= 4
    assert page.locator("#related .relation .label").first.inner_text()
    assert page.locator("#related-papers li").count() >= 8
    assert page.locator("#original p").inner_text()
    assert page.locator("#backlinks li").count() >= 1
    assert page.locator("#sources li").count() >= 8
    page.wait_for_selector("#graph[data-state=ready]", timeout=20000)
    shot(page, "note")


def test_click_a_neighbour_walks_the_graph(server, page):
    page.goto(server + "/node/learning-mechanics")
    page.wait_for_selector("#graph[data-state=ready]", timeout=20000)
    page.locator("#graph").scroll_into_view_if_needed()
    target = page.evaluate(
        "() => kgGraph.nodes.getIds().find(id => id !== kgGraph.centre && kgGraph.nodes.get(id).kind === 'concept')"
    )
    pos = page.evaluate("(id) => kgGraph.domPosition(id)", target)
    page.mouse.click(pos["x"], pos["y"])
    page.wait_for_function("(id) => kgGraph.centre === id", arg=target, timeout=10000)
    page.wait_for_selector("#graph[data-state=ready]", timeout=20000)
    assert page.evaluate("() => kgGraph.nodes.get(kgGraph.centre).borderWidth") == 3
    shot(page, "walked")
    page.locator("#graph").scroll_into_view_if_needed()
    page.mouse.move(5, 5)  # away from the graph, so no hover state carries into the next click
    pos = page.evaluate("(id) => kgGraph.domPosition(id)", target)
    page.mouse.click(pos["x"], pos["y"])
    page.wait_for_url(f"**/node/{target}", timeout=20000)
    assert page.locator("article").get_attribute("data-node") == target


def test_hover_preview(server, page):
    page.goto(server + "/node/learning-mechanics")
    link = page.locator("#body a.wikilink").first
    link.hover()
    page.wait_for_selector("#preview:not([hidden])", timeout=5000)
    assert page.locator("#preview strong").inner_text()


def test_search_then_open_a_paper(server, page):
    page.goto(server + "/")
    page.fill("header input[name=q]", "sharpness rises to two over the learning rate")
    page.keyboard.press("Enter")
    page.wait_for_selector("#results li")
    assert page.locator("#results mark").count() >= 1
    shot(page, "search")
    page.locator("#related-papers a").first.click()
    page.wait_for_selector("#paper")
    assert page.locator("article").get_attribute("data-node").startswith(("arxiv:", "doi:", "paper:"))
    shot(page, "paper")


def test_full_graph_page(server, page):
    page.goto(server + "/graph")
    page.wait_for_selector("#fullgraph[data-state=ready]", timeout=30000)
    assert "Showing" in page.locator("#graph-status").inner_text()
    shot(page, "fullgraph")


def test_no_xss_payload_fires(server, page):
    urls = ["/node/xss-note", "/node/xss-other", "/search?q=quiescent+payload+garden", "/graph?focus=xss-note",
            "/node/tag:safe", "/api/node/xss-note"]  # fmt: skip
    for url in urls:
        page.goto(server + url)
        page.wait_for_load_state("networkidle")
        if url == "/node/xss-note":
            page.wait_for_selector("#graph[data-state=ready]", timeout=20000)
            page.locator("#body a.wikilink").first.hover()
            page.wait_for_timeout(400)
        assert page.evaluate("() => window.__xss") is None, url
    assert page.dialogs == []  # type: ignore[attr-defined]
    page.goto(server + "/node/xss-note")
    shot(page, "xss")


def test_rerun_from_the_browser(server, page):
    page.goto(server + "/node/claim:marchenko-pastur-universality")
    page.click("#rerun")
    page.wait_for_selector("#verdict[data-verdict]", timeout=90000)
    assert page.locator("#verdict").get_attribute("data-verdict") == "verified"
    assert "done" in page.locator("#run-status").inner_text()
    shot(page, "rerun")


def test_stored_payloads_never_fire_in_chromium(server, page):
    """Each of the 35 payloads sits in every rendered field of its own note; none may run."""
    assert len(PAYLOADS) >= 30
    urls = [f"/node/payload-{i:02d}" for i in range(len(PAYLOADS))]
    urls += ["/search?q=quiescent+payloads", "/graph?focus=payload-00", "/node/claim:payload-claim-3"]
    for url in urls:
        page.goto(server + url)
        page.wait_for_load_state("networkidle")
        for link in page.locator("#body a.wikilink").all()[:2]:
            link.hover()
        assert page.evaluate("() => window.__xss") is None, url
    assert page.dialogs == [], page.dialogs  # type: ignore[attr-defined]
