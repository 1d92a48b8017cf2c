"""Label noise makes gradient descent drift along the zero-loss manifold to flatter minima (Blanc et al. 2020).

Tests the claim `label-noise-flattens`. A diagonal linear network w = u⊙u − v⊙v is fitted by full-batch gradient
descent to n < d noiseless linear measurements of a k-sparse teacher, starting from a large balanced
initialisation u = v = α. Plain gradient descent from that start lands on a dense interpolator (the kernel end of
the diagonal network; Woodworth et al. 2020) and, once the loss is zero, stays there. Phase two continues
training from that interpolator for the same number of steps in two ways: with label noise (each step's targets
are y + δξ with fresh random signs ξ) and without. Theory (Blanc et al.; Damian, Ma and Lee 2021; Li, Wang and
Arora 2022) says the noisy run drifts along the manifold of interpolators towards smaller Hessian trace, which for
this model is a weighted ℓ1 norm of w, so it also moves towards the sparse teacher. We record, for both runs, the
trace of the Hessian of the clean loss at the end relative to its value at the start of phase two, the clean
training loss at the end, and the distance to the teacher. The mechanism switch is `label_noise`: at 0 the two
runs coincide and nothing should drift.
"""

import numpy as np

PARAMS = {
    "n": 20,
    "d": 40,
    "k": 3,
    "alpha": 1.0,
    "lr": 0.02,
    "label_noise": 2.0,
    "fit_steps": 5000,
    "noise_steps": 40000,
    "settle_steps": 2000,
}


def hessian_trace(x: np.ndarray, u: np.ndarray, v: np.ndarray) -> float:
    """Trace of the Gauss–Newton Hessian of (1/2n)Σ(x·w − y)² in (u, v), exact at an interpolator."""
    c = np.mean(x**2, axis=0)
    return float(4.0 * np.sum(c * (u**2 + v**2)))


def train(x, y, u, v, lr, steps, noise, rng):
    """Full-batch GD on (u, v); with noise > 0 each step sees labels y + noise·(random signs)."""
    n = len(y)
    for _ in range(steps):
        target = y + noise * rng.choice([-1.0, 1.0], size=n) if noise > 0 else y
        r = x @ (u * u - v * v) - target
        g = x.T @ r / n
        u, v = u - lr * 2 * u * g, v + lr * 2 * v * g
    return u, v


def run(params: dict, seed: int, outdir: str) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = {**PARAMS, **params}
    rng = np.random.default_rng(seed)
    n, d, k = int(p["n"]), int(p["d"]), int(p["k"])
    x = rng.standard_normal((n, d))
    w_star = np.zeros(d)
    w_star[rng.choice(d, k, replace=False)] = rng.choice([-1.0, 1.0], size=k)
    y = x @ w_star
    lr = float(p["lr"])
    u = np.full(d, float(p["alpha"]))
    v = np.full(d, float(p["alpha"]))
    u, v = train(x, y, u, v, lr, int(p["fit_steps"]), 0.0, rng)
    trace0 = hessian_trace(x, u, v)
    err0 = float(np.linalg.norm(u * u - v * v - w_star))

    def clean_loss(a, b):
        return float(np.mean((x @ (a * a - b * b) - y) ** 2) / 2)

    ends = {}
    for name, noise in (("noisy", float(p["label_noise"])), ("plain", 0.0)):
        a, b = train(x, y, u.copy(), v.copy(), lr, int(p["noise_steps"]), noise, rng)
        a, b = train(x, y, a, b, lr, int(p["settle_steps"]), 0.0, rng)  # settle back onto the manifold
        ends[name] = (a, b)
    out = {"trace_start": trace0, "teacher_error_start": err0}
    for name, (a, b) in ends.items():
        out[f"{name}_trace_ratio"] = hessian_trace(x, a, b) / trace0
        out[f"{name}_clean_loss"] = clean_loss(a, b)
        out[f"{name}_teacher_error_ratio"] = float(np.linalg.norm(a * a - b * b - w_star)) / err0

    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    idx = np.arange(d)
    for name, (a, b) in ends.items():
        ax.plot(idx, a * a - b * b, "o" if name == "noisy" else "x", ms=4, label=f"{name} end")
    ax.plot(idx, w_star, "k_", ms=10, label="teacher")
    ax.set_xlabel("coordinate i")
    ax.set_ylabel("w_i")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(f"{outdir}/label_noise_flat_minima.png", dpi=90)
    plt.close(fig)
    return out
