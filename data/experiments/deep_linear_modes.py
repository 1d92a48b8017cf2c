"""Mode-by-mode sigmoidal learning in a deep linear network, with time-to-learn ∝ 1/(singular value).

Tests the claim `deep-linear-mode-timescales` (Saxe, McClelland & Ganguli 2014). A two-layer linear network
y = W2 W1 x is trained by gradient flow (small-step gradient descent, time t = step × dt) on whitened inputs, so
the loss depends on the data only through the input–output correlation Σ = U diag(s) Vᵀ. The singular values s
span 16×. Weights start small, random and *not* aligned with the modes. For each mode we track its strength
a_i(t) = u_iᵀ W2 W1 v_i and record t½ (first time a_i ≥ s_i/2) and t₁₀ (first time a_i ≥ s_i/10). The theory
predicts t½ ∝ (1/s) ln(s/a₀), so log t½ against log s has slope close to −1 (the log factor pulls it slightly
above), modes are learned in order of decreasing s, and each is learned in a sharp sigmoidal step: t₁₀/t½ is
close to 1 (a long plateau, then a quick rise). Medians are taken over several random initialisations.
As a physical negative control, a shallow (single-layer) linear network is trained the same way: it learns each
mode exponentially from the start, with no plateau, so its t₁₀/t½ is ln(10/9)/ln 2 ≈ 0.15.
"""

import numpy as np

PARAMS = {
    "n_modes": 8,
    "hidden": 32,
    "s_min": 0.25,
    "s_max": 4.0,
    "init_scale": 1e-4,
    "dt": 0.01,
    "t_max": 60.0,
    "n_inits": 5,
    "layers": 2,  # 1 trains a single linear layer in the main run: depth, the mechanism, switched off
}


def _random_orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def _crossing_times(traj: np.ndarray, s: np.ndarray, times: np.ndarray, frac: float) -> np.ndarray:
    """First time each mode strength (columns of traj) reaches frac × s, linearly interpolated."""
    out = np.full(len(s), np.nan)
    for i in range(len(s)):
        hit = np.nonzero(traj[:, i] >= frac * s[i])[0]
        if len(hit) and hit[0] > 0:
            k = hit[0]
            a0, a1 = traj[k - 1, i], traj[k, i]
            out[i] = times[k - 1] + (frac * s[i] - a0) / (a1 - a0) * (times[k] - times[k - 1])
    return out


def _train(sigma: np.ndarray, u: np.ndarray, v: np.ndarray, weights: list, dt: float, steps: int):
    """Gradient flow on L = ½‖Σ − W_L…W_1‖²_F (whitened inputs); returns mode strengths over time."""
    traj = np.empty((steps + 1, sigma.shape[0]))
    for t in range(steps + 1):
        prod = weights[0]
        for w in weights[1:]:
            prod = w @ prod
        traj[t] = np.einsum("ji,jk,ki->i", u, prod, v)
        if t == steps:
            break
        err = sigma - prod
        if len(weights) == 1:
            weights[0] = weights[0] + dt * err
        else:
            w1, w2 = weights
            weights[0] = w1 + dt * (w2.T @ err)
            weights[1] = w2 + dt * (err @ w1.T)
    return traj


def run(params: dict, seed: int, outdir: str) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = {**PARAMS, **params}
    rng = np.random.default_rng(seed)
    n, h = int(p["n_modes"]), int(p["hidden"])
    s = np.geomspace(p["s_max"], p["s_min"], n)
    steps = int(round(p["t_max"] / p["dt"]))
    times = np.arange(steps + 1) * p["dt"]

    t_half, t_ten, deep_trajs = [], [], []
    shallow_ratio = []
    for _ in range(int(p["n_inits"])):
        u, v = _random_orthogonal(rng, n), _random_orthogonal(rng, n)
        sigma = u @ np.diag(s) @ v.T
        w1 = p["init_scale"] * rng.standard_normal((h, n))
        w2 = p["init_scale"] * rng.standard_normal((n, h))
        weights = [w1, w2] if int(p["layers"]) == 2 else [p["init_scale"] * rng.standard_normal((n, n))]
        traj = _train(sigma, u, v, weights, p["dt"], steps)
        deep_trajs.append(traj)
        t_half.append(_crossing_times(traj, s, times, 0.5))
        t_ten.append(_crossing_times(traj, s, times, 0.1))
        # shallow control: single linear layer from the same small scale
        w = p["init_scale"] * rng.standard_normal((n, n))
        straj = _train(sigma, u, v, [w], p["dt"], steps)
        sh = _crossing_times(straj, s, times, 0.5)
        st = _crossing_times(straj, s, times, 0.1)
        shallow_ratio.append(st / sh)

    t_half, t_ten = np.array(t_half), np.array(t_ten)
    all_learned = bool(np.all(np.isfinite(t_half)))
    med_half = np.median(t_half, axis=0)
    ratio10 = np.median(t_ten / t_half, axis=0)
    x, y = np.log(s), np.log(med_half)
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    r2 = 1 - np.sum(resid**2) / np.sum((y - y.mean()) ** 2)
    per_init_slopes = [np.polyfit(x, np.log(th), 1)[0] for th in t_half]
    # s is sorted descending, so learned-in-order means t½ strictly increasing along the array, for every init
    in_order = bool(np.all(np.diff(t_half, axis=1) > 0))
    shallow_ratio = np.median(np.array(shallow_ratio), axis=0)

    fig, axes = plt.subplots(1, 2, figsize=(6, 3))
    for i in range(n):
        axes[0].plot(times, deep_trajs[0][:, i] / s[i], lw=1)
    axes[0].set_xlabel("time t")
    axes[0].set_ylabel("mode strength a_i / s_i")
    axes[0].set_title("deep linear net, one init", fontsize=8)
    axes[1].loglog(s, med_half, "o", label="median t½")
    axes[1].loglog(s, np.exp(intercept) * s**slope, "-", label=f"fit slope {slope:.2f}")
    axes[1].set_xlabel("singular value s")
    axes[1].set_ylabel("t½")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(f"{outdir}/deep_linear_modes.png", dpi=90)
    plt.close(fig)

    return {
        "slope_log_thalf_vs_log_s": float(slope),
        "fit_r2": float(r2),
        "per_init_slope_min": float(np.min(per_init_slopes)),
        "per_init_slope_max": float(np.max(per_init_slopes)),
        "modes_learned_in_order": in_order,
        # log of the smallest ratio of successive t½ (weaker mode over stronger): positive when in order
        "order_gap_log_min": float(np.min(np.diff(np.log(t_half), axis=1))) if all_learned else float("nan"),
        "all_modes_learned": all_learned,
        "sigmoid_t10_over_thalf_min": float(np.min(ratio10)),
        "sigmoid_t10_over_thalf_median": float(np.median(ratio10)),
        "control_shallow_t10_over_thalf_max": float(np.max(shallow_ratio)),
        "thalf_fastest": float(med_half[0]),
        "thalf_slowest": float(med_half[-1]),
    }
