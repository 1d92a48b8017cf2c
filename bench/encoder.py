"""The encoders side by side: `python -m bench.encoder [--extra DIR ...] [--variants ...] [--rounds 2]`.

Reads real notes (data/notes plus any `--extra` vaults), makes the text the model reads for each exactly as
ingest does (`kg.embeddings.embed_text`), and encodes it with torch fp32 (sentence-transformers) and with each
ONNX variant, in one process, taking turns round by round so a busy machine slows them alike. Reports, for each
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
DEFAULT_VARIANT = "int8-qkv-ffn-in"
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


def variants(names: list[str]) -> dict[str, Any]:
    from kg.onnx_encoder import DEFAULT_RECIPE, FP32, OnnxEmbedder, Recipe

    attn_out, ffn_out = r"/attention/output/dense/MatMul$", r"\d/output/dense/MatMul$"
    known = {
        "onnx-fp32": FP32,
        "int8-all-matmul": Recipe("int8-all-matmul"),
        "int8-no-ffn-out": Recipe("int8-no-ffn-out", exclude=(ffn_out,)),
        "int8-qkv-ffn-in": Recipe("int8-qkv-ffn-in", exclude=(attn_out, ffn_out)),
        "int8-qkv-ffn-in-mid": Recipe("int8-qkv-ffn-in-mid", exclude=(attn_out, ffn_out, r"layer\.[05]/")),
        "int8-all-matmul-tensor": Recipe("int8-all-matmul-tensor", per_channel=False),
        "int8-all-matmul-reduce": Recipe("int8-all-matmul-reduce", reduce_range=True),
        DEFAULT_RECIPE.name: DEFAULT_RECIPE,
    }
    return {n: OnnxEmbedder(known[n]) for n in names}


def run(texts: list[str], names: list[str], rounds: int) -> dict[str, Any]:
    import torch

    from kg.embeddings import SentenceEmbedder

    encoders: dict[str, Any] = {"torch-fp32": SentenceEmbedder(), **variants(names)}
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
        "torch_threads": torch.get_num_threads(),
        "cores": os.cpu_count(),
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
        f"{res['cores']} cores (shared), load after {res['load_avg_after'][0]:.1f}",
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
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--extra", type=Path, nargs="*", default=[], help="more vaults of real notes (not committed)")
    ap.add_argument("--min-chars", type=int, default=1000, help="skip notes with shorter bodies (default 1000)")
    ap.add_argument("--limit", type=int, default=0, help="use at most this many texts")
    ap.add_argument("--variants", nargs="*", default=["onnx-fp32", "int8-all-matmul", DEFAULT_VARIANT])
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    texts = read_texts([ROOT / "data" / "notes", *args.extra], args.min_chars)
    if args.limit:
        texts = texts[: args.limit]
    res = run(texts, args.variants, args.rounds)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "encoder.json").write_text(json.dumps(res, indent=1))
    print(table(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
