"""Coverage-guided fuzzing of one parser with atheris (libFuzzer), for campaigns longer than the suite's
hypothesis run: `python -m tests.fuzz.atheris_run FORMAT [-max_total_time=60] [CORPUS_DIR ...]`.

The seed corpus is the format's seed plus the real-shaped files under tests/data; libFuzzer writes any input
that crashes a parser to `crash-*`, and each such input becomes a case in tests/test_fuzz.py.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["ingest"]):
    from tests.fuzz.targets import FORMATS, SEEDS, parse_any

DATA = Path(__file__).resolve().parent.parent / "data"


def seed_corpus(fmt: str) -> str:
    """A folder holding the format's seed and every test file with the format's extension."""
    folder = Path(tempfile.mkdtemp(prefix=f"fuzz-{fmt}-"))
    (folder / "seed").write_bytes(SEEDS[fmt])
    ext = Path(FORMATS[fmt]).suffix
    for i, f in enumerate(sorted(DATA.rglob(f"*{ext}"))):
        if f.is_file() and f.stat().st_size < 200_000:
            (folder / f"data-{i}").write_bytes(f.read_bytes())
    return str(folder)


def main() -> None:
    fmt = sys.argv[1]
    if fmt not in FORMATS:
        raise SystemExit(f"format must be one of {', '.join(sorted(FORMATS))}")
    args = [sys.argv[0], *sys.argv[2:]]
    if not any(not a.startswith("-") for a in args[1:]):
        args.append(seed_corpus(fmt))

    def one(data: bytes) -> None:
        parse_any(fmt, data)

    atheris.Setup(args, one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
