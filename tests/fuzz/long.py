"""The long fuzz run: `python -m tests.fuzz.long [--examples N] [--seconds S]`.

Feeds every parser N hypothesis-generated inputs (mutations of a valid seed and arbitrary bytes) plus deep
nesting, and prints how many inputs were tried and how many raised. Exit 1 if any did.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback

from hypothesis import HealthCheck, given, settings

from tests.fuzz.targets import FORMATS, SEEDS, nested, parse_any
from tests.test_fuzz import mutations


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--examples", type=int, default=5000, help="inputs per format")
    args = ap.parse_args(argv)
    totals: dict[str, dict[str, int | float]] = {}
    crashes: list[str] = []
    for fmt in sorted(FORMATS):
        count = {"n": 0}
        t0 = time.perf_counter()

        def make_target(fmt: str, count: dict[str, int]):  # type: ignore[no-untyped-def]
            def target(data: bytes) -> None:
                count["n"] += 1
                try:
                    parse_any(fmt, data)
                except Exception:
                    crashes.append(f"{fmt}: {data[:200]!r}\n{traceback.format_exc()}")
                    raise

            return target

        fuzz_target = make_target(fmt, count)

        quota = settings(max_examples=args.examples, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck))  # fmt: skip
        check = quota(given(mutations(SEEDS[fmt]))(fuzz_target))
        try:
            check()
        except Exception as exc:  # hypothesis re-raises the smallest failing example; it is recorded above
            print(f"{fmt}: {type(exc).__name__}: {exc}", file=sys.stderr)
        for depth in (10, 1000, 100_000):
            count["n"] += 1
            parse_any(fmt, nested(fmt, depth))
        totals[fmt] = {"inputs": count["n"], "seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps({"formats": totals, "inputs": sum(t["inputs"] for t in totals.values()), "crashes": len(crashes)}))
    for c in crashes[:5]:
        print(c, file=sys.stderr)
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
