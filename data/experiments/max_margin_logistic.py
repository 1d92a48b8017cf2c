"""Gradient descent on separable data turns towards the hard-margin SVM direction (Soudry et al. 2018).

Tests the claim `logistic-gd-max-margin`. We draw n points in d dimensions, labelled by a random teacher
direction and kept only if their margin to the teacher's hyperplane exceeds a small gap, so the data are
linearly separable through the origin. Full-batch gradient descent from zero on the logistic loss has no
finite minimiser: the weight norm grows like log t, and the theory says its direction converges to the
L2 max-margin separator ŵ (the hard-margin SVM without bias), slowly, at a rate 1/log t. We compute ŵ
independently by coordinate ascent on the SVM dual, then record the cosine between the GD iterate and ŵ
at an early and a late checkpoint, and the ratio of the iterate's normalised margin to the SVM margin.
The mechanism is the exponential tail of the loss. With `loss = "square"` (regression on the ±1 labels)
gradient descent converges to the least-squares fit instead, whose direction is not the max-margin one; the
same metrics are then computed for that run, so that variant must fail the prediction.
"""

import numpy as np

PARAMS = {
    "n": 50,
    "d": 20,
    "gap": 0.1,
    "lr": 1.0,
    "steps": 100000,
    "early": 1000,
    "loss": "logistic",
}


def svm_direction(z: np.ndarray, sweeps: int = 4000) -> np.ndarray:
    """Hard-margin SVM through the origin: min ‖w‖² s.t. z_i·w ≥ 1, solved by dual coordinate ascent.

    `z` holds the label-signed points y_i x_i. Returns the unit max-margin direction.
    """
    k = z @ z.T
    alpha = np.zeros(len(z))
    w = np.zeros(z.shape[1])
    for _ in range(sweeps):
        for i in range(len(z)):
            g = 1.0 - z[i] @ w
            new = max(0.0, alpha[i] + g / k[i, i])
            w += (new - alpha[i]) * z[i]
            alpha[i] = new
    return w / np.linalg.norm(w)


def run(params: dict, seed: int, outdir: str) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = {**PARAMS, **params}
    rng = np.random.default_rng(seed)
    n, d = int(p["n"]), int(p["d"])
    teacher = rng.standard_normal(d)
    teacher /= np.linalg.norm(teacher)
    xs = []
    while len(xs) < n:
        x = rng.standard_normal(d)
        if abs(x @ teacher) > p["gap"]:
            xs.append(x)
    x = np.array(xs)
    y = np.sign(x @ teacher)
    z = y[:, None] * x
    w_svm = svm_direction(z)
    svm_margin = float(np.min(z @ w_svm))

    lr, steps, early = float(p["lr"]), int(p["steps"]), int(p["early"])
    if p["loss"] == "square":  # keep the quadratic run stable: step below 2 / top curvature
        lr = min(lr, 1.0 / np.linalg.eigvalsh(z.T @ z / n)[-1])
    w = np.zeros(d)
    checkpoints = np.unique(np.geomspace(10, steps, 40).astype(int))
    trace_t, trace_cos = [], []
    cos_early = margin_early = np.nan
    for t in range(1, steps + 1):
        m = z @ w
        if p["loss"] == "square":
            grad = -(z.T @ (1.0 - m)) / n
        else:
            grad = -(z.T @ (0.5 * (1.0 - np.tanh(0.5 * m)))) / n  # σ(−m) = (1 − tanh(m/2))/2, overflow-free
        w -= lr * grad
        if t in checkpoints or t == early:
            c = float(w @ w_svm / np.linalg.norm(w))
            if t == early:
                cos_early = c
                margin_early = float(np.min(z @ w) / np.linalg.norm(w) / svm_margin)
            if t in checkpoints:
                trace_t.append(t)
                trace_cos.append(c)
    unit = w / np.linalg.norm(w)
    cos_final = float(unit @ w_svm)
    margin_ratio = float(np.min(z @ unit) / svm_margin)

    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    ax.semilogx(trace_t, 1 - np.array(trace_cos), "o-", ms=3)
    ax.set_yscale("log")
    ax.set_xlabel("GD step t")
    ax.set_ylabel("1 − cos(w(t), ŵ_SVM)")
    ax.set_title(f"{p['loss']} loss")
    fig.tight_layout()
    fig.savefig(f"{outdir}/max_margin_logistic.png", dpi=90)
    plt.close(fig)

    return {
        "cos_svm_final": cos_final,
        "cos_svm_early": float(cos_early),
        "angle_shrink_ratio": float((1 - cos_final) / max(1 - cos_early, 1e-300)),
        "margin_ratio": margin_ratio,
        "margin_ratio_early": margin_early,
        "weight_norm": float(np.linalg.norm(w)),
        "svm_margin": svm_margin,
        "cos_teacher_svm": float(teacher @ w_svm),
    }
