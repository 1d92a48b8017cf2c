"""Backpropagated gradients in deep random tanh networks grow or decay per layer by ln χ₁.

Tests the claim `signal-propagation-gradient-growth` (Poole et al. 2016; Schoenholz et al. 2017). In a deep,
wide tanh network with weights N(0, σ_w²/N) and biases N(0, σ_b²), pre-activations settle at the variance fixed
point q* = σ_w² E[tanh(√q* z)²] + σ_b², and mean-field theory predicts that the squared norm of the
backpropagated gradient changes by the factor χ₁ = σ_w² E[tanh'(√q* z)²] per layer (z standard normal;
expectations by Gauss–Hermite quadrature). So ln‖δ_l‖² is linear in the number of layers travelled back, with
slope ln χ₁: negative in the ordered phase, positive in the chaotic phase, and zero on the critical line χ₁ = 1.
We build networks of width N and depth L (inputs drawn at the fixed point), push a random error signal back
from the top, fit the slope of the log of the batch-mean squared gradient norm against depth, and compare it
with ln χ₁ at four values of σ_w², one of them the critical value found by root-finding. As a contrast, we also
report the error of the naive linear-network prediction ln σ_w², which ignores the tanh derivative.
"""

import numpy as np
from scipy.optimize import brentq

PARAMS = {
    "width": 500,
    "depth": 40,
    "batch": 8,
    "n_networks": 4,
    "sigma_b2": 0.05,
    "sigma_w2": [1.2, "critical", 2.5, 4.0],
    "activation": "tanh",  # "linear" simulates a network without the nonlinearity: the mechanism switched off
}

_Z, _WZ = np.polynomial.hermite_e.hermegauss(101)
_WZ = _WZ / _WZ.sum()


def fixed_point_q(sw2: float, sb2: float) -> float:
    """Fixed point of the variance map q ↦ σ_w² E[tanh(√q z)²] + σ_b²."""
    q = 1.0
    for _ in range(2000):
        q_new = sw2 * np.sum(_WZ * np.tanh(np.sqrt(q) * _Z) ** 2) + sb2
        if abs(q_new - q) < 1e-14:
            break
        q = q_new
    return q_new


def chi1(sw2: float, sb2: float) -> float:
    q = fixed_point_q(sw2, sb2)
    return sw2 * np.sum(_WZ * (1 - np.tanh(np.sqrt(q) * _Z) ** 2) ** 2)


def _identity(h: np.ndarray) -> np.ndarray:
    return h


def _ones(h: np.ndarray) -> np.ndarray:
    return np.ones_like(h)


def run(params: dict, seed: int, outdir: str) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = {**PARAMS, **params}
    rng = np.random.default_rng(seed)
    n, depth, batch, sb2 = int(p["width"]), int(p["depth"]), int(p["batch"]), float(p["sigma_b2"])
    sw2_crit = brentq(lambda s: chi1(s, sb2) - 1, 1.0, 3.0, xtol=1e-12)
    sw2s = [sw2_crit if s == "critical" else float(s) for s in p["sigma_w2"]]
    if p["activation"] not in ("tanh", "linear"):
        raise ValueError(f"activation must be tanh or linear, not {p['activation']!r}")
    phi, dphi = (np.tanh, lambda h: 1 - np.tanh(h) ** 2) if p["activation"] == "tanh" else (_identity, _ones)
    # common random numbers: the same standard-normal weights, rescaled for each σ_w²
    nets = []
    for _ in range(int(p["n_networks"])):
        w = rng.standard_normal((depth, n, n)) / np.sqrt(n)
        b = rng.standard_normal((depth, n))
        z_in = rng.standard_normal((batch, n))
        top = rng.standard_normal((batch, n))
        nets.append((w, b, z_in, top))

    slopes, theory, curves = [], [], []
    for sw2 in sw2s:
        q = fixed_point_q(sw2, sb2)
        log_norms = np.zeros((len(nets), depth))
        for k, (w, b, z_in, top) in enumerate(nets):
            hs = []
            h = np.sqrt(q) * z_in
            for layer in range(depth):
                h = phi(h) @ (np.sqrt(sw2) * w[layer]).T + np.sqrt(sb2) * b[layer]
                hs.append(h)
            # δ_l = ∂loss/∂h_l; going down: δ_{l−1} = tanh'(h_{l−1}) ⊙ (W_lᵀ δ_l)
            delta = top
            for layer in range(depth - 1, -1, -1):
                log_norms[k, depth - 1 - layer] = np.log(np.mean(np.sum(delta**2, axis=1)))
                if layer == 0:
                    break
                delta = dphi(hs[layer - 1]) * (delta @ (np.sqrt(sw2) * w[layer]))
        mean_log = log_norms.mean(axis=0)
        travelled = np.arange(depth)
        slopes.append(np.polyfit(travelled, mean_log, 1)[0])
        theory.append(np.log(chi1(sw2, sb2)))
        curves.append(mean_log - mean_log[0])
    slopes, theory = np.array(slopes), np.array(theory)
    err = np.abs(slopes - theory)
    naive_err = np.abs(slopes - np.log(sw2s))
    crit = int(np.argmin(np.abs(np.array(sw2s) - sw2_crit)))

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for sw2, cur, th in zip(sw2s, curves, theory, strict=True):
        ax.plot(np.arange(depth), cur, "o", ms=3, label=f"σ_w²={sw2:.3f}")
        ax.plot(np.arange(depth), th * np.arange(depth), "k-", lw=0.8)
    ax.set_xlabel("layers travelled back from the output")
    ax.set_ylabel("ln ‖δ‖² (relative to top)")
    ax.set_title("points: measured; lines: slope ln χ₁", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(f"{outdir}/signal_propagation.png", dpi=90)
    plt.close(fig)

    out = {
        "slope_err_max": float(err.max()),
        "critical_sigma_w2": float(sw2_crit),
        "critical_slope": float(slopes[crit]),
        "ordered_slope": float(slopes[0]),
        "chaotic_slope_max": float(slopes[-1]),
        "naive_linear_err_max": float(naive_err.max()),
    }
    for sw2, sl, th in zip(sw2s, slopes, theory, strict=True):
        out[f"slope_minus_ln_chi1_at_{sw2:.3f}".replace(".", "p")] = float(sl - th)
    return out
