"""Every parser runs in linear time on adversarial input: 1 MB runs of the characters that start links,
code, math, emphasis and HTML. Linear parsing takes about a second per MB here; a quadratic one would take
hours, so the generous cap below never flakes on a busy machine and still catches one."""

from __future__ import annotations

import subprocess
import sys

import pytest

RUNS = ["[[", "[](", "![](", "$", "`", "*", "<", "#", "[@", "\\cite{", "arXiv:", "10.1/", "%%", "==", "> [!", "]]"]
CAP_SECONDS = 300

SCRIPT = """
import sys
from ingest.pipeline import SourceFile, parse_source
runs = sys.argv[1:]
for fmt, name in [("markdown", "n.md"), ("bibtex", "r.bib"), ("notepage", "p.txt"), ("jsonl", "p.jsonl")]:
    for run in runs:
        data = (run * (1_000_000 // len(run))).encode()
        pf = parse_source(SourceFile("/x", "x", name), data, "0" * 64)
        assert pf.records is not None
print("ok")
"""


@pytest.mark.slow
def test_parsers_are_linear_on_adversarial_runs():
    proc = subprocess.run([sys.executable, "-c", SCRIPT, *RUNS], capture_output=True, text=True, timeout=CAP_SECONDS)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"
