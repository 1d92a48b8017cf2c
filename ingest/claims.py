"""Claims declared in a note's front matter: a testable statement, its experiment and its prediction."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ingest.records import EdgeRecord, NodeRecord, ParseError, slugify

OPS = ("<", "<=", ">", ">=", "==", "between")
MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_prediction(items: Any, where: str, line: int) -> list[dict[str, Any]]:
    """Validate a prediction (a list of {metric, op, value, tolerance}) and return it normalised."""
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not items:
        raise ParseError(f"{where} must be a list of {{metric, op, value}} items", line)
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("metric"), str):
            raise ParseError(f"{where} item {i + 1} needs a 'metric' name", line)
        op = str(item.get("op", "=="))
        if op not in OPS:
            raise ParseError(f"{where} item {i + 1}: op '{op}' is not one of {', '.join(OPS)}", line)
        value = item.get("value")
        if op == "between":
            if not (isinstance(value, list) and len(value) == 2 and all(_num(v) for v in value)):
                raise ParseError(f"{where} item {i + 1}: 'between' needs value: [low, high]", line)
            value = [float(value[0]), float(value[1])]
        elif not _num(value):
            raise ParseError(f"{where} item {i + 1}: value must be a number", line)
        else:
            value = float(value)
        tol = item.get("tolerance", 0)
        if not _num(tol) or float(tol) < 0:
            raise ParseError(f"{where} item {i + 1}: tolerance must be a number ≥ 0", line)
        out.append(
            {
                "metric": item["metric"],
                "op": op,
                "value": value,
                "tolerance": float(tol),
            }
        )
    return out


MAX_SEEDS = 1000
MAX_GRID = 200
WEB_EXAMPLE = "{seeds: 2, sweep: {width: [64, 256]}}"


def check_distribution(spec: dict[str, Any], where: str, line: int) -> dict[str, Any]:
    """Validate what a claim says about its distribution: seeds, sweep, require, web_sweep and mechanism_off.

    Returns the normalised fields (seeds and require always present; the others only when declared).
    """
    out: dict[str, Any] = {"seeds": _seeds(spec.get("seeds", 1), f"{where}: seeds", line)}
    require = spec.get("require", 1.0)
    if not _num(require) or not 0 < float(require) <= 1:
        raise ParseError(f"{where}: require must be a pass rate in (0, 1], such as 1.0 or 0.9", line)
    out["require"] = float(require)
    sweep = check_sweep(spec.get("sweep"), f"{where}: sweep", line)
    if sweep:
        out["sweep"] = sweep
    web = spec.get("web_sweep")
    if web is not None:
        if not isinstance(web, dict) or not set(web) <= {"seeds", "sweep"}:
            raise ParseError(f"{where}: web_sweep must be a mapping such as {WEB_EXAMPLE}", line)
        out["web_sweep"] = {
            "seeds": _seeds(web.get("seeds", 1), f"{where}: web_sweep seeds", line),
            "sweep": check_sweep(web.get("sweep"), f"{where}: web_sweep sweep", line),
        }
    off = spec.get("mechanism_off")
    if off is not None:
        if not isinstance(off, dict) or not off or not all(isinstance(k, str) for k in off):
            why = "must map params to the values that switch the mechanism off, such as {weight_decay: 0}"
            raise ParseError(f"{where}: mechanism_off {why}", line)
        out["mechanism_off"] = dict(off)
    return out


def check_sweep(sweep: Any, where: str, line: int) -> dict[str, list[Any]]:
    """A sweep maps param names to non-empty lists of values; the grid (their product) stays under MAX_GRID."""
    if sweep is None or sweep == {}:
        return {}
    if not isinstance(sweep, dict) or not all(isinstance(k, str) for k in sweep):
        raise ParseError(f"{where} must map param names to lists of values, such as {{width: [64, 256, 1024]}}", line)
    size = 1
    for key, values in sweep.items():
        if not isinstance(values, list) or not values:
            raise ParseError(f"{where}: '{key}' needs a non-empty list of values, such as [64, 256, 1024]", line)
        size *= len(values)
    if size > MAX_GRID:
        raise ParseError(f"{where} has {size} grid points; keep it to {MAX_GRID} or fewer", line)
    return {k: list(v) for k, v in sweep.items()}


def _seeds(value: Any, where: str, line: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_SEEDS:
        raise ParseError(f"{where} must be a whole number of seeds from 1 to {MAX_SEEDS}, such as 10", line)
    return value


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def claim_records(
    claims: list[Any], note_id: str, note_meta: dict[str, Any], path: str, line: int
) -> Iterator[NodeRecord | EdgeRecord]:
    """Yield a claim node per entry, the note's `states` edge and the experiment's `verifies` edge."""
    for i, spec in enumerate(claims):
        if isinstance(spec, str):
            spec = {"title": spec}
        if not isinstance(spec, dict) or not (spec.get("title") or spec.get("text")):
            raise ParseError(f"claim {i + 1} needs a 'title' stating the claim", line)
        title = str(spec.get("title") or spec.get("text")).strip()
        cid = "claim:" + slugify(str(spec.get("id") or title))[:80]
        meta: dict[str, Any] = {"note": note_id, "strand": note_meta.get("strand", "")}
        experiment = spec.get("experiment")
        if experiment is not None:
            experiment = str(experiment).removesuffix(".py")
            if not MODULE_NAME.match(experiment):
                raise ParseError(
                    f"claim {i + 1}: experiment '{experiment}' must be a module name in experiments/",
                    line,
                )
            if "prediction" not in spec:
                raise ParseError(f"claim {i + 1} names an experiment but has no prediction", line)
            meta["experiment"] = experiment
            meta["prediction"] = check_prediction(spec["prediction"], f"claim {i + 1} prediction", line)
            if spec.get("control") is not None:
                meta["control"] = check_prediction(spec["control"], f"claim {i + 1} control", line)
            params = spec.get("params") or {}
            if not isinstance(params, dict):
                raise ParseError(f"claim {i + 1}: params must be a mapping", line)
            meta["params"] = params
            timeout = spec.get("timeout", 60)
            if not _num(timeout) or not 0 < float(timeout) <= 3600:
                raise ParseError(f"claim {i + 1}: timeout must be seconds between 0 and 3600", line)
            meta["timeout"] = float(timeout)
            meta.update(check_distribution(spec, f"claim {i + 1}", line))
        text = str(spec.get("text") or spec.get("description") or "")
        yield NodeRecord(cid, "claim", title, text, path, line, meta)
        yield EdgeRecord(note_id, cid, "states", path=path, line=line)
        if experiment is not None:
            yield EdgeRecord(
                "experiment:" + experiment,
                cid,
                "verifies",
                origin="explicit",
                path=path,
                line=line,
            )
