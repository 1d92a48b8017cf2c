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
    for run, x in zip(runs, xs_all, strict=True):
        y = (run.get("metrics") or {}).get(metric)
        if not isinstance(y, (int, float)) or not math.isfinite(float(y)):
            continue
        xv = float(x) if numeric else categories.index(json_key(x))
        jitter = 0.0 if numeric else (run["seed"] % 7 - 3) * 0.03
        ok = run["verdict"] == "verified"
        ax.plot(xv + jitter, float(y), "o", ms=5, mfc="#2b7a3d" if ok else "none", mec="#2b7a3d" if ok else "#b3261e")
    lo, hi = item["band"]
    ymin, ymax = ax.get_ylim()
    ax.axhspan(ymin if lo is None else lo, ymax if hi is None else hi, color="#2b7a3d", alpha=0.12, lw=0)
    ax.set_ylim(min(ymin, lo if lo is not None else ymin), max(ymax, hi if hi is not None else ymax))
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


def json_key(x: Any) -> str:
    return str(x)
