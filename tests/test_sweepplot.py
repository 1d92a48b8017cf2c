"""The sweep plot's axes: every dot inside the frame, the band's finite edges shown, whole seeds on the x axis."""

from __future__ import annotations

import re

from kg.sweepplot import plot_sweep, y_limits


def summary(band: list[float | None], sweep: dict | None = None) -> dict:
    return {"items": [{"metric": "ratio", "band": band}], "sweep": sweep or {}, "headline": "verified: 1/1 seeds"}


def run(seed: int, value: float, **params: float) -> dict:
    return {"seed": seed, "params": params, "metrics": {"ratio": value}, "verdict": "verified"}


def test_y_range_holds_every_run_and_band_edge_with_a_margin():
    bottom, top = y_limits([0.03, 0.05], None, 0.2)
    assert bottom < 0.03 and top > 0.2  # the lowest run is not drawn on the axis
    bottom, top = y_limits([0.9953], 0.985, None)
    assert 0.98 < bottom < 0.985 and 0.9953 < top < 1.0  # no empty range past the data on the open side
    assert y_limits([5.0, 5.0], None, None) == (4.5, 5.5)
    assert y_limits([0.0], None, None) == (-0.5, 0.5)
    assert y_limits([], None, None) == (0.0, 1.0)


def labels(svg: str) -> list[str]:
    return re.findall(r"<!-- (.*?) -->", svg)


def test_one_seed_plots_on_a_whole_seed_tick(tmp_path):
    plot_sweep(summary([0.985, None]), [run(0, 0.9953)], tmp_path, title="one")
    text = labels((tmp_path / "sweep.svg").read_text())
    assert "0" in text and "seed" in text and "predicted" in text
    assert not any(re.fullmatch(r"−?0\.0\d+", t) for t in text), text  # no fractional seeds like 0.02


def test_a_sweep_keeps_its_param_axis(tmp_path):
    runs = [run(0, 0.1, width=64), run(0, 0.12, width=256), run(0, 0.15, width=1024)]
    plot_sweep(summary([None, 0.2], {"width": [64, 256, 1024]}), runs, tmp_path)
    text = labels((tmp_path / "sweep.svg").read_text())
    assert "width" in text and "seed" not in text
