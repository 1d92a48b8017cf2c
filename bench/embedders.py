"""Stand-in vectors for scale runs of the graph and search layers (the ingest-cost figures use the real model).

`TopicEmbedder` reads the synthetic note's topic marker "(tNN)" and returns its topic centre plus noise, so the
vectors have the cluster structure of real embeddings: neighbours are meaningful and recall can be measured.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np


class TopicEmbedder:
    name = "bench-topic-vectors"
    dim = 384

    def __init__(self, topics: int = 2000, noise: float = 0.9, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        c = rng.standard_normal((topics, self.dim)).astype(np.float32)
        self.centres = c / np.linalg.norm(c, axis=1, keepdims=True)
        self.noise = noise

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            m = re.search(r"\(t(\d+)\)", t)
            h = int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")
            rng = np.random.default_rng(h)
            centre = self.centres[int(m.group(1)) % len(self.centres)] if m else 0.0
            v = centre + self.noise * rng.standard_normal(self.dim).astype(np.float32) / np.sqrt(self.dim)
            out[i] = v / np.linalg.norm(v)
        return out
