"""Sleeps, then reports its seed and draws a plot: a run that takes long enough to be joined."""

PARAMS = {"seconds": 2.0}


def run(params, seed, outdir):
    import time

    import matplotlib.pyplot as plt

    time.sleep(params["seconds"])
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, seed])
    fig.savefig(f"{outdir}/slow.png", dpi=50)
    return {"seed": seed, "value": 0.5}
