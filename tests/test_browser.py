"""The app in real headless Chromium, against `kg serve` on a corpus ingested with the real model.

Pages are checked at 1280 and 390 px on the starter corpus and on a math-heavy fixture vault
(tests/data/mathvault). Screenshots of each page type go to docs/screenshots/.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import DATA, KG, ROOT
from xss_payloads import PAYLOADS, make_payload_vault

import web.text
from bench.server import start_server

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "docs" / "screenshots"
WIDTHS = [1280, 390]


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
def mathserver(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("math")
    db = tmp / "kg.db"
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    ingest = subprocess.run(
        [*KG, "ingest", str(DATA / "mathvault"), "--db", str(db), "--json"],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert ingest.returncode == 0, ingest.stdout[-2000:] + ingest.stderr[-2000:]
    proc, base = start_server(db, env)
    warm_up(base)
    yield base
    proc.terminate()
    proc.wait(timeout=10)


def warm_up(base: str) -> None:
    """One search first, so the model is loaded before a page waits on it."""
    import urllib.request

    urllib.request.urlopen(base + "/api/search?q=warm+up", timeout=300).read()


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
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def sized(browser, width: int):
    ctx = browser.new_context(viewport={"width": width, "height": 900})
    ctx.set_default_timeout(60000)
    return ctx, ctx.new_page()


# Text a reader sees outside rendered math and code: a raw `$` there means math that KaTeX did not render.
VISIBLE_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (el.closest('.katex, pre, code, script, style, [hidden]')) continue;
    if (el.offsetParent === null && getComputedStyle(el).position !== 'fixed') continue;
    out.push(n.textContent);
  }
  return out.join(' ');
}"""
# The starter server also holds the XSS payload notes, whose text may carry a literal `$`: there, look for formulas.
RAW_MATH = re.compile(r"\$(?!\{)[^$\n]{0,200}?[\\_^{][^$\n]{0,200}?\$|\$\$")
TEXT_MATH = web.text.MATH
NO_SIDEWAYS = "() => document.documentElement.scrollWidth <= window.innerWidth + 1"
STARTER_PAGES = {
    "home": "/", "note": "/node/learning-mechanics", "claim": "/node/claim:marchenko-pastur-universality",
    "paper": "/node/arxiv:1207.0580", "tag": "/node/tag:strand/solvable-settings",
    "search": "/search?q=edge+of+stability", "graph": "/graph",
}  # fmt: skip
MATH_PAGES = {
    "math-note": "/node/Gradient%20flow",
    "math-embed": "/node/Scaling%20laws",
    "math-search": "/search?q=gradient+flow",
}


def settle(page) -> None:
    page.wait_for_load_state("networkidle")
    if page.locator("#graph").count():
        page.wait_for_selector("#graph[data-state=ready]", timeout=30000)
    if page.locator("#fullgraph").count():
        page.wait_for_selector("#fullgraph[data-state=ready]", timeout=30000)


@pytest.mark.parametrize("width", WIDTHS)
def test_starter_pages_fit_and_show_no_raw_math(server, browser, width):
    ctx, page = sized(browser, width)
    for name, url in STARTER_PAGES.items():
        r = page.goto(server + url)
        assert r.status == 200, url
        settle(page)
        assert page.evaluate(NO_SIDEWAYS), f"{url} scrolls sideways at {width} px"
        assert RAW_MATH.findall(page.evaluate(VISIBLE_TEXT)) == [], url
        shot(page, f"{name}-{width}")
    ctx.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_math_vault_renders_katex(mathserver, browser, width):
    ctx, page = sized(browser, width)
    for name, url in MATH_PAGES.items():
        page.goto(mathserver + url)
        settle(page)
        assert page.locator(".katex").count() >= 3, url
        text = page.evaluate(VISIBLE_TEXT)
        # A `$…$` that Obsidian would read as math, left as text, is a formula KaTeX did not render. (Prices.md
        # quotes dollars that are text, such as "$fromAI() … $query", which backlinks show.)
        assert not TEXT_MATH.search(text), (url, TEXT_MATH.findall(text)[:5])
        assert "\\frac" not in text.replace("\\frac{1}{", ""), url  # only the deliberately broken formula stays TeX
        assert page.evaluate(NO_SIDEWAYS), f"{url} scrolls sideways at {width} px"
        shot(page, f"{name}-{width}")
    ctx.close()


def test_math_keeps_subscripts_stars_and_marks_bad_tex(mathserver, page):
    page.goto(mathserver + "/node/Gradient%20flow")
    settle(page)
    sub = page.locator(".katex", has=page.locator("annotation", has_text="x_i")).first
    assert sub.locator(".msupsub").count() == 1  # x_i kept its subscript, not turned into italics
    assert page.locator(".katex annotation", has_text="a_1 * b_2").count() == 1
    assert page.locator("#body .katex-display").count() >= 2  # the $$ block and the align environment
    bad = page.locator(".math-error")
    assert bad.count() == 1 and "frac" in bad.inner_text()
    assert page.locator(".footnotes li").count() == 1  # the page went on past the bad formula
    assert page.locator("details.callout").count() == 1 and page.locator("div.callout").count() == 1
    assert page.locator("mark", has_text="highlighted claim").count() == 1
    assert "hidden comment" not in page.locator("#body").inner_text()
    assert page.locator("#body a.tag").first.get_attribute("href") == "/node/tag:dynamics"
    assert page.locator("#dek .katex").count() == 2  # math in the dek


def test_dollars_that_obsidian_reads_as_text_stay_text(mathserver, page):
    page.goto(mathserver + "/node/Prices")
    settle(page)
    body = page.locator("#body")
    assert body.locator(".katex").count() == 1  # only $\eta < 2/\lambda$
    assert body.locator(".katex annotation").text_content() == "\\eta < 2/\\lambda"
    text = body.inner_text()
    assert "$5" in text and "$100" in text and "$ x $" in text
    assert "usar $fromAI() para args, no $query ni input" in body.locator("a.wikilink").inner_text()
    assert page.locator("#dek .katex").count() == 0 and "$2 and $3" in page.locator("#dek").inner_text()


def test_embed_transcludes_a_section(mathserver, page):
    page.goto(mathserver + "/node/Scaling%20laws")
    settle(page)
    embed = page.locator("#body .embed")
    assert embed.count() == 1
    assert "Threshold" in embed.inner_text() and "Related" not in embed.inner_text()
    assert embed.locator(".katex-display").count() == 1  # \[…\] inside the embedded section


def test_home_page(server, page):
    page.goto(server + "/")
    assert page.locator("h1").inner_text() == "A map of learning mechanics"
    assert page.locator(".strand").count() == 5
    assert page.locator(".community").count() >= 3
    assert page.locator("a.skip").get_attribute("href") == "#main"


def test_foreign_vault_home_has_no_strands(mathserver, page):
    page.goto(mathserver + "/")
    assert page.locator("h1").inner_text() == "A map of this vault"
    assert page.locator(".strand").count() == 0 and page.locator("#most-linked li").count() >= 1
    assert "learning mechanics" not in page.locator("main").inner_text().lower()
    for h2 in page.locator("main h2").all():  # no empty sections
        assert h2.locator("xpath=..").inner_text().strip() != h2.inner_text().strip()


def test_map_is_small_and_grows_on_request(server, page):
    page.goto(server + "/node/learning-mechanics")
    page.wait_for_selector("#graph[data-state=ready]", timeout=60000)
    first = page.evaluate("() => kgGraph.nodes.length")
    assert 5 <= first <= 30
    assert "not shown" in page.locator("#map-status").inner_text()
    labelled = page.evaluate("() => kgGraph.labelled().length")
    assert 1 <= labelled < first  # labels on the main nodes, the rest on hover
    page.click("#show-more")
    page.wait_for_function(
        "(n) => kgGraph.nodes.length > n && document.querySelector('#graph').dataset.state === 'ready'",
        arg=first,
        timeout=20000,
    )
    grown = page.evaluate("() => kgGraph.nodes.length")
    page.select_option("#depth", "2")  # depth 2 grows outwards from what is shown
    page.wait_for_function(
        "(n) => kgGraph.nodes.length > n && document.querySelector('#graph').dataset.state === 'ready'",
        arg=grown,
        timeout=90000,
    )


def test_wheel_scrolls_the_page_until_the_map_is_clicked(server, page):
    page.goto(server + "/node/learning-mechanics")
    page.wait_for_selector("#graph[data-state=ready]", timeout=60000)
    box = page.locator("#graph").bounding_box()
    page.evaluate("(y) => window.scrollTo(0, y - 100)", box["y"] + page.evaluate("() => window.scrollY"))
    box = page.locator("#graph").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    before = page.evaluate("() => window.scrollY")
    page.mouse.wheel(0, 300)
    page.wait_for_function("(y) => window.scrollY > y", arg=before, timeout=5000)
    page.locator("#graph").click(position={"x": 8, "y": 8})
    assert page.locator("#graph").get_attribute("data-focused") == "1"
    box = page.locator("#graph").bounding_box()
    scale = page.evaluate("() => kgGraph.network.getScale()")
    still = page.evaluate("() => window.scrollY")
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -300)
    page.wait_for_timeout(400)
    assert page.evaluate("() => window.scrollY") == still
    assert page.evaluate("() => kgGraph.network.getScale()") != scale
    page.keyboard.press("Escape")
    assert page.locator("#graph").get_attribute("data-focused") == ""


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
    page.wait_for_selector("#graph[data-state=ready]", timeout=60000)
    rows = page.locator("#related .related-row")
    ids = [r.get_attribute("data-id") for r in rows.all()]
    assert len(ids) == len(set(ids))
    cited = page.locator("#related-papers li", has=page.locator(".cited"))
    assert cited.count() >= 8 and page.locator("#related-papers li").first.locator(".cited").count() == 1


def test_click_a_neighbour_walks_the_graph(server, page):
    page.goto(server + "/node/learning-mechanics")
    page.wait_for_selector("#graph[data-state=ready]", timeout=60000)
    page.locator("#graph").scroll_into_view_if_needed()
    target = page.evaluate(
        "() => kgGraph.nodes.getIds().find(id => id !== kgGraph.centre && kgGraph.nodes.get(id).kind === 'concept')"
    )
    pos = page.evaluate("(id) => kgGraph.domPosition(id)", target)
    page.mouse.click(pos["x"], pos["y"])
    page.wait_for_function("(id) => kgGraph.centre === id", arg=target, timeout=10000)
    page.wait_for_selector("#graph[data-state=ready]", timeout=60000)
    assert page.evaluate("() => kgGraph.nodes.get(kgGraph.centre).borderWidth") == 3
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
    assert "[[" not in page.locator("#results").inner_text()
    page.locator("#related-papers a").first.click()
    page.wait_for_selector("#paper")
    assert page.locator("article").get_attribute("data-node").startswith(("arxiv:", "doi:", "paper:"))


def test_full_graph_paints_with_sigma_and_finds_a_node(server, page):
    page.goto(server + "/graph")
    page.wait_for_selector("#fullgraph[data-state=ready]", timeout=30000)
    assert "Showing" in page.locator("#graph-status").inner_text()
    assert page.locator("#fullgraph canvas").count() >= 1  # sigma's WebGL canvas
    assert page.evaluate("() => kgFull.graph.order") == int(
        page.locator("#fullgraph").evaluate("() => kgFull.data.shown")
    )
    page.fill("#find", "Can deep learning theory unify")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#fullgraph').dataset.focused === 'learning-mechanics'")
    page.wait_for_timeout(600)
    assert page.evaluate("() => kgFull.renderer.getCamera().getState().ratio") < 0.5
    shot(page, "graph-focused-1280")


def test_no_xss_payload_fires(server, page):
    urls = ["/node/xss-note", "/node/xss-other", "/search?q=quiescent+payload+garden", "/graph?focus=xss-note",
            "/node/tag:safe", "/api/node/xss-note"]  # fmt: skip
    for url in urls:
        page.goto(server + url)
        page.wait_for_load_state("networkidle")
        if url == "/node/xss-note":
            page.wait_for_selector("#graph[data-state=ready]", timeout=60000)
            page.locator("#body a.wikilink").first.hover()
            page.wait_for_timeout(400)
        assert page.evaluate("() => window.__xss") is None, url
    assert page.dialogs == []  # type: ignore[attr-defined]


def test_rerun_updates_the_page_without_a_reload(server, page):
    page.goto(server + "/node/claim:marchenko-pastur-universality")
    runs = int(page.locator("#run-count").inner_text())
    page.evaluate("() => { window.__sameDocument = true; }")
    page.click("#rerun")
    # The web sweep (two runs) reports its progress, then the claim section is swapped in place.
    page.wait_for_function("() => document.querySelector('#run-status').textContent.includes('runs done')",
                           timeout=60000)  # fmt: skip
    page.wait_for_function("() => document.querySelector('#run-status').textContent.startsWith('done')",
                           timeout=180000)  # fmt: skip
    assert page.evaluate("() => window.__sameDocument") is True  # no reload happened
    assert page.locator("#verdict").get_attribute("data-verdict") == "verified"
    added = int(page.locator("#run-count").inner_text()) - runs
    assert added == 2 and page.locator("#runs tbody tr").count() == min(runs + 2, 20)
    assert page.locator("#predictions tr.pass").count() >= 1  # predicted beside measured, with pass/fail
    assert page.locator("#plots img").count() >= 1
    shot(page, "claim-after-rerun-1280")


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


@pytest.fixture(scope="module")
def sweptserver(tmp_path_factory):
    """The starter corpus with one web sweep recorded for every claim (`kg verify --all --grid web --seeds 1`).

    Its own store, so the other tests' claim pages stay as they were. The fake embedder keeps the ingest short:
    this server is only for the claims' sweep sections, which no embedding touches. Returns (base URL, the
    `kg verify --json` result of each claim by id).
    """
    import json

    tmp = tmp_path_factory.mktemp("swept")
    db = tmp / "kg.db"
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "KG_EMBEDDER": "fake"}
    ingest = subprocess.run([*KG, "ingest", str(ROOT / "data"), "--db", str(db), "--json"],
                            capture_output=True, text=True, timeout=600, env=env)  # fmt: skip
    assert ingest.returncode == 0, ingest.stdout[-2000:] + ingest.stderr[-2000:]
    verify = subprocess.run(
        [*KG, "verify", "--all", "--grid", "web", "--seeds", "1", "--jobs", "2", "--db", str(db), "--json"],
        capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    assert verify.stdout.strip(), verify.stderr[-2000:]
    results = {r["claim"]: r for r in json.loads(verify.stdout)}
    proc, base = start_server(db, env)
    yield base, results
    proc.terminate()
    proc.wait(timeout=10)


SWEEP_IMAGE = """(img) => img.complete && img.naturalWidth > 0 ? [img.naturalWidth, img.naturalHeight] : null"""


def test_every_claim_page_shows_its_sweep_plot(sweptserver, page):
    """Each claim page shows the plot of its own sweep, loaded; each goes to docs/screenshots/claim-<id>-sweep.png."""
    base, results = sweptserver
    assert len(results) >= 17
    missing = [c for c, r in results.items() if not r["runs"]]
    assert missing == [], f"claims without sweep runs: {missing}"
    for cid, r in sorted(results.items()):
        page.goto(f"{base}/node/{cid}")
        page.wait_for_load_state("networkidle")
        section = page.locator("#distribution")
        assert section.get_attribute("data-sweep") == r["sweep"], cid  # the latest sweep shown is this claim's
        img = page.locator("#sweep-plot")
        assert img.count() == 1, f"{cid}: no sweep plot"
        assert f"/sweeps/{r['sweep']}/sweep.png" in img.get_attribute("src"), cid
        assert r["headline"] in img.get_attribute("alt"), cid
        img.evaluate("(el) => el.scrollIntoView({block: 'center'})")  # lazy: it loads once in view
        size = page.wait_for_function(SWEEP_IMAGE, arg=img.element_handle(), timeout=20000).json_value()
        assert size[0] >= 300 and size[1] >= 200, (cid, size)
        shown = img.bounding_box()
        assert shown and shown["width"] >= 300 and 0 <= shown["y"] and shown["y"] + shown["height"] <= 900, cid
        shot(page, f"claim-{cid.removeprefix('claim:')}-sweep")
