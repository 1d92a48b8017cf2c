"""Grokking on modular addition: test accuracy jumps long after training accuracy saturates, driven by weight decay.

Tests the claim `grokking-weight-decay`. A two-layer network with quadratic activation (the solvable model of
Gromov 2023) learns (a + b) mod p from half of all p² pairs: f(a, b) = W · (u_a + v_b)², with embeddings
u, v ∈ R^N per residue and a readout W, trained full-batch with softmax cross-entropy and AdamW (decoupled
weight decay). For several independent initialisations and train/test splits we record the first step at which
training accuracy reaches 100% and the first step at which test accuracy reaches 95%, and their ratio (the
grokking delay). The physical negative control repeats every run with weight decay switched off and trains for
a fixed budget several times longer than the typical grokking time; test accuracy is expected to stay near
chance (1/p) even though the training set is fitted just as fast.
"""

import numpy as np

PARAMS = {
    "p": 23,
    "width": 128,
    "train_fraction": 0.5,
    "lr": 5e-3,
    "weight_decay": 1.0,
    "betas": [0.9, 0.98],
    "max_steps": 4000,
    "control_steps": 2000,
    "eval_every": 10,
    "runs": 5,
    "test_target": 0.95,
}


def _single_thread():
    """Limit BLAS to one thread: these arrays are small, and extra threads only spin on a shared machine."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the limit is an optimisation, not a requirement
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def _batch_runs(seeds, p, N, frac, lr, wd, betas, max_steps, eval_every, target):
    """Train len(seeds) independent runs at once (stacked arrays); return first-hit steps and accuracy curves."""
    R = len(seeds)
    pairs = np.array([(a, b) for a in range(p) for b in range(p)])
    ntr = int(frac * len(pairs))
    Ea, Eb, Y, te, yte, ytr, params = [], [], [], [], [], [], [[], [], []]
    eye = np.eye(p)
    for s in seeds:
        rng = np.random.default_rng(s)
        perm = rng.permutation(len(pairs))
        tr, tst = pairs[perm[:ntr]], pairs[perm[ntr:]]
        Ea.append(eye[tr[:, 0]])
        Eb.append(eye[tr[:, 1]])
        ytr.append(tr.sum(1) % p)
        Y.append(eye[ytr[-1]])
        te.append(tst)
        yte.append(tst.sum(1) % p)
        params[0].append(rng.standard_normal((p, N)) / np.sqrt(p))
        params[1].append(rng.standard_normal((p, N)) / np.sqrt(p))
        params[2].append(rng.standard_normal((N, p)) / np.sqrt(N))
    Ea, Eb, Y, ytr = np.stack(Ea), np.stack(Eb), np.stack(Y), np.stack(ytr)
    te, yte = np.stack(te), np.stack(yte)
    EaT, EbT = Ea.transpose(0, 2, 1).copy(), Eb.transpose(0, 2, 1).copy()
    params = [np.stack(x) for x in params]
    U, V, W = params
    ridx = np.arange(R)[:, None]
    m1 = [np.zeros_like(x) for x in params]
    m2 = [np.zeros_like(x) for x in params]
    b1, b2 = betas
    t_train = np.full(R, -1)
    t_test = np.full(R, -1)
    hist = []
    for t in range(max_steps + 1):
        z = Ea @ U + Eb @ V
        h = z**2
        o = h @ W
        if t % eval_every == 0:
            acc_tr = np.mean(o.argmax(2) == ytr, axis=1)
            zt = U[ridx, te[:, :, 0]] + V[ridx, te[:, :, 1]]
            acc_te = np.mean((zt**2 @ W).argmax(2) == yte, axis=1)
            hist.append(np.concatenate([[t], acc_tr, acc_te]))
            t_train[(t_train < 0) & (acc_tr == 1.0)] = t
            t_test[(t_test < 0) & (acc_te >= target)] = t
            if np.all(t_test >= 0):
                break
        o -= o.max(2, keepdims=True)
        P = np.exp(o)
        P /= P.sum(2, keepdims=True)
        go = (P - Y) / ntr
        gz = (go @ W.transpose(0, 2, 1)) * 2 * z
        grads = (EaT @ gz, EbT @ gz, h.transpose(0, 2, 1) @ go)
        for i, g in enumerate(grads):
            m1[i] = b1 * m1[i] + (1 - b1) * g
            m2[i] = b2 * m2[i] + (1 - b2) * g * g
            step = (m1[i] / (1 - b1 ** (t + 1))) / (np.sqrt(m2[i] / (1 - b2 ** (t + 1))) + 1e-8)
            params[i] -= lr * (step + wd * params[i])
    return t_train, t_test, np.array(hist)


def run(params: dict, seed: int, outdir: str) -> dict:
    with _single_thread():
        return _run(params, seed, outdir)


def _run(params: dict, seed: int, outdir: str) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p, N, frac = int(params["p"]), int(params["width"]), float(params["train_fraction"])
    lr, wd, betas = float(params["lr"]), float(params["weight_decay"]), tuple(params["betas"])
    every, target = int(params["eval_every"]), float(params["test_target"])
    runs = int(params["runs"])
    seeds = [[seed, r] for r in range(runs)]
    t_tr, t_te, hist = _batch_runs(seeds, p, N, frac, lr, wd, betas, int(params["max_steps"]), every, target)
    # control: identical splits and initialisations, no weight decay; 2.0 is an unreachable accuracy target
    c_tr, _, chist = _batch_runs(seeds, p, N, frac, lr, 0.0, betas, int(params["control_steps"]), every, 2.0)

    both = (t_tr >= 0) & (t_te >= 0)
    # a run that never reaches the test target gets the lower bound max_steps / t_train on its delay
    reached = np.where(t_te >= 0, t_te, int(params["max_steps"]))
    delays = np.where(t_tr >= 0, reached / np.maximum(t_tr, 1), 0.0)
    out = {
        "runs": runs,
        "grokked_runs": int(np.sum(both & (delays >= 5))),
        "delay_median": float(np.median(delays)),
        "delay_min": float(delays.min()),
        "delay_max": float(delays.max()),
        "train_fit_step_median": float(np.median(t_tr[t_tr >= 0])) if np.any(t_tr >= 0) else float("nan"),
        "test_95_step_median": float(np.median(t_te[t_te >= 0])) if np.any(t_te >= 0) else float("nan"),
        "runs_reaching_test_target": int(np.sum(t_te >= 0)),
        "control_test_acc_max": float(chist[:, 1 + runs :].max()),
        "control_test_acc_final_median": float(np.median(chist[-1, 1 + runs :])),
        "control_runs_fitting_train": int(np.sum(c_tr >= 0)),
        "control_steps": int(params["control_steps"]),
        "chance_accuracy": 1.0 / p,
    }

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(hist[:, 0], hist[:, 1], "C0--", label="train, weight decay")
    ax.plot(hist[:, 0], hist[:, 1 + runs], "C0-", label="test, weight decay")
    ax.plot(chist[:, 0], chist[:, 1], "C3--", lw=0.8, label="train, no decay (control)")
    ax.plot(chist[:, 0], chist[:, 1 + runs], "C3-", lw=0.8, label="test, no decay (control)")
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlabel("AdamW step")
    ax.set_ylabel("accuracy")
    ax.set_title(f"modular addition mod {p}, run 0 of {runs}", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(f"{outdir}/grokking.png", dpi=90)
    plt.close(fig)
    return out
