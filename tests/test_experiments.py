"""The starter claims: every experiment verifies its claim, and every negative control comes out refuted.

One `kg verify --all` run (real subprocesses, seed 0) feeds all the checks; bench/seeds.py repeats it over
more seeds.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter

import pytest
from conftest import KG, ROOT, kg_env

from kg.embeddings import FakeEmbedder
from kg.store import Store
from kg.verdict import flipped, verdict
from kg.writer import ingest

pytestmark = pytest.mark.slow
STRANDS = ("solvable-settings", "tractable-limits", "empirical-laws", "hyperparameter-theories", "universal-behaviours")


@pytest.fixture(scope="module")
def verified(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("verify")
    db = tmp / "kg.db"
    with Store(db) as s:
        assert ingest(s, [str(ROOT / "data")], FakeEmbedder(), progress=False).errors == []
        claims = {c["id"]: c for c in s.nodes_of_kind("claim")}
    proc = subprocess.run(
        [*KG, "verify", "--all", "--jobs", "2", "--db", str(db), "--json", "--runs-dir", str(tmp / "runs")],
        capture_output=True, text=True, timeout=900, env=kg_env(),
    )  # fmt: skip
    results = json.loads(proc.stdout)
    return proc.returncode, results, claims


def test_all_starter_claims_verified(verified):
    code, results, _claims = verified
    bad = [(r["claim"], r["verdict"], r["error"]) for r in results if r["verdict"] != "verified"]
    assert bad == []
    assert code == 0
    assert len(results) >= 14
    assert all(r["seconds"] <= 60 for r in results), [(r["claim"], r["seconds"]) for r in results]


def test_two_claims_per_strand(verified):
    _code, results, _claims = verified
    counts = Counter(r["strand"] for r in results)
    assert all(counts[s] >= 2 for s in STRANDS), counts


def test_every_claim_has_a_control_that_is_refuted(verified):
    _code, results, claims = verified
    for r in results:
        control = claims[r["claim"]]["meta"].get("control")
        assert control, f"{r['claim']} has no negative control"
        assert verdict(control, r["metrics"])[0] == "refuted", r["claim"]


def test_flipping_any_prediction_item_refutes(verified):
    _code, results, claims = verified
    for r in results:
        prediction = claims[r["claim"]]["meta"]["prediction"]
        for i in range(len(prediction)):
            flip = [*prediction[:i], flipped(prediction[i]), *prediction[i + 1 :]]
            assert verdict(flip, r["metrics"])[0] == "refuted", (r["claim"], prediction[i])
