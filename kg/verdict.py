"""A claim's verdict, computed from its prediction (data) and what the experiment measured."""

from __future__ import annotations

import math
from typing import Any

OPS = ("<", "<=", ">", ">=", "==", "between")


def check(item: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    """One comparison of a prediction against the measured metrics.

    >>> check({"metric": "slope", "op": "between", "value": [-1.1, -0.8]}, {"slope": -0.93})["ok"]
    True
    >>> check({"metric": "slope", "op": "==", "value": -2.0, "tolerance": 0.1}, {"slope": -0.93})["ok"]
    False
    """
    name, op, value = item["metric"], item["op"], item["value"]
    tol = float(item.get("tolerance", 0.0) or 0.0)
    out = {"metric": name, "op": op, "value": value, "tolerance": tol, "measured": None, "ok": False}
    if name not in metrics:
        out["problem"] = f"the experiment did not report '{name}'"
        return out
    raw = metrics[name]
    x = float(raw) if isinstance(raw, (int, float, bool)) else math.nan
    out["measured"] = x
    if not math.isfinite(x):
        out["problem"] = f"'{name}' is not a finite number ({raw!r})"
        return out
    if op == "between":
        lo, hi = sorted(float(v) for v in value)
        out["ok"] = lo - tol <= x <= hi + tol
    elif op == "==":
        out["ok"] = abs(x - float(value)) <= tol
    elif op == "<":
        out["ok"] = x < float(value) + tol
    elif op == "<=":
        out["ok"] = x <= float(value) + tol
    elif op == ">":
        out["ok"] = x > float(value) - tol
    elif op == ">=":
        out["ok"] = x >= float(value) - tol
    else:
        out["problem"] = f"unknown comparison '{op}'"
    return out


def verdict(prediction: list[dict[str, Any]], metrics: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """`verified` when every check holds, `refuted` when any fails, `error` only when none could be evaluated.

    A missing or non-finite metric fails its own item (the check carries the reason) and so refutes the run:
    a NaN loss next to a failing slope is a failed prediction, not a broken experiment.

    >>> verdict([{"metric": "r", "op": "<", "value": 1}], {"r": 0.5})[0]
    'verified'
    >>> verdict([{"metric": "r", "op": "<", "value": 1}], {"r": 2})[0]
    'refuted'
    >>> both = [{"metric": "r", "op": "<", "value": 1}, {"metric": "q", "op": "<", "value": 1}]
    >>> verdict(both, {"r": 0.5, "q": "nan"})[0]
    'refuted'
    >>> verdict([{"metric": "q", "op": "<", "value": 1}], {"r": 2})[0]
    'error'
    """
    if not prediction:
        return "error", []
    checks = [check(item, metrics) for item in prediction]
    if all("problem" in c for c in checks):
        return "error", checks
    return ("verified" if all(c["ok"] for c in checks) else "refuted"), checks


def flipped(item: dict[str, Any]) -> dict[str, Any]:
    """The opposite of one prediction item, for negative controls: what the claim says must not happen.

    >>> flipped({"metric": "m", "op": "<", "value": 1})["op"]
    '>='
    """
    op = item["op"]
    inverse = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}
    if op in inverse:
        return {**item, "op": inverse[op]}
    if op == "between":
        lo, hi = sorted(item["value"])
        width = (hi - lo) or abs(hi) or 1.0
        return {**item, "value": [hi + width, hi + 3 * width]}
    value = float(item["value"])
    tol = float(item.get("tolerance", 0) or 0)
    return {**item, "value": value + 10 * (tol or abs(value) or 1.0)}
