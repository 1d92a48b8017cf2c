"""Write a small text PDF of a paper we describe in our own words, so the corpus exercises the PDF parser.

Usage: python scripts/make_sample_pdf.py OUT.pdf
"""

from __future__ import annotations

import sys
import textwrap

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["pdf.fonttype"] = 42
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

TITLE = "Exact solutions to the nonlinear dynamics of learning in deep linear neural networks"
AUTHORS = "Andrew M. Saxe, James L. McClelland, Surya Ganguli"
BODY = (
    "arXiv:1312.6120\n\n"
    "Abstract\n"
    "A summary in our own words for the starter corpus: in a deep linear network trained by gradient descent "
    "from small initial weights, each singular mode of the input-output correlation matrix is learned "
    "in a sigmoidal step, and the time to learn a mode scales inversely with its singular value. The "
    "paper derives these trajectories exactly and connects them to plateaus and sudden drops in the loss.\n\n"
    "1 Introduction\n"
    "This file is a sample PDF that the knowledge graph reads to test its PDF ingestion."
)


def main(out: str) -> None:
    with PdfPages(out, metadata={"Title": TITLE, "Author": AUTHORS, "CreationDate": None}) as pdf:
        fig = Figure(figsize=(8.27, 11.69))
        y = 0.95
        fig.text(0.08, y, TITLE[:60], fontsize=13, weight="bold")
        fig.text(0.08, y - 0.02, TITLE[60:], fontsize=13, weight="bold")
        fig.text(0.08, y - 0.05, AUTHORS, fontsize=10)
        y -= 0.1
        for para in BODY.split("\n"):
            for line in textwrap.wrap(para, 95) or [""]:
                fig.text(0.08, y, line, fontsize=9)
                y -= 0.018
        pdf.savefig(fig)


if __name__ == "__main__":
    main(sys.argv[1])
