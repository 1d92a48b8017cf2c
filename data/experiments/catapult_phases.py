"""Learning-rate phases of the catapult mechanism: lazy below η = 2/λ₀, catapult up to 4/λ₀, divergence above.

Tests the claim `catapult-phases` (Lewkowycz et al. 2020) in their solvable model: a wide two-layer linear
network f = vᵀu x / √m with one training point (x = 1, label 0), loss ½f², trained by full-batch gradient
descent. Its neural tangent kernel is λ = (‖u‖² + ‖v‖²)/m, and λ₀ is its value at initialisation. The theory
says: for ηλ₀ < 2 the loss falls monotonically and λ barely moves (lazy phase); for 2 < ηλ₀ < 4 the loss first
grows, λ is driven down until ηλ < 2, and then the loss converges (catapult phase); for ηλ₀ > 4 the loss diverges.
We run a grid of ηλ₀ values kept away from the two boundaries (over several random initialisations) and label
each run from its measured loss curve (lazy: loss never exceeds its initial value and converges; catapult: loss
rises above its initial value, then converges; divergent: loss exceeds 10⁸·m, far above the O(m) height of a
catapult spike; converged means the loss stays below 10⁻³ of its initial value over the last tenth of the
run). We also locate both boundaries by bisection on ηλ₀. As a physical negative control, the linearised
model (the kernel frozen at λ₀, as in the NTK limit) is run at the catapult-phase learning rates: without the
nonlinearity that lets λ fall, it diverges for every ηλ₀ > 2.
"""

import numpy as np

PARAMS = {
    "width": 2000,
    "n_inits": 5,
    "steps": 1000,
    "grid": [0.5, 1.0, 1.5, 2.5, 3.0, 3.5, 4.5, 5.0, 6.0],
    "bisect_iters": 16,
    "frozen_kernel": False,  # True trains the linearised model everywhere: the mechanism switched off
}

LAZY, CATAPULT, DIVERGE, UNRESOLVED = 0, 1, 2, -1
# A catapult spike reaches a loss of order the width m; a run is divergent once its loss exceeds this × m.
DIVERGED = 1e8


def _train(u: np.ndarray, v: np.ndarray, c: float, steps: int, linearised: bool = False):
    """GD at η = c/λ₀. Returns (loss curve, final η·λ). Linearised: kernel frozen at λ₀."""
    m = len(u)
    lam0 = (u @ u + v @ v) / m
    eta = c / lam0
    f = u @ v / np.sqrt(m)
    losses = [0.5 * f * f]
    for _ in range(steps):
        if linearised:
            f = f * (1 - eta * lam0)
        else:
            u, v = u - eta * f * v / np.sqrt(m), v - eta * f * u / np.sqrt(m)
            f = u @ v / np.sqrt(m)
        losses.append(0.5 * f * f)
        if not np.isfinite(losses[-1]) or losses[-1] > DIVERGED * m:
            break
    lam = (u @ u + v @ v) / m if not linearised else lam0
    return np.array(losses), eta * lam


def _label(losses: np.ndarray, m: int) -> int:
    l0 = losses[0]
    if not np.isfinite(losses[-1]) or losses[-1] > DIVERGED * m:
        return DIVERGE
    tail = losses[-len(losses) // 10 :]
    if tail.max() < 1e-3 * l0:
        return LAZY if losses.max() <= l0 * (1 + 1e-12) else CATAPULT
    return UNRESOLVED


def _boundary(u, v, steps, lo, hi, below, iters, frozen=False):
    """Bisection for the ηλ₀ where the phase label stops being `below`."""
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if _label(_train(u.copy(), v.copy(), mid, steps, linearised=frozen)[0], len(u)) == below:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def run(params: dict, seed: int, outdir: str) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = {**PARAMS, **params}
    rng = np.random.default_rng(seed)
    m, steps, grid = int(p["width"]), int(p["steps"]), np.array(p["grid"], float)
    frozen = bool(p["frozen_kernel"])
    expected = np.where(grid < 2, LAZY, np.where(grid < 4, CATAPULT, DIVERGE))
    correct, total = 0, 0
    spikes, final_etalam, lin_diverged, b_low, b_high = [], [], [], [], []
    curves = {}
    for k in range(int(p["n_inits"])):
        u, v = rng.standard_normal(m), rng.standard_normal(m)
        for c, want in zip(grid, expected, strict=True):
            losses, etalam = _train(u.copy(), v.copy(), c, steps, linearised=frozen)
            lab = _label(losses, m)
            correct += int(lab == want)
            total += 1
            if want == CATAPULT:
                spikes.append(losses.max() / losses[0])
                final_etalam.append(etalam)
                lin_losses, _ = _train(u.copy(), v.copy(), c, steps, linearised=True)
                lin_diverged.append(_label(lin_losses, m) == DIVERGE)
            if k == 0:
                curves[c] = losses
        b_low.append(_boundary(u, v, steps, 1.0, 3.0, LAZY, int(p["bisect_iters"]), frozen))
        b_high.append(_boundary(u, v, steps, 3.0, 5.0, CATAPULT, int(p["bisect_iters"]), frozen))

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for c in grid:
        cur = curves[c]
        ax.semilogy(np.arange(len(cur))[:60], cur[:60] / cur[0], label=f"ηλ₀={c:g}", lw=1)
    ax.set_ylim(1e-8, 1e7)
    ax.set_xlabel("GD step")
    ax.set_ylabel("loss / initial loss")
    ax.set_title(f"boundaries found at ηλ₀ ≈ {np.median(b_low):.3f} and {np.median(b_high):.3f}", fontsize=8)
    ax.legend(fontsize=6, ncol=3)
    fig.tight_layout()
    fig.savefig(f"{outdir}/catapult_phases.png", dpi=90)
    plt.close(fig)

    return {
        "phase_accuracy": correct / total,
        "n_runs_labelled": total,
        "lower_boundary_median": float(np.median(b_low)),
        "upper_boundary_median": float(np.median(b_high)),
        "lower_boundary_max_dev": float(np.max(np.abs(np.array(b_low) - 2))),
        "upper_boundary_max_dev": float(np.max(np.abs(np.array(b_high) - 4))),
        "catapult_spike_min": float(np.min(spikes)),
        "catapult_final_eta_lambda_max": float(np.max(final_etalam)),
        "control_linearised_diverged_fraction": float(np.mean(lin_diverged)),
    }
