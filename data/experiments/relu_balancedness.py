"""Balancedness of ReLU units is conserved by gradient flow; gradient descent drifts in proportion to η.

Tests the claim `relu-balancedness-conservation`. For a two-layer ReLU network f(x) = Σ_j a_j relu(w_j·x),
rescaling a unit's input weights by c and its output weight by 1/c leaves f unchanged, and that symmetry makes
c_j = ‖w_j‖² − a_j² a conserved quantity of gradient flow on any loss. Gradient descent with step η breaks it
only at second order per step (c_j changes by η²(‖∂_w_j L‖² − (∂_a_j L)²) each step), so over a fixed training
time T = η·steps the accumulated drift should scale linearly with η. We train from a small initialisation, so the
weights grow several-fold (the rich regime), with full-batch GD on a teacher task at step η and at η/2 (twice the
steps), and measure the drift Σ_j |Δc_j| relative to the change in the input-weight norms Σ_j |Δ‖w_j‖²|, and
the ratio of the two drifts. As a physical negative control the same network is trained with Adam, whose
per-coordinate rescaling of the gradient does not respect the symmetry.
"""

import numpy as np

PARAMS = {
    "n": 100,
    "d": 10,
    "width": 50,
    "teacher_width": 3,
    "lr": 0.04,
    "time": 40.0,
    "init_scale": 0.1,
    "adam_lr": 0.01,
    "adam_steps": 1000,
    "activation": "relu",  # "tanh" breaks the rescaling symmetry: the mechanism switched off
}


def _single_thread():
    """Limit BLAS to one thread: these arrays are small, and extra threads only spin on a shared machine."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the limit is an optimisation, not a requirement
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


ACTIVATION = "relu"


def _act(pre):
    """The activation and its derivative: ReLU is positively homogeneous, tanh is not."""
    if ACTIVATION == "tanh":
        t = np.tanh(pre)
        return t, 1 - t**2
    return np.maximum(pre, 0.0), (pre > 0).astype(float)


def _grads(W, a, X, y):
    """Loss 1/(2n) Σ (f(x)-y)^2 and its gradients with respect to W (m×d) and a (m)."""
    pre = X @ W.T
    act, dact = _act(pre)
    r = act @ a - y
    n = len(y)
    ga = act.T @ r / n
    gW = ((r[:, None] * dact) * a[None, :]).T @ X / n
    return 0.5 * np.mean(r**2), gW, ga


def _balance(W, a):
    return np.sum(W**2, axis=1) - a**2


def _train_gd(W, a, X, y, lr, steps):
    W, a = W.copy(), a.copy()
    for _ in range(steps):
        _, gW, ga = _grads(W, a, X, y)
        W -= lr * gW
        a -= lr * ga
    return W, a


def _train_adam(W, a, X, y, lr, steps, b1=0.9, b2=0.999, eps=1e-8):
    W, a = W.copy(), a.copy()
    mW, vW, ma, va = np.zeros_like(W), np.zeros_like(W), np.zeros_like(a), np.zeros_like(a)
    for t in range(1, steps + 1):
        _, gW, ga = _grads(W, a, X, y)
        mW = b1 * mW + (1 - b1) * gW
        vW = b2 * vW + (1 - b2) * gW**2
        ma = b1 * ma + (1 - b1) * ga
        va = b2 * va + (1 - b2) * ga**2
        W -= lr * (mW / (1 - b1**t)) / (np.sqrt(vW / (1 - b2**t)) + eps)
        a -= lr * (ma / (1 - b1**t)) / (np.sqrt(va / (1 - b2**t)) + eps)
    return W, a


def _drift(W0, a0, W1, a1):
    dc = np.abs(_balance(W1, a1) - _balance(W0, a0)).sum()
    dw = np.abs(np.sum(W1**2, axis=1) - np.sum(W0**2, axis=1)).sum()
    return float(dc), float(dw)


def run(params: dict, seed: int, outdir: str) -> dict:
    with _single_thread():
        return _run(params, seed, outdir)


def _run(params: dict, seed: int, outdir: str) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    global ACTIVATION
    ACTIVATION = str(params.get("activation", "relu"))
    if ACTIVATION not in ("relu", "tanh"):
        raise ValueError(f"activation must be relu or tanh, not {ACTIVATION!r}")
    rng = np.random.default_rng(seed)
    n, d, m = int(params["n"]), int(params["d"]), int(params["width"])
    X = rng.standard_normal((n, d))
    Wt = rng.standard_normal((int(params["teacher_width"]), d)) / np.sqrt(d)
    y = np.maximum(X @ Wt.T, 0.0).sum(axis=1)
    s = float(params["init_scale"])
    W0 = s * rng.standard_normal((m, d)) / np.sqrt(d)
    a0 = s * rng.standard_normal(m)

    lr, T = float(params["lr"]), float(params["time"])
    steps = int(round(T / lr))
    out = {}
    finals = {}
    for tag, eta, k in (("lr", lr, steps), ("half_lr", lr / 2, 2 * steps)):
        W1, a1 = _train_gd(W0, a0, X, y, eta, k)
        dc, dw = _drift(W0, a0, W1, a1)
        out[f"drift_{tag}"] = dc
        out[f"win_change_{tag}"] = dw
        out[f"drift_rel_{tag}"] = dc / dw
        out[f"final_loss_{tag}"] = float(_grads(W1, a1, X, y)[0])
        finals[tag] = (W1, a1)
    out["drift_ratio"] = out["drift_lr"] / out["drift_half_lr"]
    # the drift is first order in η, so drift per unit η is the step-size-free measure of conservation
    out["drift_rel_per_lr"] = out["drift_rel_lr"] / lr
    out["initial_loss"] = float(_grads(W0, a0, X, y)[0])
    out["win_norm_growth"] = float(np.sum(finals["lr"][0] ** 2) / np.sum(W0**2))

    Wa, aa = _train_adam(W0, a0, X, y, float(params["adam_lr"]), int(params["adam_steps"]))
    dc, dw = _drift(W0, a0, Wa, aa)
    out["control_adam_drift_rel"] = dc / dw
    out["control_adam_final_loss"] = float(_grads(Wa, aa, X, y)[0])

    fig, ax = plt.subplots(figsize=(5, 4))
    c0 = _balance(W0, a0)
    ax.scatter(c0, _balance(*finals["lr"]), s=12, label=f"GD η={lr:g}")
    ax.scatter(c0, _balance(Wa, aa), s=12, marker="x", label="Adam (control)")
    lim = [min(c0.min(), -0.05), max(c0.max(), 0.05)]
    ax.plot(lim, lim, "k--", lw=0.8, label="conserved")
    ax.set_xlabel("‖w_j‖² − a_j² at initialisation")
    ax.set_ylabel("‖w_j‖² − a_j² after training")
    ax.set_title("per-unit balancedness, two-layer ReLU net", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(f"{outdir}/relu_balancedness.png", dpi=90)
    plt.close(fig)
    return out
