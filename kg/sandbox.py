"""The child side of an experiment run: load the registered module, call run(), write metrics.json.

Started by `kg.runner` as `python -m kg.sandbox FILE PARAMS_JSON SEED OUTDIR` in a fresh process with time and
memory limits; the runner, not this process, decides the verdict.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import math
import os
import sys
import traceback
from typing import Any

CLONE_NEWNET = 0x40000000


def isolate_network() -> bool:
    """Move into an empty network namespace where the platform allows it. Returns True if it did."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.unshare(CLONE_NEWNET) == 0
    except (OSError, AttributeError):
        return False


def clean_metrics(raw: Any) -> dict[str, float | int | bool]:
    if not isinstance(raw, dict):
        raise TypeError(f"run() must return a dict of metrics, not {type(raw).__name__}")
    out: dict[str, float | int | bool] = {}
    for k, v in raw.items():
        if hasattr(v, "item"):
            v = v.item()
        if isinstance(v, bool):
            out[str(k)] = v
        elif isinstance(v, (int, float)):
            out[str(k)] = v if math.isfinite(v) else str(v)  # type: ignore[assignment]
        else:
            raise TypeError(f"metric '{k}' must be a number, not {type(v).__name__}")
    return out


def main(argv: list[str]) -> int:
    path, params_json, seed, outdir = argv
    os.chdir(outdir)
    net = isolate_network()
    spec = importlib.util.spec_from_file_location("experiment", path)
    if spec is None or spec.loader is None:
        print(f"cannot load {path}", file=sys.stderr)
        return 2
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        params = {**getattr(module, "PARAMS", {}), **json.loads(params_json)}
        metrics = clean_metrics(module.run(params, int(seed), outdir))
    except MemoryError:
        print("MemoryError: the experiment went over its memory limit", file=sys.stderr)
        return 3
    except BaseException:  # the experiment's own failure, reported as its log
        traceback.print_exc()
        return 1
    tmp = os.path.join(outdir, ".metrics.json.tmp")
    with open(tmp, "w") as f:
        json.dump({"metrics": metrics, "params": params, "network_isolated": net}, f)
    os.replace(tmp, os.path.join(outdir, "metrics.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
