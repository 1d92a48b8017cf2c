"""Never returns: the runner must kill it at its time limit."""

PARAMS = {}


def run(params, seed, outdir):
    while True:
        pass
