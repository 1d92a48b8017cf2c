"""Marchenko–Pastur universality of the sample-covariance spectrum.

Tests the claim `marchenko-pastur-universality`: for an n×p matrix X with iid entries of mean 0 and variance 1,
the eigenvalues of XᵀX/n follow the Marchenko–Pastur law with aspect ratio γ = p/n, whatever the entry
distribution. We draw X with Gaussian, Rademacher (±1) and uniform (on [−√3, √3]) entries, compute the full
spectrum, and measure (a) the Kolmogorov–Smirnov distance between the empirical spectral CDF and the MP CDF and
(b) the relative error of the smallest and largest eigenvalues against the MP edges (1 ∓ √γ)². As a physical
negative control, entries drawn from a standard Cauchy law (no finite variance) are run through the same
pipeline (rescaled so that the mean eigenvalue is 1, as under the MP law): universality needs a finite second
moment, and their spectrum is expected to miss the MP law badly.
"""

import numpy as np

PARAMS = {"n": 10000, "p": 1000, "distributions": ["gaussian", "rademacher", "uniform"]}


def _single_thread():
    """Limit BLAS to one thread: extra threads only spin on a shared machine, and one thread is deterministic."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the limit is an optimisation, not a requirement
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def _entries(kind: str, rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Draw iid entries of mean 0 and variance 1 (Cauchy: scale 1, no variance)."""
    if kind == "gaussian":
        return rng.standard_normal(shape)
    if kind == "rademacher":
        return rng.choice([-1.0, 1.0], size=shape)
    if kind == "uniform":
        return rng.uniform(-np.sqrt(3.0), np.sqrt(3.0), size=shape)
    if kind == "cauchy":
        return rng.standard_cauchy(shape)
    raise ValueError(f"unknown entry distribution {kind!r}")


def _mp_cdf(gamma: float):
    """Return the MP edges and a vectorised CDF for aspect ratio gamma <= 1 (unit variance)."""
    a, b = (1 - np.sqrt(gamma)) ** 2, (1 + np.sqrt(gamma)) ** 2
    # x = a + (b-a)(1-cos t)/2 makes the density times dx smooth in t
    t = np.linspace(0.0, np.pi, 20001)
    x = a + (b - a) * (1 - np.cos(t)) / 2
    integrand = ((b - a) / 2) ** 2 * np.sin(t) ** 2 / (2 * np.pi * gamma * x)
    cum = np.concatenate([[0.0], np.cumsum((integrand[1:] + integrand[:-1]) / 2 * np.diff(t))])
    cum /= cum[-1]

    def cdf(lam: np.ndarray) -> np.ndarray:
        return np.interp(lam, x, cum, left=0.0, right=1.0)

    return a, b, cdf


def _ks(eigs: np.ndarray, cdf) -> float:
    lam = np.sort(eigs)
    m = len(lam)
    f = cdf(lam)
    i = np.arange(1, m + 1)
    return float(max(np.max(np.abs(f - i / m)), np.max(np.abs(f - (i - 1) / m))))


def run(params: dict, seed: int, outdir: str) -> dict:
    with _single_thread():
        return _run(params, seed, outdir)


def _run(params: dict, seed: int, outdir: str) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    n, p = int(params["n"]), int(params["p"])
    gamma = p / n
    a, b, cdf = _mp_cdf(gamma)

    out: dict = {"gamma": gamma, "mp_lower_edge": a, "mp_upper_edge": b}
    spectra = {}
    for kind in list(params["distributions"]) + ["cauchy"]:
        X = _entries(kind, rng, (n, p))
        if kind == "cauchy":
            # no variance to normalise by: rescale so the mean eigenvalue is 1, as it is for the MP law
            X /= np.sqrt(np.mean(X**2))
        eigs = np.linalg.eigvalsh(X.T @ X / n)
        spectra[kind] = eigs
        key = "control_cauchy" if kind == "cauchy" else kind
        out[f"{key}_ks"] = _ks(eigs, cdf)
        out[f"{key}_lower_edge_relerr"] = float(abs(eigs.min() - a) / a)
        out[f"{key}_upper_edge_relerr"] = float(abs(eigs.max() - b) / b)

    kinds = list(params["distributions"])
    out["ks_max"] = max(out[f"{k}_ks"] for k in kinds)
    out["edge_relerr_max"] = max(max(out[f"{k}_lower_edge_relerr"], out[f"{k}_upper_edge_relerr"]) for k in kinds)

    fig, ax = plt.subplots(figsize=(6, 4))
    grid = np.linspace(a, b, 400)
    dens = np.sqrt(np.maximum((b - grid) * (grid - a), 0)) / (2 * np.pi * gamma * grid)
    bins = np.linspace(0, b * 1.15, 60)
    for kind in kinds:
        ax.hist(spectra[kind], bins=bins, density=True, histtype="step", label=kind)
    cauchy_in = spectra["cauchy"][spectra["cauchy"] < bins[-1]]
    ax.hist(
        cauchy_in,
        bins=bins,
        weights=np.full(len(cauchy_in), 1 / (len(spectra["cauchy"]) * np.diff(bins)[0])),
        histtype="step",
        linestyle=":",
        color="grey",
        label="Cauchy (control)",
    )
    ax.plot(grid, dens, "k-", lw=1.5, label=f"MP law, γ={gamma:g}")
    ax.set_ylim(0, 1.6 * dens.max())  # the Cauchy spike near 0 runs off the top
    ax.set_xlabel("eigenvalue of XᵀX/n")
    ax.set_ylabel("density")
    ax.set_title(f"Marchenko–Pastur, n={n}, p={p}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(f"{outdir}/marchenko_pastur.png", dpi=90)
    plt.close(fig)
    return out
