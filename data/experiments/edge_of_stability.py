"""Edge of stability: under full-batch gradient descent the top Hessian eigenvalue rises to 2/η and hovers there.

Tests the claim `edge-of-stability-sharpness`. A tanh multilayer perceptron (two hidden layers of width 32) is
trained by full-batch gradient descent on a fixed regression task (200 Gaussian inputs, a smooth nonlinear
target) with squared loss. Every few steps we compute the sharpness λ, the largest eigenvalue of the training-loss
Hessian, with a Lanczos solver (scipy `eigsh`) on Hessian–vector products obtained by central differences of the
exact backpropagated gradient. Under gradient flow this network sharpens progressively; under gradient descent
with step η the classical stability bound says λ must stay below 2/η, and the claim is that λ rises to that bound
and then hovers at it while the loss keeps falling non-monotonically. We report, for two step sizes whose bound
2/η is well above the initial sharpness, the median of λη/2 over the second half of training. As a physical
negative control a small step size is run for the same number of steps: the network fits the data before its
sharpness gets anywhere near the (large) bound 2/η, so λη/2 should stay well below 1.
"""

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

PARAMS = {
    "n": 200,
    "d": 10,
    "width": 32,
    "lrs": [0.3, 0.2],
    "control_lr": 0.08,
    "steps": 2000,
    "measure_every": 10,
    "hvp_eps": 1e-5,
}


def _single_thread():
    """Limit BLAS to one thread: these arrays are small, and extra threads only spin on a shared machine."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the limit is an optimisation, not a requirement
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


class _MLP:
    """Two-hidden-layer tanh network with a flat parameter vector and exact gradients of 1/(2n)·Σ(f − y)²."""

    def __init__(self, X, y, width):
        self.X, self.y = X, y
        d = X.shape[1]
        self.shapes = [(d, width), (width,), (width, width), (width,), (width, 1)]

    def init(self, rng):
        d, h = self.shapes[0]
        ps = [
            rng.standard_normal((d, h)) / np.sqrt(d),
            np.zeros(h),
            rng.standard_normal((h, h)) / np.sqrt(h),
            np.zeros(h),
            rng.standard_normal((h, 1)) / np.sqrt(h),
        ]
        return np.concatenate([p.ravel() for p in ps])

    def _unpack(self, w):
        out, i = [], 0
        for s in self.shapes:
            k = int(np.prod(s))
            out.append(w[i : i + k].reshape(s))
            i += k
        return out

    def loss_grad(self, w):
        W1, b1, W2, b2, W3 = self._unpack(w)
        X, y = self.X, self.y
        a1 = np.tanh(X @ W1 + b1)
        a2 = np.tanh(a1 @ W2 + b2)
        r = (a2 @ W3)[:, 0] - y
        gf = r[:, None] / len(y)
        gz2 = (gf @ W3.T) * (1 - a2**2)
        gz1 = (gz2 @ W2.T) * (1 - a1**2)
        grads = (X.T @ gz1, gz1.sum(0), a1.T @ gz2, gz2.sum(0), a2.T @ gf)
        return 0.5 * float(np.mean(r**2)), np.concatenate([g.ravel() for g in grads])

    def sharpness(self, w, v0, eps):
        def hv(v):
            v = np.ravel(v)
            nv = np.linalg.norm(v)
            if nv == 0:
                return np.zeros_like(v)
            u = v / nv
            return (self.loss_grad(w + eps * u)[1] - self.loss_grad(w - eps * u)[1]) / (2 * eps) * nv

        op = LinearOperator((len(w), len(w)), matvec=hv, dtype=float)
        vals, vecs = eigsh(op, k=1, which="LA", v0=v0, tol=1e-7)
        return float(vals[0]), vecs[:, 0]


def _train(model, w0, lr, steps, every, eps, rng):
    w = w0.copy()
    v = rng.standard_normal(len(w))
    ts, sharp, losses = [], [], []
    for t in range(steps + 1):
        L, g = model.loss_grad(w)
        losses.append(L)
        if not np.isfinite(L):
            break
        if t % every == 0:
            s, v = model.sharpness(w, v, eps)
            ts.append(t)
            sharp.append(s)
        w -= lr * g
    return np.array(ts), np.array(sharp), np.array(losses)


def run(params: dict, seed: int, outdir: str) -> dict:
    with _single_thread():
        return _run(params, seed, outdir)


def _run(params: dict, seed: int, outdir: str) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    n, d = int(params["n"]), int(params["d"])
    X = rng.standard_normal((n, d))
    U = rng.standard_normal((d, 8))
    y = np.sin(2 * X @ U / np.sqrt(d)).sum(axis=1) / np.sqrt(8)
    y = (y - y.mean()) / y.std()
    model = _MLP(X, y, int(params["width"]))
    w0 = model.init(rng)
    steps, every, eps = int(params["steps"]), int(params["measure_every"]), float(params["hvp_eps"])

    out: dict = {"initial_sharpness": model.sharpness(w0, rng.standard_normal(len(w0)), eps)[0]}
    runs = {}
    medians = []
    for i, lr in enumerate(list(params["lrs"]) + [params["control_lr"]]):
        lr = float(lr)
        ts, s, losses = _train(model, w0, lr, steps, every, eps, rng)
        runs[lr] = (ts, s, losses)
        ratio = s * lr / 2
        second = ratio[ts >= steps // 2]
        med = float(np.median(second)) if len(second) else float("nan")
        tag = "control" if i == len(params["lrs"]) else f"lr{lr:g}"
        out[f"{tag}_ratio_median_second_half"] = med
        out[f"{tag}_ratio_max"] = float(np.max(ratio))
        out[f"{tag}_ratio_q10_second_half"] = float(np.quantile(second, 0.1)) if len(second) else float("nan")
        out[f"{tag}_ratio_q90_second_half"] = float(np.quantile(second, 0.9)) if len(second) else float("nan")
        out[f"{tag}_final_loss"] = float(losses[-1])
        out[f"{tag}_loss_nonmonotone_steps"] = int(np.sum(np.diff(losses) > 0))
        if tag != "control":
            medians.append(med)
            out[f"{tag}_bound_over_initial_sharpness"] = (2 / lr) / out["initial_sharpness"]
    out["ratio_median_min"] = float(min(medians))
    out["ratio_median_max"] = float(max(medians))
    largest_lr = max(float(x) for x in params["lrs"])
    out["bound_over_initial_sharpness_min"] = (2 / largest_lr) / out["initial_sharpness"]

    fig, axes = plt.subplots(1, 2, figsize=(6, 3.2))
    for lr, (ts, s, losses) in runs.items():
        (line,) = axes[0].plot(ts, s, lw=1, label=f"η={lr:g}")
        if 2 / lr < 3 * max(s.max() for _, s, _ in runs.values()):
            axes[0].axhline(2 / lr, color=line.get_color(), ls="--", lw=0.8)
        axes[1].semilogy(losses, lw=0.8, color=line.get_color())
    axes[0].set_xlabel("GD step")
    axes[0].set_ylabel("sharpness λ_max (dashed: 2/η)")
    axes[0].legend(fontsize=7)
    axes[1].set_xlabel("GD step")
    axes[1].set_ylabel("training loss")
    fig.tight_layout()
    fig.savefig(f"{outdir}/edge_of_stability.png", dpi=90)
    plt.close(fig)
    return out
