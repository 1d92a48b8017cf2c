"""The sweep plot saved with each sweep: the claim's key metric against the swept param, the band it predicts.

The key metric is the first item of the prediction. Each run is a dot (filled when the run verified, hollow
when not); the band the prediction allows is shaded. Without a sweep the x axis is the seed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

PLOT_NAMES = ("sweep.png", "sweep.svg")


def plot_sweep(summary: dict[str, Any], runs: list[dict[str, Any]], folder: Path, title: str = "") -> list[str]:
    """Draw the sweep into `folder` as PNG and SVG; returns the file names written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = summary.get("items") or []
    if not items:
        return []
    item = items[0]
    metric = item["metric"]
    swept = list(summary.get("sweep") or {})
    xname = swept[0] if swept else "seed"
    xs_all = [r["params"].get(xname) if swept else r["seed"] for r in runs]
    if all(isinstance(x, list) and len(x) == 1 for x in xs_all):  # a one-value list per run reads as its value
        xs_all = [x[0] for x in xs_all]
    numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs_all)
    categories = sorted({json_key(x) for x in xs_all}) if not numeric else []
    fig, ax = plt.subplots(figsize=(5.6, 3.4), dpi=110)
    ys = []
    for run, x in zip(runs, xs_all, strict=True):
        y = (run.get("metrics") or {}).get(metric)
        if not isinstance(y, (int, float)) or not math.isfinite(float(y)):
            continue
        xv = float(x) if numeric else categories.index(json_key(x))
        jitter = 0.0 if numeric else (run["seed"] % 7 - 3) * 0.03
        ok = run["verdict"] == "verified"
        ax.plot(xv + jitter, float(y), "o", ms=5, mfc="#2b7a3d" if ok else "none", mec="#2b7a3d" if ok else "#b3261e")
        ys.append(float(y))
    lo, hi = item["band"]
    ymin, ymax = y_limits(ys, lo, hi)
    ax.axhspan(ymin if lo is None else lo, ymax if hi is None else hi, color="#2b7a3d", alpha=0.12, lw=0,
               label="predicted")  # fmt: skip
    for edge in (lo, hi):
        if edge is not None:
            ax.axhline(edge, color="#2b7a3d", lw=0.8, ls="--")
    ax.set_ylim(ymin, ymax)
    if not swept:  # seeds are whole numbers: no fractional ticks, and a lone seed is not pressed to an edge
        seeds = sorted({int(x) for x in xs_all})
        if len(seeds) <= 12:
            ax.set_xticks(seeds)
        else:
            from matplotlib.ticker import MaxNLocator

            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(seeds[0] - 0.5, seeds[-1] + 0.5)
    ax.legend(loc="best", fontsize=7, frameon=False)
    if numeric and swept and len({float(x) for x in xs_all}) > 2 and min(float(x) for x in xs_all) > 0:
        spread = max(float(x) for x in xs_all) / min(float(x) for x in xs_all)
        if spread >= 8:
            ax.set_xscale("log", base=2)
    if categories:
        ax.set_xticks(range(len(categories)), categories)
    ax.set_xlabel(xname)
    ax.set_ylabel(metric)
    ax.set_title(f"{title}: {summary['headline']}" if title else summary["headline"], fontsize=8)
    fig.tight_layout()
    folder.mkdir(parents=True, exist_ok=True)
    for name in PLOT_NAMES:
        fig.savefig(folder / name)
    plt.close(fig)
    return list(PLOT_NAMES)


def y_limits(ys: list[float], lo: float | None, hi: float | None) -> tuple[float, float]:
    """The y range: every run and every finite edge of the band, with a margin so no dot sits on an axis."""
    pts = [*ys, *(e for e in (lo, hi) if e is not None)]
    if not pts:
        return 0.0, 1.0
    bottom, top = min(pts), max(pts)
    pad = 0.1 * (top - bottom) if top > bottom else 0.1 * abs(top) or 0.5
    return bottom - pad, top + pad


def json_key(x: Any) -> str:
    return str(x)
