"""Squares its input: a toy experiment for the test vault."""

PARAMS = {"x": 2}


def run(params, seed, outdir):
    return {"y": float(params["x"]) ** 2}
