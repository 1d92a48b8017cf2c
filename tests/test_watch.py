"""Watch mode: `kg serve --watch VAULT` re-ingests on save, and the page shows the saved note."""

from __future__ import annotations

import json
import shutil
import time
import urllib.parse
import urllib.request
from pathlib import Path

from conftest import DATA, kg_env

from bench.server import start_server


def fetch(base: str, node_id: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{base}/api/node/{urllib.parse.quote(node_id)}", timeout=5) as r:
            return json.load(r)
    except OSError:
        return None


def wait_for(check, seconds: float = 60.0):
    """Poll until `check()` is truthy; the latency itself is measured in bench/, not asserted here."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    return None


def test_saved_note_shows_on_its_page(tmp_path: Path):
    vault = tmp_path / "vault"
    shutil.copytree(DATA / "vault", vault)
    proc, base = start_server(tmp_path / "kg.db", kg_env(), extra=("--watch", str(vault)), timeout=60)
    try:
        assert fetch(base, "gamma")
        (vault / "gamma.md").write_text("Gamma, edited while the server runs. It now links [[beta]].\n")
        page = wait_for(lambda: (p := fetch(base, "gamma")) and "edited while" in json.dumps(p) and p)
        assert page, "the edit never reached the page"
        (vault / "Brand New.md").write_text("A note created after start.\n")
        assert wait_for(lambda: fetch(base, "Brand New"))
        (vault / "Brand New.md").unlink()
        assert wait_for(lambda: fetch(base, "Brand New") is None)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
