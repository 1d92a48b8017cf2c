"""Verdicts over distributions: grids, pass rates, Wilson intervals, the verdict rule and the sweep record.

The runs are real subprocesses of a toy experiment (tests/data/dist_vault), each well under a second.
"""

from __future__ import annotations

import json
import math
import subprocess

import pytest
from conftest import KG, kg_env

from ingest.claims import check_distribution
from ingest.records import ParseError
from kg.distribution import describe_grid, stats, summarise, sweep_verdict, wilson
from kg.embeddings import FakeEmbedder
from kg.runner import RunSpec, plan, run_one, spec_for
from kg.verdict import verdict
from kg.verify import build_grid, claim_sweeps, sweep_runs, verify_claims
from kg.writer import ingest


def test_wilson_interval_matches_the_closed_form():
    lo, hi = wilson(7, 10)
    assert lo == pytest.approx(0.3968, abs=1e-3) and hi == pytest.approx(0.8922, abs=1e-3)
    assert wilson(10, 10)[1] == 1.0 and wilson(0, 10)[0] == 0.0
    assert wilson(100, 100)[0] > wilson(10, 10)[0]  # more runs, a tighter interval


def test_stats_median_iqr_and_range_ignore_non_finite():
    s = stats([3.0, 1.0, 2.0, 4.0, math.nan, math.inf])
    assert (s["n"], s["median"], s["q1"], s["q3"], s["min"], s["max"]) == (4, 2.5, 1.75, 3.25, 1.0, 4.0)
    assert stats([])["median"] is None


def test_sweep_verdicts():
    assert sweep_verdict(10, 10, 0, 1.0) == "verified"
    assert sweep_verdict(9, 10, 0, 1.0) == "mixed"
    assert sweep_verdict(9, 10, 1, 0.9) == "verified"
    assert sweep_verdict(0, 10, 0, 1.0) == "refuted"
    assert sweep_verdict(0, 4, 4, 1.0) == "error"
    assert describe_grid(10, {"width": [64, 256, 1024]}) == "10 seeds × 3 widths"


def test_a_nan_metric_fails_its_item_and_refutes_the_run():
    items = [{"metric": "loss", "op": "<", "value": 1}, {"metric": "slope", "op": ">", "value": 0}]
    v, checks = verdict(items, {"loss": "nan", "slope": -1.0})
    assert v == "refuted"
    assert checks[0]["ok"] is False and "not a finite number" in checks[0]["problem"]
    assert verdict(items[:1], {"loss": "nan"})[0] == "error"
    assert verdict(items, {"loss": "nan", "slope": 2.0})[0] == "refuted"  # a NaN alone still fails its item


def test_summary_counts_items_points_and_metrics():
    runs = [
        {"verdict": "verified" if s < 3 else "refuted", "seed": s, "params": {"w": w}, "seconds": 1.0,
         "metrics": {"m": float(s)}, "checks": [{"ok": s < 3}], "error": ""}
        for w in (1, 2) for s in range(4)
    ]  # fmt: skip
    pred = [{"metric": "m", "op": "<", "value": 3, "tolerance": 0}]
    out = summarise(runs, pred, require=1.0, seeds=[0, 1, 2, 3], sweep={"w": [1, 2]})
    assert out["verdict"] == "mixed" and (out["passed"], out["total"]) == (6, 8)
    assert out["headline"] == "mixed: 6/8 runs (4 seeds × 2 ws)"
    assert out["items"][0]["band"] == [None, 3.0] and out["items"][0]["passed"] == 6
    assert out["items"][0]["measured"]["median"] == 1.5 and out["items"][0]["measured"]["max"] == 3.0
    assert [p["passed"] for p in out["points"]] == [3, 3]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"seeds": 0}, "seeds must be a whole number"),
        ({"seeds": "ten"}, "seeds must be a whole number"),
        ({"require": 1.5}, "require must be a pass rate"),
        ({"sweep": {"width": []}}, "'width' needs a non-empty list"),
        ({"sweep": [64, 128]}, "must map param names to lists"),
        ({"sweep": {"a": list(range(20)), "b": list(range(20))}}, "400 grid points"),
        ({"web_sweep": {"seed": 2}}, "web_sweep must be a mapping"),
        ({"mechanism_off": {}}, "mechanism_off must map params"),
    ],
)
def test_bad_declarations_name_the_field_and_the_fix(spec, message):
    with pytest.raises(ParseError, match=message) as err:
        check_distribution(spec, "claim 1", 7)
    assert err.value.line == 7


def test_bad_declaration_in_a_note_is_reported_with_its_file_and_ingest_goes_on(tmp_path, store, fake):
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "bad.md").write_text(
        "---\ntitle: Bad\nclaims:\n  - id: bad\n    title: t\n    experiment: law\n    seeds: -3\n"
        "    prediction: [{metric: x, op: '<', value: 1}]\n---\nbody\n"
    )
    (tmp_path / "v" / "good.md").write_text("---\ntitle: Good\n---\nbody\n")
    report = ingest(store, [str(tmp_path / "v")], fake, progress=False)
    assert len(report.errors) == 1 and "bad.md" in str(report.errors[0]) and "seeds" in str(report.errors[0])
    assert store.node("good") is not None


def test_grid_from_declaration_web_sweep_mechanism_off_and_overrides(dist_store):
    s, _runs = dist_store
    p = plan(s, "law")
    assert (p.seeds, p.sweep, p.mechanism_off) == (3, {"width": [16, 64]}, {"broken": True})
    g = build_grid(p)
    assert len(g.points) == 6 and {pt[0]["width"] for pt in g.points} == {16, 64}
    assert len(build_grid(p, "web").points) == 1
    off = build_grid(p, "mechanism_off")
    assert all(pt[0]["broken"] is True for pt in off.points)
    g2 = build_grid(p, seeds=5, first_seed=10, overrides={"width": 32})
    assert [pt[1] for pt in g2.points] == [10, 11, 12, 13, 14] and all(pt[0]["width"] == 32 for pt in g2.points)
    assert len(build_grid(p, overrides={"width": [1, 2, 3]}).points) == 9


def test_run_one_is_pure_and_carries_its_artefacts(dist_store, tmp_path):
    s, _runs = dist_store
    p = plan(s, "law")
    before = s.conn.execute("SELECT count(*) FROM runs").fetchone()[0]
    rec = run_one(spec_for(p, 2, {**p.params, "width": 16}))
    assert rec.verdict == "verified" and rec.metrics["width"] == 16 and rec.metrics["seed"] == 2
    assert rec.files == {"law.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>"}
    assert rec.code_hash == p.code_hash and {"python", "host"} <= set(rec.environment)
    assert s.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == before  # nothing written
    tampered = RunSpec(**{**spec_for(p, 0).__dict__, "code": b"PARAMS = {}\n"})
    assert run_one(tampered).verdict == "error"


def test_verify_records_a_sweep_with_its_runs_and_plot(dist_store):
    s, runs = dist_store
    out = verify_claims(s, ["law", "seeds-below-two", "strict-seeds"], False, jobs=2, runs_dir=str(runs))
    law, half, strict = out
    assert (law["verdict"], law["passed"], law["total"]) == ("verified", 6, 6)
    assert law["headline"] == "verified: 6/6 runs (3 seeds × 2 widths)"
    assert law["interval"][0] == pytest.approx(wilson(6, 6)[0])
    assert (half["verdict"], half["passed"], half["total"]) == ("verified", 2, 4)
    assert (strict["verdict"], strict["passed"]) == ("mixed", 2)
    sweep = claim_sweeps(s, "claim:law")[0]
    assert sweep["status"] == "done" and sweep["verdict"] == "verified" and sweep["total"] == 6
    assert sorted(r["seed"] for r in sweep_runs(s, sweep["id"])) == [0, 0, 1, 1, 2, 2]
    assert all((runs / r["id"] / "law.svg").exists() for r in sweep_runs(s, sweep["id"]))
    assert sweep["artefacts"] == ["sweep.png", "sweep.svg"]
    png = runs / "sweeps" / sweep["id"] / "sweep.png"
    assert png.read_bytes()[:4] == b"\x89PNG" and b"<svg" in (png.with_suffix(".svg")).read_bytes()


def test_nan_beside_a_failure_is_refuted_and_nothing_evaluable_is_an_error(dist_store):
    s, runs = dist_store
    nan_fail, only_nan = verify_claims(s, ["nan-beside-a-failure", "only-nan"], False, runs_dir=str(runs))
    assert nan_fail["verdict"] == "refuted" and "not a finite number" in nan_fail["error"]
    assert only_nan["verdict"] == "error"


def test_mechanism_off_is_refuted(dist_store):
    s, runs = dist_store
    (r,) = verify_claims(s, ["law"], False, grid="mechanism_off", seeds=2, runs_dir=str(runs))
    assert (r["verdict"], r["passed"], r["total"]) == ("refuted", 0, 2)  # at the claim's own point, no sweep


def test_cli_seeds_and_set_override_the_declaration(dist_store):
    s, runs = dist_store
    proc = subprocess.run(
        [*KG, "verify", "law", "--seeds", "2", "--set", "width=[8, 16, 32]", "--db", s.path, "--json",
         "--runs-dir", str(runs)],
        capture_output=True, text=True, timeout=120, env=kg_env(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (r,) = json.loads(proc.stdout)
    assert r["total"] == 6 and r["grid"] == "2 seeds × 3 widths"
    assert sorted({run["params"]["width"] for run in r["runs"]}) == [8, 16, 32]
    bad = subprocess.run([*KG, "verify", "law", "--set", "width", "--db", s.path], capture_output=True, text=True)
    assert bad.returncode == 2 and "key=value" in bad.stderr


def test_claim_json_has_the_distribution_history_and_plot(dist_store):
    from web import create_app

    s, runs = dist_store
    (law,) = verify_claims(s, ["law"], False, runs_dir=str(runs))
    app = create_app(s.path, embedder=FakeEmbedder(), RUNS_DIR=str(runs))
    client = app.test_client()
    view = client.get("/api/node/claim:law").get_json()
    d = view["claim"]["distribution"]
    assert d["declared"]["seeds"] == 3 and d["declared"]["mechanism_off"] == {"broken": True}
    latest = d["latest"]
    assert latest["sweep"] == law["sweep"] and latest["headline"] == "verified: 6/6 runs (3 seeds × 2 widths)"
    item = latest["items"][0]
    assert item["band"] == [-0.6, -0.4] and item["passed"] == 6
    assert -0.6 <= item["measured"]["min"] <= item["measured"]["median"] <= item["measured"]["max"] <= -0.4
    assert [h["id"] for h in d["history"]] == [law["sweep"]]
    png = client.get(f"/sweeps/{law['sweep']}/sweep.png")
    assert png.status_code == 200 and png.data[:4] == b"\x89PNG"
    assert client.get(f"/sweeps/{law['sweep']}/../kg.db").status_code == 404
    page = client.get("/node/claim:law").get_data(as_text=True)
    assert f"/sweeps/{law['sweep']}/sweep.png" in page and "verified: 6/6 runs" in page
    progress = client.get(f"/api/sweeps/{law['sweep']}").get_json()
    assert (progress["status"], progress["done"], progress["total"]) == ("done", 6, 6)
