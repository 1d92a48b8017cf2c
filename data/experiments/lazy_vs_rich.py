"""Lazy versus rich training: how far the hidden weights move as width grows, under NTK and mean-field scaling.

Tests the claim `lazy-vs-rich-weight-change` (Jacot et al. 2018; Lee et al. 2019; Chizat, Oyallon & Bach 2019).
A two-layer tanh network f(x) = m^(−a) Σᵢ cᵢ tanh(wᵢ·x) of width m is trained by full-batch gradient descent on a
small regression task (n points on the unit sphere in R^d, labels from a fixed random teacher network), for the
same number of steps at every width. Under NTK scaling (a = ½, learning rate η) the network is a fixed kernel
machine in the wide limit and each weight moves by O(m^−½), so the relative change of the hidden-layer weights
‖W_T − W_0‖_F / ‖W_0‖_F shrinks like m^−½. Under mean-field scaling (a = 1, learning rate η·m, the physical
negative control) the features keep moving by O(1) however wide the network is, so the relative change does
not shrink. We fit log relative change against log width over a 64× range of widths, taking the median over
several initialisations, and report both slopes and the final training losses (both scalings must train).
"""

import numpy as np

PARAMS = {
    "widths": [64, 128, 256, 512, 1024, 2048, 4096],
    "n_train": 32,
    "dim": 8,
    "teacher_width": 4,
    "lr": 1.0,
    "steps": 400,
    "n_inits": 3,
    # the output exponent of the "NTK" arm; 1.0 (mean-field scaling, learning rate η·m) switches laziness off
    "ntk_exponent": 0.5,
}


def _train(x, y, w, c, a, lr, steps):
    """GD on L = (1/2n) Σ (f − y)² for f = m^(−a) Σ cᵢ tanh(wᵢ·x). Returns final w, c and loss."""
    n, m = x.shape[0], w.shape[0]
    scale = m ** (-a)
    for _ in range(steps):
        h = np.tanh(x @ w.T)  # n × m
        r = (h @ c) * scale - y
        gc = scale * (h.T @ r) / n
        gw = scale * ((r[:, None] * (1 - h**2) * c[None, :]).T @ x) / n
        c = c - lr * gc
        w = w - lr * gw
    h = np.tanh(x @ w.T)
    loss = 0.5 * np.mean(((h @ c) * scale - y) ** 2)
    return w, c, loss


def run(params: dict, seed: int, outdir: str) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = {**PARAMS, **params}
    rng = np.random.default_rng(seed)
    n, d = int(p["n_train"]), int(p["dim"])
    x = rng.standard_normal((n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    tw = rng.standard_normal((int(p["teacher_width"]), d)) * np.sqrt(d)
    y = np.tanh(x @ tw.T).sum(axis=1)
    y = y / y.std()
    widths = np.array(p["widths"])
    a_ntk = float(p["ntk_exponent"])
    regimes = {"ntk": (a_ntk, lambda m: p["lr"] * m ** (2 * a_ntk - 1)), "mf": (1.0, lambda m: p["lr"] * m)}
    rel = {k: np.zeros((int(p["n_inits"]), len(widths))) for k in regimes}
    loss = {k: np.zeros((int(p["n_inits"]), len(widths))) for k in regimes}
    for i in range(int(p["n_inits"])):
        for j, m in enumerate(widths):
            w0 = rng.standard_normal((m, d)) * np.sqrt(d)  # pre-activations wᵢ·x of order 1
            c0 = rng.standard_normal(m)
            for k, (a, lr) in regimes.items():
                w, _, loss[k][i, j] = _train(x, y, w0.copy(), c0.copy(), a, lr(m), int(p["steps"]))
                rel[k][i, j] = np.linalg.norm(w - w0) / np.linalg.norm(w0)
    med = {k: np.median(v, axis=0) for k, v in rel.items()}
    lw = np.log(widths)
    fits = {k: np.polyfit(lw, np.log(v), 1) for k, v in med.items()}
    base_loss = 0.5 * np.mean(y**2)

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for k, label in (("ntk", "NTK scaling"), ("mf", "mean-field scaling (control)")):
        ax.loglog(widths, med[k], "o", label=f"{label}: slope {fits[k][0]:.2f}")
        ax.loglog(widths, np.exp(fits[k][1]) * widths ** fits[k][0], "-", lw=1)
    ax.set_xlabel("width m")
    ax.set_ylabel("‖W_T − W_0‖ / ‖W_0‖")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(f"{outdir}/lazy_vs_rich.png", dpi=90)
    plt.close(fig)

    return {
        "ntk_weight_change_slope": float(fits["ntk"][0]),
        "mf_weight_change_slope": float(fits["mf"][0]),
        "ntk_rel_change_widest": float(med["ntk"][-1]),
        "mf_rel_change_widest": float(med["mf"][-1]),
        "ntk_final_loss_max_rel": float(np.max(loss["ntk"]) / base_loss),
        "mf_final_loss_max_rel": float(np.max(loss["mf"]) / base_loss),
    }
