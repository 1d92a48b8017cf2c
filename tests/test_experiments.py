"""The starter claims, a cheap subset of bench/seeds.py: every claim at its default point on 2 seeds, and its
mechanism-removed variant on 1 seed, all in one pool of real subprocesses.

Each prediction item must be falsifiable: its flip is refuted on every run, the mechanism-removed variant is
refuted, and no item is true by construction (an item whose measured value is the same on every run and which
still holds with the mechanism removed could not have failed). The full campaign (10 seeds × each claim's
sweep, and the web sweeps' times) is `python -m bench.seeds`.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest
from conftest import ROOT

from kg.embeddings import FakeEmbedder
from kg.executors import LocalExecutor
from kg.runner import plan
from kg.store import Store
from kg.verdict import check, flipped, verdict
from kg.verify import build_grid, run_grids, runnable_claims, sweep_runs
from kg.writer import ingest

pytestmark = pytest.mark.slow
STRANDS = ("solvable-settings", "tractable-limits", "empirical-laws", "hyperparameter-theories", "universal-behaviours")
SEEDS = 2


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """{claim: (claim node, runs at the default point, mechanism-off runs)}."""
    tmp = tmp_path_factory.mktemp("verify")
    with Store(tmp / "kg.db") as s:
        assert ingest(s, [str(ROOT / "data")], FakeEmbedder(), progress=False).errors == []
        claims = {c["id"]: c for c in s.nodes_of_kind("claim")}
        grids = []
        for cid in runnable_claims(s):
            p = plan(s, cid)
            point = {k: [v[0]] for k, v in p.sweep.items()}  # the sweep cut to its first point: one run per seed
            grids.append(build_grid(p, seeds=SEEDS, overrides=point))
            if p.mechanism_off:
                grids.append(build_grid(p, "mechanism_off", seeds=1, first_seed=SEEDS, overrides=point))
        sweeps = run_grids(s, grids, LocalExecutor(2), tmp / "runs")
        out: dict = {cid: [claims[cid], [], []] for cid in runnable_claims(s)}
        for g, sweep in zip(grids, sweeps, strict=True):
            out[g.plan.claim][1 if g.kind == "declared" else 2] = sweep_runs(s, sweep["id"])
    return out


def test_all_starter_claims_verified_on_every_seed(campaign):
    bad = [(c, r["seed"], r["verdict"], r["error"]) for c, (_n, runs, _o) in campaign.items() for r in runs
           if r["verdict"] != "verified"]  # fmt: skip
    assert bad == []
    assert len(campaign) >= 14
    slow = [(c, r["seconds"]) for c, (_n, runs, _o) in campaign.items() for r in runs if r["seconds"] > 60]
    assert slow == []


def test_every_claim_declares_its_distribution(campaign):
    for cid, (node, _runs, _off) in campaign.items():
        m = node["meta"]
        assert m["seeds"] >= 10, cid
        assert m.get("mechanism_off"), f"{cid} declares no mechanism_off variant"
        assert m.get("web_sweep"), f"{cid} declares no web_sweep"


def test_two_claims_per_strand(campaign):
    counts = Counter(node["meta"]["strand"] for node, _r, _o in campaign.values())
    assert all(counts[s] >= 2 for s in STRANDS), counts


def test_control_prediction_and_every_flipped_item_are_refuted(campaign):
    for cid, (node, runs, _off) in campaign.items():
        prediction, control = node["meta"]["prediction"], node["meta"].get("control")
        assert control, f"{cid} has no control prediction"
        for r in runs:
            assert verdict(control, r["metrics"])[0] == "refuted", (cid, r["seed"])
            for i in range(len(prediction)):
                flip = [*prediction[:i], flipped(prediction[i]), *prediction[i + 1 :]]
                assert verdict(flip, r["metrics"])[0] == "refuted", (cid, prediction[i], r["seed"])


def test_mechanism_removed_variant_is_refuted(campaign):
    for cid, (_node, _runs, off) in campaign.items():
        assert off, f"{cid} ran no mechanism-removed variant"
        assert [r["verdict"] for r in off] == ["refuted"] * len(off), (cid, [r["error"] for r in off])


def test_no_item_is_true_by_construction(campaign):
    """An item that holds on every run with the same value, and still holds with the mechanism removed, tests
    nothing about the mechanism (such as a ratio of grid ends, or a control that cannot fail).

    Measures read off a grid (octaves, counts, slopes between grid points) can coincide on two seeds by chance;
    bench/seeds.py checks them over ten. Here they must at least change somewhere: across seeds or with the
    mechanism removed."""
    for cid, (node, runs, off) in campaign.items():
        for item in node["meta"]["prediction"]:
            values = {_rounded(r["metrics"].get(item["metric"])) for r in runs}
            fails_without = any(not check(item, r["metrics"])["ok"] for r in off)
            # read off a grid: whole numbers (octaves, counts) or a slope between grid points at one decimal
            whole = all(isinstance(v, float) and round(v * 10, 9).is_integer() for v in values)
            if whole and not fails_without:
                values |= {_rounded(r["metrics"].get(item["metric"])) for r in off}
                assert len(values) > 1 or _grid_like(item["metric"]) is False, (cid, item["metric"], values)
                continue
            assert len(values) > 1 or fails_without, (cid, item["metric"], values)


def _grid_like(metric: str) -> bool:
    """Names of measures that a grid fixes by itself; none may be a prediction item."""
    return any(word in metric for word in ("span", "n_runs", "grid_size"))


def _rounded(x: object) -> object:
    """Twelve significant digits: a collapse measure of 1e-24 still differs from seed to seed."""
    return float(f"{float(x):.12g}") if isinstance(x, (int, float)) and math.isfinite(float(x)) else x
