"""µP keeps the best learning rate fixed across width; the standard parametrisation shifts it.

Tests the claim `mup-learning-rate-transfer`. A multilayer perceptron with two hidden tanh layers is trained by
full-batch gradient descent on a fixed regression task for a fixed number of steps, at widths spanning 16×
(32 to 512), over a learning-rate grid in octaves (powers of two). Two parametrisations are compared, both
anchored so that they coincide at the base width w₀ = 32:
  * standard parametrisation (SP): every weight initialised with variance 1/fan_in, one learning rate η;
  * maximal-update parametrisation (µP, the SGD table of Tensor Programs V): hidden weights as in SP; input
    weights with learning rate η·w/w₀; output weights initialised with variance w₀/w² ( = 1/fan_in · w₀/fan_in)
    and learning rate η·w₀/w.
For each width and parametrisation the best learning rate is the grid point with the lowest training loss, averaged
over the last quarter of training and (geometrically) over three initialisations; a diverged run counts as
infinitely bad. We report the spread of log₂(best η) across widths, in octaves, and the
slope of log₂(best η) against log₂(width). The SP run is the built-in negative control: its best learning rate
is expected to fall as the width grows, roughly as 1/width.
"""

import numpy as np

PARAMS = {
    "widths": [32, 64, 128, 256, 512],
    "n": 64,
    "d": 16,
    "steps": 60,
    "replicates": 3,
    "log2_lrs": [-6, -5, -4, -3, -2, -1, 0, 1, 2, 3],
    "base_width": 32,
    "mup_arm": "mup",  # "sp" trains the µP arm in the standard parametrisation: the mechanism switched off
}


def _single_thread():
    """Limit BLAS to one thread: these arrays are small, and extra threads only spin on a shared machine."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the limit is an optimisation, not a requirement
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def _train(X, y, init, lr, lr_mult, steps):
    """Full-batch GD on 1/(2n)·Σ(f − y)² with per-layer learning rates lr·lr_mult; return the loss curve."""
    W1, W2, W3 = (w.copy() for w in init)
    n = len(y)
    losses = []
    for _ in range(steps + 1):
        a1 = np.tanh(X @ W1)
        a2 = np.tanh(a1 @ W2)
        r = a2 @ W3 - y
        L = 0.5 * float(np.mean(r**2))
        losses.append(L)
        if not np.isfinite(L) or L > 1e6:
            return losses, True
        g = r / n
        gz2 = np.outer(g, W3) * (1 - a2**2)
        gW3 = a2.T @ g
        gz1 = (gz2 @ W2.T) * (1 - a1**2)
        gW2 = a1.T @ gz2
        gW1 = X.T @ gz1
        W1 -= lr * lr_mult[0] * gW1
        W2 -= lr * lr_mult[1] * gW2
        W3 -= lr * lr_mult[2] * gW3
    return losses, False


def run(params: dict, seed: int, outdir: str) -> dict:
    with _single_thread():
        return _run(params, seed, outdir)


def _run(params: dict, seed: int, outdir: str) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    n, d, steps, w0 = int(params["n"]), int(params["d"]), int(params["steps"]), int(params["base_width"])
    widths = [int(w) for w in params["widths"]]
    if params.get("mup_arm", "mup") not in ("mup", "sp"):
        raise ValueError(f"mup_arm must be mup or sp, not {params['mup_arm']!r}")
    mup_on = params.get("mup_arm", "mup") == "mup"
    log2_lrs = [float(k) for k in params["log2_lrs"]]
    X = rng.standard_normal((n, d))
    U = rng.standard_normal((d, 4))
    y = np.sin(2 * X @ U / np.sqrt(d)).sum(axis=1)
    y = (y - y.mean()) / y.std()

    best = {"sp": [], "mup": []}
    curves = {"sp": {}, "mup": {}}
    out: dict = {}
    reps = int(params["replicates"])
    tail = max(1, steps // 4)
    for w in widths:
        # Gaussian draws shared by both parametrisations (they differ by scale factors only)
        draws = [
            (rng.standard_normal((d, w)), rng.standard_normal((w, w)), rng.standard_normal(w)) for _ in range(reps)
        ]
        mults = {"sp": (1.0, 1.0, 1.0), "mup": (w / w0, 1.0, w0 / w) if mup_on else (1.0, 1.0, 1.0)}
        for par in ("sp", "mup"):
            # score: geometric mean over initialisations of the loss averaged over the last quarter of training
            finals = np.zeros(len(log2_lrs))
            for G1, G2, G3 in draws:
                scale3 = 1 / np.sqrt(w) if par == "sp" or not mup_on else np.sqrt(w0) / w
                init = (G1 / np.sqrt(d), G2 / np.sqrt(w), G3 * scale3)
                for i, k in enumerate(log2_lrs):
                    if not np.isfinite(finals[i]):
                        continue
                    losses, diverged = _train(X, y, init, 2.0**k, mults[par], steps)
                    finals[i] += np.inf if diverged else np.log(np.mean(losses[-tail:])) / reps
            finals = np.exp(finals)
            curves[par][w] = finals
            kbest = log2_lrs[int(np.argmin(finals))]
            best[par].append(kbest)
            out[f"{par}_best_log2_lr_w{w}"] = kbest
            out[f"{par}_best_loss_w{w}"] = float(np.min(finals))
            out[f"{par}_best_at_grid_edge_w{w}"] = bool(kbest in (log2_lrs[0], log2_lrs[-1]))

    lw = np.log2(widths)
    for par in ("sp", "mup"):
        b = np.array(best[par])
        out[f"{par}_shift_octaves"] = float(b.max() - b.min())
        out[f"{par}_slope"] = float(np.polyfit(lw, b, 1)[0])
        out[f"{par}_any_best_at_grid_edge"] = bool(any(out[f"{par}_best_at_grid_edge_w{w}"] for w in widths))
    out["initial_loss"] = 0.5 * float(np.mean(y**2))

    fig, axes = plt.subplots(1, 2, figsize=(6, 3), sharey=True)
    for ax, par, title in ((axes[0], "sp", "standard (SP)"), (axes[1], "mup", "µP")):
        for w in widths:
            f = curves[par][w]
            ax.plot(log2_lrs, np.where(np.isfinite(f), f, np.nan), marker=".", lw=1, label=f"width {w}")
        ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("log₂ learning rate")
    axes[0].set_ylabel(f"training loss after {steps} steps")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(f"{outdir}/mup_lr_transfer.png", dpi=90)
    plt.close(fig)
    return out
