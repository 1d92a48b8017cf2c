"""Shift and scale the fused MiniLM graph so its activations quantise well, without changing what it computes.

Dynamic int8 quantises each activation tensor with one scale and zero point. In this model a few channels of
the LayerNorm outputs run to 28 where the median channel stays near 2, so one step size serves both and the
ordinary channels get a handful of levels. For every tensor that feeds a weight MatMul this module picks, per
channel j, a shift z_j (the middle of the channel's range on calibration texts) and a scale s_j (SmoothQuant's
max|x_j|^a / max|W_j|^(1-a)), then folds them into the graph so the fp32 result is unchanged:

- a LayerNorm output x feeding W: the norm emits (x - z) / s (its gamma and beta divided, beta shifted), the
  weight's rows are multiplied by s, and the consumer's bias gains z @ W. The residual path and any other
  reader get x back through one Mul and one Add.
- an attention context c feeding the output projection W: c is a convex mix of V's rows, so shifting and
  scaling V's columns (the last third of the fused Q/K/V weight and bias) gives (c - z) / s; W's rows are
  multiplied by s and the following SkipLayerNormalization's bias gains z @ W.

The calibration texts are the starter corpus's notes (data/notes), read as ingest reads them. The result is
checked in tests/test_encoder.py: the transformed fp32 graph gives the torch vectors.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CALIBRATION = Path(__file__).resolve().parent.parent / "data" / "notes"
CALIBRATION_TEXTS = 96
BATCH = 16
_FRONT = re.compile(r"\A---\s*\n.*?\n---\s*\n", re.S)


def calibration_texts(root: Path = CALIBRATION, limit: int = CALIBRATION_TEXTS) -> list[str]:
    """The first `limit` notes under `root` (sorted by path), front matter cut, as the model would read them."""
    from kg.embeddings import embed_text

    paths = sorted(root.rglob("*.md"))[:limit]
    if len(paths) < 8:
        raise RuntimeError(
            f"the encoder calibrates on the starter notes in {root}, and found {len(paths)} there; "
            "restore data/notes from the repository, or set KG_ENCODER=torch"
        )
    texts = []
    for p in paths:
        body = _FRONT.sub("", p.read_text(encoding="utf-8", errors="replace"), count=1)
        texts.append(embed_text(p.stem, body.strip(), {}))
    return texts


def calibration_digest(texts: list[str]) -> str:
    return hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]


@dataclass
class Site:
    """A tensor that feeds a weight MatMul: a LayerNorm output ("norm") or an attention context ("context")."""

    kind: str
    tensor: str
    producer: Any  # the node that writes `tensor`
    consumer: Any  # the weight op that reads it: Attention (Q/K/V) or MatMul


def sites(model: Any) -> tuple[list[Site], dict[str, list[Any]]]:
    """Every site of the fused graph in graph order, and each tensor's readers."""
    readers: dict[str, list[Any]] = {}
    for node in model.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    found = []
    for node in model.graph.node:
        out = node.output[0]
        if node.op_type in ("EmbedLayerNormalization", "SkipLayerNormalization"):
            weighted = [r for r in readers.get(out, []) if r.op_type in ("Attention", "MatMul") and r.input[0] == out]
            if weighted:
                found.append(Site("norm", out, node, weighted[0]))
        elif node.op_type == "Attention":
            found.append(Site("context", out, node, next(r for r in readers[out] if r.op_type == "MatMul")))
    return found, readers


def _batches(tokenizer: Any, texts: list[str]) -> Iterator[dict[str, np.ndarray]]:
    from kg.onnx_encoder import feed

    encs = tokenizer.encode_batch(texts)
    for start in range(0, len(encs), BATCH):
        yield feed(encs[start : start + BATCH])


def channel_ranges(model: Any, tokenizer: Any, texts: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each site's per-channel minimum and maximum over the real tokens of `texts`, padding left out."""
    import onnx
    import onnxruntime as ort
    from onnx import helper

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = [s.tensor for s in sites(probe)[0]]
    for name in names:
        probe.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    lo: dict[str, np.ndarray] = {}
    hi: dict[str, np.ndarray] = {}
    for batch in _batches(tokenizer, texts):
        real = batch["attention_mask"].astype(bool)
        for name, value in zip(names, session.run(names, batch), strict=True):
            tokens = value[real]
            lo[name] = np.minimum(lo.get(name, np.inf), tokens.min(0))
            hi[name] = np.maximum(hi.get(name, -np.inf), tokens.max(0))
    return {n: (lo[n].astype(np.float64), hi[n].astype(np.float64)) for n in names}


def shift_and_scale(model: Any, ranges: dict[str, tuple[np.ndarray, np.ndarray]], alpha: float) -> int:
    """Fold each site's shift and scale into `model`, in place (see the module's docstring). Returns the count."""
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}

    def get(name: str) -> np.ndarray:
        return numpy_helper.to_array(inits[name]).astype(np.float64)

    def put(name: str, value: np.ndarray) -> None:
        inits[name].CopyFrom(numpy_helper.from_array(value.astype(np.float32), name))

    found, readers = sites(model)
    if any(site.kind == "norm" and site.tensor in {o.name for o in graph.output} for site in found):
        raise ValueError("a shifted norm output is also a graph output; its readers outside the graph see it shifted")
    restores: list[tuple[str, list[Any]]] = []
    for site in found:
        lo, hi = ranges[site.tensor]
        z = (hi + lo) / 2
        spread = np.maximum(hi - z, z - lo)
        w = get(site.consumer.input[1])
        s = np.clip(spread, 1e-5, None) ** alpha / np.clip(np.abs(w).max(axis=1), 1e-5, None) ** (1 - alpha)
        put(site.consumer.input[1], w * s[:, None])
        if site.kind == "context":
            qkv, bias = get(site.producer.input[1]), get(site.producer.input[2])
            v = qkv.shape[1] * 2 // 3  # Q, K and V side by side; V is the last third
            qkv[:, v:] /= s
            bias[v:] = (bias[v:] - z) / s
            put(site.producer.input[1], qkv)
            put(site.producer.input[2], bias)
            norm = next(r for r in readers[site.consumer.output[0]] if r.op_type == "SkipLayerNormalization")
            put(norm.input[4], get(norm.input[4]) + z @ w)
            continue
        if site.consumer.op_type == "Attention":
            put(site.consumer.input[2], get(site.consumer.input[2]) + z @ w)
        else:  # the FFN's first MatMul: its bias lives in the BiasGelu that reads it
            gelu = next(r for r in readers[site.consumer.output[0]] if r.op_type == "BiasGelu")
            put(gelu.input[1], get(gelu.input[1]) + z @ w)
        gamma, beta = (5, 6) if site.producer.op_type == "EmbedLayerNormalization" else (2, 3)
        put(site.producer.input[gamma], get(site.producer.input[gamma]) / s)
        put(site.producer.input[beta], (get(site.producer.input[beta]) - z) / s)
        t = site.tensor
        for suffix, value in (("s", s), ("z", z)):
            graph.initializer.append(numpy_helper.from_array(value.astype(np.float32), f"{t}_{suffix}"))
        for reader in readers[t]:
            if reader is not site.consumer:
                for k, name in enumerate(reader.input):
                    if name == t:
                        reader.input[k] = f"{t}_restored"
        restores.append(
            (
                site.producer.name,
                [
                    helper.make_node("Mul", [t, f"{t}_s"], [f"{t}_scaled"], name=f"{t}_restore_scale"),
                    helper.make_node("Add", [f"{t}_scaled", f"{t}_z"], [f"{t}_restored"], name=f"{t}_restore_shift"),
                ],
            )
        )
    nodes = list(graph.node)
    for producer, new in restores:
        at = next(i for i, n in enumerate(nodes) if n.name == producer) + 1
        nodes[at:at] = new
    del graph.node[:]
    graph.node.extend(nodes)
    return len(found)


def smooth(src: Path, dst: Path, alpha: float, tokenizer: Any, texts: list[str]) -> None:
    """Write to `dst` the graph at `src` with every site shifted and scaled, calibrated on `texts`."""
    import onnx

    model = onnx.load(str(src))
    ranges = channel_ranges(model, tokenizer, texts)
    shift_and_scale(model, ranges, alpha)
    onnx.save(model, str(dst))
