"""A toy scaling law for the distribution tests: a slope near −½ with seed noise, and metrics that can be NaN."""

PARAMS = {"width": 64, "seconds": 0.0, "broken": False}


def run(params, seed, outdir):
    import math
    import time

    time.sleep(params["seconds"])
    noise = ((seed * 7919) % 11 - 5) / 100  # within ±0.05, fixed by the seed
    slope = -0.5 + noise if not params["broken"] else 0.0
    with open(f"{outdir}/law.svg", "w") as f:
        f.write("<svg xmlns='http://www.w3.org/2000/svg'/>")
    return {"slope": slope, "width": params["width"], "seed": seed, "nan": math.nan}
