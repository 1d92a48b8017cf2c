"""Stationary loss of minibatch SGD on noisy linear regression against its closed form.

Tests the claim `sgd-stationary-loss`. Online SGD with learning rate η and batch size B on linear regression
with Gaussian inputs x ~ N(0, H) and label noise of variance σ² does not converge to the minimum: it settles
into a stationary distribution whose excess loss is set by η and B. For Gaussian inputs the second-moment
recursion closes exactly, giving, in the eigenbasis of H (eigenvalues h_i),
    A = (η/B) Σ_i h_i / (2 − η(1 + 1/B) h_i),   excess loss  L − σ²/2 = (σ²/2) · A / (1 − A),
which to first order depends on η/B only (the linear scaling rule). We run many independent chains for several
(η, B) pairs, compute the population loss of every iterate exactly from its error vector (no test sampling),
average it over a long stationary window after a burn-in, and report the ratio of measured to predicted excess
loss per pair. As a physical negative control a learning rate 1.5× beyond the mean-square stability bound
(A = 1) is run and is expected to diverge.
"""

import numpy as np

PARAMS = {
    "d": 20,
    "h_min": 0.25,
    "h_max": 1.0,
    "noise_var": 1.0,
    "configs": [[0.02, 1], [0.04, 2], [0.08, 4], [0.04, 1], [0.08, 2], [0.16, 4]],
    "chains": 100,
    "burn_in_times": 6,
    "average_times": 40,
    "control_lr_factor": 1.5,
    "control_batch": 1,
    "control_steps": 3000,
    # False replaces each minibatch gradient by the exact population gradient (gradient descent on the
    # population loss): no sampling noise, the mechanism switched off
    "gradient_noise": True,
}


def _single_thread():
    """Limit BLAS to one thread: these arrays are small, and extra threads only spin on a shared machine."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the limit is an optimisation, not a requirement
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def _A(eta: float, B: int, h: np.ndarray) -> float:
    return float(eta / B * np.sum(h / (2 - eta * (1 + 1 / B) * h)))


def predicted_excess(eta: float, B: int, h: np.ndarray, s2: float) -> float:
    A = _A(eta, B, h)
    return 0.5 * s2 * A / (1 - A)


def _simulate(eta, B, h, s2, chains, burn, avg, rng, record_every=1, noise=True):
    """SGD on the error e = w - w*, in H's eigenbasis (so x has independent N(0, h_i) coordinates)."""
    d = len(h)
    sq = np.sqrt(h)
    E = np.zeros((chains, d)) if noise else rng.standard_normal((chains, d))
    total, count, trace = 0.0, 0, []
    for t in range(burn + avg):
        if not noise:
            E -= eta * h * E  # the population gradient of ½ eᵀHe + σ²/2
        else:
            X = rng.standard_normal((chains, B, d)) * sq
            eps = rng.standard_normal((chains, B)) * np.sqrt(s2)
            r = np.einsum("cbd,cd->cb", X, E) - eps  # residual x·e − noise = prediction − label
            E -= eta / B * np.einsum("cb,cbd->cd", r, X)
        exc = 0.5 * np.sum(h * E**2, axis=1)  # population excess loss, exactly
        if t >= burn:
            total += exc.mean()
            count += 1
        if t % record_every == 0:
            trace.append(float(np.median(exc)))
        if not np.isfinite(exc).all() or exc.mean() > 1e12:
            return float("inf"), trace, t
    return total / count, trace, burn + avg


def run(params: dict, seed: int, outdir: str) -> dict:
    with _single_thread():
        return _run(params, seed, outdir)


def _run(params: dict, seed: int, outdir: str) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    d, s2 = int(params["d"]), float(params["noise_var"])
    noise = bool(params.get("gradient_noise", True))
    h = np.geomspace(float(params["h_min"]), float(params["h_max"]), d)
    chains = int(params["chains"])
    out: dict = {}
    ratios, measured, predicted = [], {}, {}
    for eta, B in params["configs"]:
        eta, B = float(eta), int(B)
        tau = 1.0 / (2 * eta * h.min())  # slowest relaxation time, in steps
        burn, avg = int(params["burn_in_times"] * tau), int(params["average_times"] * tau)
        m, _, _ = _simulate(eta, B, h, s2, chains, burn, avg, rng, noise=noise)
        p = predicted_excess(eta, B, h, s2)
        key = f"lr{eta:g}_b{B}"
        out[f"ratio_{key}"] = m / p
        out[f"A_{key}"] = _A(eta, B, h)
        measured[(eta, B)], predicted[(eta, B)] = m, p
        ratios.append(m / p)
    out["ratio_min"], out["ratio_max"] = float(min(ratios)), float(max(ratios))
    out["ratio_max_abs_dev"] = float(max(abs(r - 1) for r in ratios))

    # doubling η at fixed B roughly doubles the excess loss; doubling η and B together leaves it nearly unchanged
    dbl, lin = [], []
    for (eta, B), m in measured.items():
        if (2 * eta, B) in measured:
            dbl.append(measured[(2 * eta, B)] / m)
        if (2 * eta, 2 * B) in measured:
            lin.append(measured[(2 * eta, 2 * B)] / m)
    out["excess_ratio_double_lr"] = float(np.median(dbl))
    out["excess_ratio_double_lr_and_batch"] = float(np.median(lin))

    # control: past the mean-square stability bound (A = 1)
    Bc = int(params["control_batch"])
    lo, hi = 1e-6, 2.0 / ((1 + 1 / Bc) * h.max())
    for _ in range(100):
        mid = (lo + hi) / 2
        if _A(mid, Bc, h) < 1 and mid * (1 + 1 / Bc) * h.max() < 2:
            lo = mid
        else:
            hi = mid
    eta_c = float(params["control_lr_factor"]) * lo
    _, trace_c, t_c = _simulate(eta_c, Bc, h, s2, chains, 0, int(params["control_steps"]), rng, noise=noise)
    out["control_lr"] = eta_c
    out["critical_lr"] = lo
    out["control_diverged"] = bool(t_c < int(params["control_steps"]) or trace_c[-1] > 1e6)
    out["control_final_excess_log10"] = float(np.log10(max(trace_c[-1], 1e-300)))

    fig, ax = plt.subplots(figsize=(5.5, 4))
    keys = list(measured)
    xs = [e / b for e, b in keys]
    grid = np.linspace(min(xs) * 0.8, max(xs) * 1.2, 100)
    for i, B in enumerate(sorted({b for _, b in keys})):
        ax.plot(
            grid, [predicted_excess(g * B, B, h, s2) for g in grid], lw=0.8, color=f"C{i}", label=f"closed form, B={B}"
        )
        pts = [k for k in keys if k[1] == B]
        ax.scatter(
            [k[0] / B for k in pts],
            [measured[k] for k in pts],
            color=f"C{i}",
            s=18,
            zorder=3,
            label=f"SGD time average, B={B}",
        )
    ax.set_xlabel("η / B")
    ax.set_ylabel("stationary excess loss")
    ax.set_title("SGD stationary loss vs closed form", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(f"{outdir}/sgd_stationary_loss.png", dpi=90)
    plt.close(fig)
    return out
