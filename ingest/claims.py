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
