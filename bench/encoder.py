"""The encoders side by side: `python -m bench.encoder [--extra DIR ...] [--variants ...] [--rounds 2] [--batch 32]`.

Reads real notes (data/notes plus any `--extra` vaults), makes the text the model reads for each exactly as
ingest does (`kg.embeddings.embed_text`), and encodes it with torch fp32 (sentence-transformers) and with each
ONNX variant (`recipes()` names them), in one process, taking turns round by round so a busy machine slows them
alike; all get the same batch size and thread count. Reports, for each
variant against torch fp32: throughput ratio (texts/s), median and minimum cosine of the same text's vectors,
recall@10 of each text's 10 nearest neighbours among the corpus, and agreement of the `similar` edges ingest
would write (k = 5, cosine ≥ 0.45). Results go to bench/out/encoder.json and a table to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
LOAD_BEFORE = os.getloadavg()
FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)


def read_texts(dirs: list[Path], min_chars: int = 0) -> list[str]:
    """The text ingest embeds for every Markdown note under `dirs` whose body has at least `min_chars`."""
    from kg.embeddings import embed_text

    out = []
    for d in dirs:
        for p in sorted(d.rglob("*.md")):
            text = p.read_text(encoding="utf-8", errors="replace")
            meta: dict[str, Any] = {}
            m = FRONT.match(text)
            if m:
                try:
                    loaded = yaml.safe_load(m.group(1))
                    meta = loaded if isinstance(loaded, dict) else {}
                except yaml.YAMLError:
                    pass
                text = text[m.end() :]
            if len(text.strip()) >= min_chars:
                out.append(embed_text(str(meta.get("title") or p.stem), text.strip(), meta))
    return out


def neighbours(vecs: np.ndarray, k: int) -> np.ndarray:
    sims = vecs @ vecs.T
    np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1, kind="stable")[:, :k]


def similar_edges(vecs: np.ndarray, k: int = 5, threshold: float = 0.45) -> set[tuple[int, int]]:
    sims = vecs @ vecs.T
    np.fill_diagonal(sims, -np.inf)
    top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return {(i, int(j)) for i in range(len(vecs)) for j in top[i] if sims[i, j] >= threshold}


def compare(ref: np.ndarray, vecs: np.ndarray) -> dict[str, float]:
    """How close `vecs` stay to `ref`: cosines of the same text, neighbour recall@10, similar-edge agreement."""
    cos = np.sum(ref * vecs, axis=1)
    a, b = neighbours(ref, 10), neighbours(vecs, 10)
    recall = np.mean([len(set(a[i]) & set(b[i])) / 10 for i in range(len(ref))])
    ea, eb = similar_edges(ref), similar_edges(vecs)
    return {
        "cos_median": float(np.median(cos)),
        "cos_min": float(cos.min()),
        "recall_at_10": float(recall),
        "similar_edges_ref": len(ea),
        "similar_edges_recall": len(ea & eb) / max(1, len(ea)),
        "similar_edges_precision": len(ea & eb) / max(1, len(eb)),
    }


ATTN_OUT, FFN_OUT = r"/attention/output/dense/MatMul$", r"\d/output/dense/MatMul$"
ENDS = r"(layer\.[05]/|Attention_[05]$)"  # every node of the first and last layer
BOTH = ("MatMul", "Attention")  # on the fused graph: the dense MatMuls and the fused Q/K/V projection


def recipes() -> dict[str, Any]:
    """Every mix the bench knows, by name: dynamic int8 on the exported graph, or on the fused one."""
    from kg.onnx_encoder import DEFAULT_RECIPE, FFN_DOWN, FP32, FUSED, QATTN_BLOCKS, Recipe, smooth_recipe

    known = [
        FP32,
        FUSED,
        Recipe("int8-all-matmul"),
        Recipe("int8-no-ffn-out", exclude=(FFN_OUT,)),
        Recipe("int8-qkv-ffn-in", exclude=(ATTN_OUT, FFN_OUT)),
        Recipe("int8-qkv-ffn-in-mid", exclude=(ATTN_OUT, FFN_OUT, r"layer\.[05]/")),
        Recipe("int8-all-matmul-tensor", per_channel=False),
        Recipe("int8-all-matmul-reduce", reduce_range=True),
        Recipe("fused-int8-all", fused=True, ops=BOTH),
        Recipe("fused-int8-dense", fused=True),
        Recipe("fused-int8-no-ffn-out", fused=True, ops=BOTH, exclude=(FFN_OUT,)),
        Recipe("fused-int8-qkv-ffn-in", fused=True, ops=BOTH, exclude=(ATTN_OUT, FFN_OUT)),
        Recipe("fused-int8-mid", fused=True, ops=BOTH, exclude=(ENDS,)),
        Recipe("fused-int8-no-first", fused=True, ops=BOTH, exclude=(r"(layer\.0/|Attention_0$)",)),
        Recipe("fused-int8-no-last", fused=True, ops=BOTH, exclude=(r"(layer\.5/|Attention_5$)",)),
        Recipe("fused-int8-all-tensor", fused=True, ops=BOTH, per_channel=False),
        Recipe("fused-int8-all-reduce", fused=True, ops=BOTH, reduce_range=True),
        Recipe("fused-w8b32", fused=True, ops=(), block=32),
        Recipe("fused-w8b128", fused=True, ops=(), block=128),
        QATTN_BLOCKS,
        Recipe("fused-qattn-w8b128-ends", fused=True, ops=("Attention",), block=128, exclude=(r"Attention_[05]$",)),
        smooth_recipe(0.75),
        Recipe("smooth75-int8-all", fused=True, smooth=0.75, ops=BOTH),
        Recipe("smooth50-int8-w8b128", fused=True, smooth=0.5, ops=BOTH, blocked=(FFN_DOWN,), block=128),
        Recipe("smooth85-int8-w8b128", fused=True, smooth=0.85, ops=BOTH, blocked=(FFN_DOWN,), block=128),
        DEFAULT_RECIPE,
    ]
    return {r.name: r for r in known}


class TorchFp32:
    """sentence-transformers on torch fp32 with the batch size the ONNX encoders get, sorted by length the same way."""

    def __init__(self, batch: int) -> None:
        from kg.embeddings import SentenceEmbedder

        self.model = SentenceEmbedder()._load()
        self.batch = batch

    def encode(self, texts: list[str]) -> np.ndarray:
        vecs = self.model.encode(texts, batch_size=self.batch, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vecs, dtype=np.float32)


def variants(names: list[str], batch: int | None, threads: int) -> dict[str, Any]:
    from kg.onnx_encoder import BATCH, OnnxEmbedder

    known = recipes()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return {n: OnnxEmbedder(known[n], threads=threads, batch=batch or BATCH) for n in names}


def run(
    texts: list[str], names: list[str], rounds: int, batch: int = 32, threads: int = 2, onnx_batch: int | None = None
) -> dict[str, Any]:
    import torch

    torch.set_num_threads(threads)
    encoders: dict[str, Any] = {"torch-fp32": TorchFp32(batch), **variants(names, onnx_batch, threads)}
    for enc in encoders.values():
        enc.encode(["warm up the encoder before timing", "and build its graph if it is not cached"])
    seconds: dict[str, list[float]] = {n: [] for n in encoders}
    vecs: dict[str, np.ndarray] = {}
    for _ in range(rounds):
        for name, enc in encoders.items():
            t = time.perf_counter()
            vecs[name] = enc.encode(texts)
            seconds[name].append(time.perf_counter() - t)
    ref = vecs["torch-fp32"]
    res: dict[str, Any] = {
        "texts": len(texts),
        "chars_median": float(np.median([len(t) for t in texts])),
        "threads": threads,
        "batch": batch,
        "onnx_batch": onnx_batch,
        "cores": os.cpu_count(),
        "load_avg_before": LOAD_BEFORE,
        "load_avg_after": os.getloadavg(),
        "rounds": rounds,
        "encoders": {},
    }
    base = sum(seconds["torch-fp32"])
    for name in encoders:
        row = {"seconds": seconds[name], "texts_per_s": len(texts) * rounds / sum(seconds[name])}
        row["speedup_vs_torch"] = base / sum(seconds[name])
        row.update(compare(ref, vecs[name]))
        res["encoders"][name] = row
    return res


def table(res: dict[str, Any]) -> str:
    lines = [
        f"{res['texts']} texts (median {res['chars_median']:.0f} chars), {res['rounds']} rounds, "
        f"batch {res['batch']} (torch) / {res.get('onnx_batch') or 'default'} (ONNX), "
        f"{res['threads']} threads, {res['cores']} cores (shared), "
        f"load {res['load_avg_before'][0]:.1f} before, {res['load_avg_after'][0]:.1f} after",
        "",
        "| encoder | texts/s | × torch fp32 | median cos | min cos | recall@10 | similar edges kept / added |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in res["encoders"].items():
        lines.append(
            f"| {name} | {r['texts_per_s']:.1f} | {r['speedup_vs_torch']:.2f} | {r['cos_median']:.4f} | "
            f"{r['cos_min']:.4f} | {r['recall_at_10']:.3f} | {r['similar_edges_recall']:.3f} / "
            f"{1 - r['similar_edges_precision']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from kg.onnx_encoder import DEFAULT_RECIPE

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--extra", type=Path, nargs="*", default=[], help="more vaults of real notes (not committed)")
    ap.add_argument("--min-chars", type=int, default=1000, help="skip notes with shorter bodies (default 1000)")
    ap.add_argument("--limit", type=int, default=0, help="use at most this many texts")
    ap.add_argument("--variants", nargs="*", default=["fp32", "fused-qattn-w8b128", DEFAULT_RECIPE.name])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32, help="torch's batch size (sentence-transformers' default 32)")
    ap.add_argument("--onnx-batch", type=int, default=None, help="the ONNX encoders' batch size (default: kg's)")
    ap.add_argument("--no-starter", action="store_true", help="leave out data/notes, the texts smoothing calibrates on")
    ap.add_argument("--threads", type=int, default=2, help="intra-op threads of every encoder, torch included")
    args = ap.parse_args(argv)
    starter = [] if args.no_starter else [ROOT / "data" / "notes"]
    texts = read_texts([*starter, *args.extra], args.min_chars)
    if args.limit:
        texts = texts[: args.limit]
    res = run(texts, args.variants, args.rounds, args.batch, args.threads, args.onnx_batch)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "encoder.json").write_text(json.dumps(res, indent=1))
    print(table(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
