"""Neural collapse to a simplex equiangular tight frame in the unconstrained-features model.

Tests the claim `neural-collapse-simplex-etf`. In the unconstrained-features (layer-peeled) model the last-layer
features h_i are free parameters trained jointly with the linear classifier (W, b) under softmax cross-entropy
and weight decay. We run gradient descent from a small random start on K balanced classes until the gradient is
tiny and measure the four signatures of neural collapse: NC1 = tr(Σ_W Σ_B⁺)/K (within-class variability
relative to between-class spread), the deviation of the pairwise cosines of the centred class means from the
simplex value −1/(K−1) (equiangularity), the spread of their norms (equinorm), and the distance between the
normalised classifier and the normalised centred class means (self-duality). As a physical negative control the
same model is trained on imbalanced classes (half the classes with many samples, half with few), where the
simplex geometry is expected to break (the regime of "minority collapse").
"""

import numpy as np

PARAMS = {
    "classes": 10,
    "feature_dim": 32,
    "per_class": 20,
    "weight_decay": 5e-3,
    "lr": 0.5,
    "max_steps": 60000,
    "grad_tol": 1e-9,
    "imbalanced_minority_per_class": 2,
    "imbalanced_majority_per_class": 40,
}


def _single_thread():
    """Limit BLAS to one thread: these arrays are small, and extra threads only spin on a shared machine."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the limit is an optimisation, not a requirement
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def _train(labels: np.ndarray, K: int, d: int, lam: float, lr: float, steps: int, tol: float, rng: np.random.Generator):
    """GD on mean_i[CE_i + lam/2 |h_i|^2] + lam/2 |W|^2 + lam/2 |b|^2, per-sample step for the features."""
    N = len(labels)
    Y = np.zeros((K, N))
    Y[labels, np.arange(N)] = 1.0
    H = 0.1 * rng.standard_normal((d, N))
    W = 0.1 * rng.standard_normal((K, d))
    b = np.zeros(K)
    history = []
    for t in range(steps):
        Z = W @ H + b[:, None]
        Z -= Z.max(axis=0, keepdims=True)
        P = np.exp(Z)
        P /= P.sum(axis=0, keepdims=True)
        G = (P - Y) / N
        gW = G @ H.T + lam * W
        gb = G.sum(axis=1) + lam * b
        gH = W.T @ G + lam * H / N  # gradient of the objective with respect to H
        gnorm = np.sqrt(np.sum(gW**2) + np.sum(gb**2) + N * np.sum(gH**2))
        if t % 500 == 0:
            history.append((t, gnorm))
        if gnorm < tol:
            break
        W -= lr * gW
        b -= lr * gb
        H -= lr * N * gH  # per-sample step size, so every block converges at one pace
    return H, W, b, t, gnorm, history


def _collapse_metrics(H: np.ndarray, W: np.ndarray, labels: np.ndarray, K: int) -> dict:
    mu_g = H.mean(axis=1)
    means = np.stack([H[:, labels == k].mean(axis=1) for k in range(K)], axis=1)
    M = means - mu_g[:, None]
    Sb = M @ M.T / K
    Sw = np.zeros_like(Sb)
    for k in range(K):
        D = H[:, labels == k] - means[:, [k]]
        Sw += D @ D.T / len(labels)
    nc1 = float(np.trace(Sw @ np.linalg.pinv(Sb, rcond=1e-10)) / K)
    norms = np.linalg.norm(M, axis=0)
    Mn = M / norms
    cos = Mn.T @ Mn
    off = cos[~np.eye(K, dtype=bool)]
    equiangular = float(np.max(np.abs(off + 1.0 / (K - 1))))
    equinorm = float(np.std(norms) / np.mean(norms))
    self_dual = float(np.linalg.norm(W.T / np.linalg.norm(W) - M / np.linalg.norm(M)))
    return {
        "nc1": nc1,
        "equiangularity": equiangular,
        "equinorm": equinorm,
        "self_duality": self_dual,
        "mean_cosine": float(off.mean()),
        "min_cosine": float(off.min()),
        "max_cosine": float(off.max()),
    }


def run(params: dict, seed: int, outdir: str) -> dict:
    with _single_thread():
        return _run(params, seed, outdir)


def _run(params: dict, seed: int, outdir: str) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    K, d = int(params["classes"]), int(params["feature_dim"])
    lam, lr = float(params["weight_decay"]), float(params["lr"])
    steps, tol = int(params["max_steps"]), float(params["grad_tol"])

    labels = np.repeat(np.arange(K), int(params["per_class"]))
    H0 = 0.1 * np.random.default_rng(seed + 10_000).standard_normal((d, len(labels)))
    init = _collapse_metrics(H0, rng.standard_normal((K, d)), labels, K)
    H, W, b, t, gnorm, hist = _train(labels, K, d, lam, lr, steps, tol, rng)
    out = _collapse_metrics(H, W, labels, K)
    out.update(
        {
            "steps_run": t,
            "final_grad_norm": float(gnorm),
            "simplex_cosine": -1.0 / (K - 1),
            "init_nc1": init["nc1"],
            "init_equiangularity": init["equiangularity"],
            "feature_norm_mean": float(np.linalg.norm(H, axis=0).mean()),
        }
    )

    # control: strongly imbalanced classes
    half = K // 2
    counts = [int(params["imbalanced_majority_per_class"])] * half + [int(params["imbalanced_minority_per_class"])] * (
        K - half
    )
    labels_c = np.repeat(np.arange(K), counts)
    Hc, Wc, _, tc, gc, _ = _train(labels_c, K, d, lam, lr, steps, tol, rng)
    ctrl = _collapse_metrics(Hc, Wc, labels_c, K)
    for key in ("equiangularity", "self_duality", "nc1", "min_cosine", "max_cosine"):
        out[f"control_imbalanced_{key}"] = ctrl[key]
    out["control_imbalanced_steps_run"] = tc

    fig, axes = plt.subplots(1, 2, figsize=(6, 3))
    Mb = np.stack([H[:, labels == k].mean(axis=1) for k in range(K)], axis=1)
    Mb -= Mb.mean(axis=1, keepdims=True)
    Mb /= np.linalg.norm(Mb, axis=0)
    Mc = np.stack([Hc[:, labels_c == k].mean(axis=1) for k in range(K)], axis=1)
    Mc -= Mc.mean(axis=1, keepdims=True)
    Mc /= np.linalg.norm(Mc, axis=0)
    for ax, Mx, title in ((axes[0], Mb, "balanced"), (axes[1], Mc, "imbalanced (control)")):
        im = ax.imshow(Mx.T @ Mx, vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_title(f"{title}\ncosines of class means", fontsize=9)
        ax.set_xticks(range(0, K, 2))
        ax.set_yticks(range(0, K, 2))
        ax.set_xlabel("class")
        ax.set_ylabel("class")
    fig.colorbar(im, ax=axes, shrink=0.8)
    fig.savefig(f"{outdir}/neural_collapse.png", dpi=90)
    plt.close(fig)
    return out
