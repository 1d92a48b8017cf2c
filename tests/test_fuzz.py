"""Property: any bytes, fed to any parser, give records or a per-file error with a message. Never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.targets import FORMATS, SEEDS, nested, parse_any

QUICK = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])


def mutations(seed: bytes) -> st.SearchStrategy[bytes]:
    """The format's seed with bytes flipped, cut, repeated or spliced with arbitrary bytes."""
    return st.one_of(
        st.binary(max_size=600),
        st.tuples(st.integers(0, len(seed)), st.binary(max_size=40)).map(lambda t: seed[: t[0]] + t[1] + seed[t[0] :]),
        st.tuples(st.integers(0, len(seed)), st.integers(0, len(seed))).map(lambda t: seed[: t[0]] + seed[t[1] :]),
        st.lists(st.sampled_from(list(seed.split(b"\n"))), max_size=30).map(b"\n".join),
        st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass")),
    )


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_parsers_never_crash(fmt):
    @QUICK
    @given(mutations(SEEDS[fmt]))
    def check(data: bytes) -> None:
        parse_any(fmt, data)

    check()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_seed_inputs_parse(fmt):
    pf = parse_any(fmt, SEEDS[fmt])
    assert pf.records


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_deep_nesting_is_an_error_or_records_not_a_crash(fmt):
    import tracemalloc

    tracemalloc.start()
    parse_any(fmt, nested(fmt, 100_000))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 200 * 1024 * 1024


CRASHES = Path(__file__).parent / "fuzz" / "crashes"


@pytest.mark.parametrize("path", sorted(CRASHES.iterdir()), ids=lambda p: p.name)
def test_inputs_that_once_crashed_a_parser(path: Path):
    """Every input a fuzzing campaign found to crash a parser: now records or a per-file error."""
    fmt = {".pdf": "pdf", ".md": "markdown", ".bib": "bibtex", ".xml": "atom", ".jsonl": "jsonl"}[path.suffix]
    parse_any(fmt, path.read_bytes())
