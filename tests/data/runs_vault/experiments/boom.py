"""Raises: the run must end as an error with the traceback in its log."""

PARAMS = {}


def run(params, seed, outdir):
    raise RuntimeError("this experiment fails on purpose")
