"""Sharpness-aware minimisation ends at flatter minima than gradient descent from the same start (Foret et al. 2021).

Tests the claim `sam-lowers-sharpness`. A two-layer linear network f(x) = w2ᵀ W1 x is fitted to a noiseless linear
teacher by full-batch gradient descent and by full-batch SAM, from the same unbalanced initialisation (W1 scaled
up by `imbalance`, w2 scaled down by the same factor). Under gradient flow the imbalance W1W1ᵀ − w2w2ᵀ is
conserved, so gradient descent reaches a global minimum that keeps the large first layer and is sharp: the top
Hessian eigenvalue grows with the squared first-layer norm. SAM takes each step with the gradient evaluated at the
adversarially perturbed point θ + ρ g/‖g‖. Once the loss is near zero this acts as a drift down the top Hessian
eigenvalue along the manifold of minima (Wen, Ma and Li 2023), so it rebalances the layers and ends flatter.
We measure the top eigenvalue of the loss Hessian by power iteration on finite-difference Hessian–vector products,
for both final points, and both final losses. The mechanism switch is `rho`: at 0 SAM is gradient descent.
"""

import numpy as np

PARAMS = {
    "n": 40,
    "d": 6,
    "h": 8,
    "imbalance": 2.5,
    "lr": 0.01,
    "rho": 0.1,
    "steps": 20000,
}


def loss_grad(theta, x, y, d, h):
    """Loss (1/2n)Σ(f − y)² and its gradient for θ = (W1 flattened, w2)."""
    w1 = theta[: h * d].reshape(h, d)
    w2 = theta[h * d :]
    hid = x @ w1.T
    r = (hid @ w2 - y) / len(y)
    g1 = np.outer(w2, x.T @ r)
    g2 = hid.T @ r
    return 0.5 * len(y) * float(r @ r), np.concatenate([g1.ravel(), g2])


def top_eigenvalue(theta, x, y, d, h, iters=300, eps=1e-5, seed=0):
    """Largest Hessian eigenvalue by power iteration with central-difference Hessian–vector products."""
    v = np.random.default_rng(seed).standard_normal(theta.size)
    v /= np.linalg.norm(v)
    lam = 0.0
    for _ in range(iters):
        hv = (loss_grad(theta + eps * v, x, y, d, h)[1] - loss_grad(theta - eps * v, x, y, d, h)[1]) / (2 * eps)
        lam = float(v @ hv)
        v = hv / np.linalg.norm(hv)
    return lam


def train(theta, x, y, d, h, lr, rho, steps):
    for _ in range(steps):
        _, g = loss_grad(theta, x, y, d, h)
        if rho > 0:
            gn = np.linalg.norm(g)
            if gn > 0:
                _, g = loss_grad(theta + rho * g / gn, x, y, d, h)
        theta = theta - lr * g
    return theta


def run(params: dict, seed: int, outdir: str) -> dict:
    p = {**PARAMS, **params}
    rng = np.random.default_rng(seed)
    n, d, h = int(p["n"]), int(p["d"]), int(p["h"])
    x = rng.standard_normal((n, d))
    beta = rng.standard_normal(d)
    y = x @ beta
    a = float(p["imbalance"])
    w1 = a * rng.standard_normal((h, d)) / np.sqrt(d)
    w2 = rng.standard_normal(h) / (a * np.sqrt(h))
    theta0 = np.concatenate([w1.ravel(), w2])
    loss0, _ = loss_grad(theta0, x, y, d, h)
    lr, steps = float(p["lr"]), int(p["steps"])
    gd = train(theta0, x, y, d, h, lr, 0.0, steps)
    sam = train(theta0, x, y, d, h, lr, float(p["rho"]), steps)
    lam_gd = top_eigenvalue(gd, x, y, d, h, seed=seed)
    lam_sam = top_eigenvalue(sam, x, y, d, h, seed=seed)
    return {
        "gd_sharpness": lam_gd,
        "sam_sharpness": lam_sam,
        "sharpness_ratio": lam_sam / lam_gd,
        "gd_stability_ratio": lam_gd * lr / 2,
        "gd_loss_ratio": loss_grad(gd, x, y, d, h)[0] / loss0,
        "sam_loss_ratio": loss_grad(sam, x, y, d, h)[0] / loss0,
    }
