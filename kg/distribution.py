"""Verdicts over distributions: a claim's grid (seeds × swept params), and what its runs add up to.

A claim declares how many seeds it runs, an optional sweep over params and the pass rate it requires. Each run
gets its own verdict (`kg.verdict`); this module turns the runs of one sweep into one verdict (verified,
refuted or mixed), the pass count with its Wilson interval, and per metric the median, IQR and range.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from statistics import median
from typing import Any

SWEEP_VERDICTS = ("verified", "mixed", "refuted", "error")


def grid_points(sweep: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the swept values, in declaration order.

    >>> grid_points({"width": [64, 256], "lr": [0.1]})
    [{'width': 64, 'lr': 0.1}, {'width': 256, 'lr': 0.1}]
    >>> grid_points({})
    [{}]
    """
    keys = list(sweep)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(sweep[k] for k in keys))]


def describe_grid(n_seeds: int, sweep: dict[str, list[Any]]) -> str:
    """How a grid reads in a verdict line.

    >>> describe_grid(10, {"width": [64, 256, 1024]})
    '10 seeds × 3 widths'
    >>> describe_grid(1, {})
    '1 seed'
    """
    parts = [f"{n_seeds} seed{'s' if n_seeds != 1 else ''}"]
    for key, values in sweep.items():
        name = key if len(values) == 1 or key.endswith("s") else key + "s"
        parts.append(f"{len(values)} {name}")
    return " × ".join(parts)


def wilson(passed: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95% by default) for a pass rate of passed/total.

    >>> [round(x, 3) for x in wilson(10, 10)]
    [0.722, 1.0]
    >>> wilson(0, 0)
    (0.0, 1.0)
    """
    if total <= 0:
        return 0.0, 1.0
    p = passed / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def stats(values: Iterable[Any]) -> dict[str, Any]:
    """n, median, quartiles, IQR and range of the finite values (None fields when there are none).

    >>> stats([1, 2, 3, 4, float("nan")])["median"], stats([1, 2, 3, 4])["iqr"]
    (2.5, 1.5)
    """
    xs = sorted(float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(float(v)))
    if not xs:
        return {"n": 0, "median": None, "q1": None, "q3": None, "iqr": None, "min": None, "max": None}
    q1, q3 = _quantile(xs, 0.25), _quantile(xs, 0.75)
    return {"n": len(xs), "median": median(xs), "q1": q1, "q3": q3, "iqr": q3 - q1, "min": xs[0], "max": xs[-1]}


def _quantile(xs: list[float], q: float) -> float:
    pos = (len(xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def band(item: dict[str, Any]) -> list[float | None]:
    """The values a prediction item allows, as [low, high] with None for an open end.

    >>> band({"op": "between", "value": [2, 1]}), band({"op": "<", "value": 1})
    ([1.0, 2.0], [None, 1.0])
    >>> band({"op": "==", "value": 1, "tolerance": 0.5})
    [0.5, 1.5]
    """
    op, value, tol = item["op"], item["value"], float(item.get("tolerance") or 0.0)
    if op == "between":
        lo, hi = sorted(float(v) for v in value)
        return [lo - tol, hi + tol]
    v = float(value)
    if op in ("<", "<="):
        return [None, v + tol]
    if op in (">", ">="):
        return [v - tol, None]
    return [v - tol, v + tol]


def sweep_verdict(passed: int, total: int, errors: int, require: float) -> str:
    """verified at or above the required pass rate; refuted when no run passed; mixed in between.

    `error` only when every run errored (nothing could be evaluated).

    >>> sweep_verdict(10, 10, 0, 1.0), sweep_verdict(9, 10, 0, 1.0), sweep_verdict(9, 10, 0, 0.9)
    ('verified', 'mixed', 'verified')
    >>> sweep_verdict(0, 10, 3, 1.0), sweep_verdict(0, 10, 10, 1.0)
    ('refuted', 'error')
    """
    if total == 0 or errors == total:
        return "error"
    if passed >= require * total - 1e-9:
        return "verified"
    return "refuted" if passed == 0 else "mixed"


def summarise(
    runs: list[dict[str, Any]],
    prediction: list[dict[str, Any]],
    *,
    require: float,
    seeds: list[int],
    sweep: dict[str, list[Any]],
) -> dict[str, Any]:
    """One sweep's verdict from its finished runs (dicts with verdict, metrics, checks, params, seed, seconds)."""
    total = len(runs)
    passed = sum(r["verdict"] == "verified" for r in runs)
    errors = sum(r["verdict"] in ("error", "timeout") for r in runs)
    verdict = sweep_verdict(passed, total, errors, require)
    lo, hi = wilson(passed, total)
    grid = describe_grid(len(seeds), sweep)
    names = sorted({k for r in runs for k in (r.get("metrics") or {})})
    items = []
    for i, item in enumerate(prediction):
        measured = stats((r.get("metrics") or {}).get(item["metric"]) for r in runs)
        ok = sum(1 for r in runs if i < len(r.get("checks") or []) and r["checks"][i].get("ok"))
        items.append({**item, "band": band(item), "passed": ok, "total": total, "measured": measured})
    points = []
    for point in grid_points(sweep):
        mine = [r for r in runs if all(r.get("params", {}).get(k) == v for k, v in point.items())]
        points.append({"params": point, "passed": sum(r["verdict"] == "verified" for r in mine), "total": len(mine)})
    return {
        "verdict": verdict,
        "headline": f"{verdict}: {passed}/{total} runs ({grid})" if sweep else f"{verdict}: {passed}/{total} seeds",
        "passed": passed,
        "total": total,
        "errors": errors,
        "rate": passed / total if total else 0.0,
        "interval": [lo, hi],
        "require": require,
        "grid": grid,
        "seeds": seeds,
        "sweep": sweep,
        "items": items,
        "points": points,
        "metrics": {n: stats((r.get("metrics") or {}).get(n) for r in runs) for n in names},
        "seconds": stats(r.get("seconds") for r in runs),
        "problems": sorted({r["error"] for r in runs if r.get("error")})[:10],
    }
