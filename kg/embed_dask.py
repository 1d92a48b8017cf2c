"""Bulk embedding on a Dask cluster: texts cut into partitions, each embedded by a worker that loads the model once.

For corpora that outgrow one machine (all of arXiv's cs.LG is about 1M abstracts). Workers only compute vectors;
the caller writes them to the store, partition by partition as they arrive (`iter_partitions`), or takes the whole
matrix (`embed_partitions`). Vectors are the same as the in-process path's: the same model, normalised, float32.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

DIM = 384
_WORKER_EMBEDDER: Any = None


def _encode(texts: list[str], fake: bool, threads: int) -> np.ndarray:
    """Runs on a worker: embed one partition with the process's own embedder (loaded on first use)."""
    global _WORKER_EMBEDDER
    from kg.embeddings import FakeEmbedder, SentenceEmbedder

    if _WORKER_EMBEDDER is None or isinstance(_WORKER_EMBEDDER, FakeEmbedder) != fake:
        if not fake:
            import torch

            torch.set_num_threads(threads)
        _WORKER_EMBEDDER = FakeEmbedder() if fake else SentenceEmbedder()
    return _WORKER_EMBEDDER.encode(texts)


def partitions(n: int, n_workers: int, size: int | None = None) -> list[tuple[int, int]]:
    """[start, stop) ranges: about four partitions per worker (so a slow one does not hold up the end),
    at least 64 and at most 4,096 texts each.

    >>> partitions(10, 2)
    [(0, 10)]
    >>> len(partitions(100_000, 2)), partitions(100_000, 2)[0]
    (25, (0, 4096))
    """
    if n == 0:
        return []
    size = size or min(4096, max(64, math.ceil(n / (4 * max(1, n_workers)))))
    return [(i, min(n, i + size)) for i in range(0, n, size)]


def iter_partitions(
    texts: list[str],
    n_workers: int = 2,
    *,
    scheduler: str | None = None,
    fake: bool | None = None,
    size: int | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (start index, vectors) for each partition as it finishes, in any order.

    Without `scheduler` a LocalCluster of `n_workers` single-threaded processes is started and closed here.
    `fake` defaults to KG_EMBEDDER=fake, as in the rest of kg.
    """
    from distributed import Client, LocalCluster, as_completed

    fake = os.environ.get("KG_EMBEDDER") == "fake" if fake is None else fake
    cluster = None
    if scheduler:
        client = Client(scheduler, timeout="30s")
    else:
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        workers = len(client.scheduler_info().get("workers", {})) or n_workers
        ranges = partitions(len(texts), workers, size)
        threads = 1 if cluster is not None else max(1, (os.cpu_count() or 1) // workers)
        futures = {
            client.submit(_encode, texts[a:b], fake, threads, pure=False, retries=1): a for a, b in ranges
        }  # fmt: skip
        for fut in as_completed(futures):
            yield futures[fut], fut.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def embed_partitions(texts: list[str], n_workers: int = 2, **kw: Any) -> np.ndarray:
    """Embed `texts` across `n_workers` Dask workers; returns an (n, 384) float32 array in input order."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for start, vecs in iter_partitions(texts, n_workers, **kw):
        out[start : start + len(vecs)] = vecs
    return out


class DaskEmbedder:
    """The Embedder protocol over a Dask cluster, for `kg ingest --executor dask`: each chunk the ingest embeds is
    cut into partitions that workers embed, and the ingest stores the chunk when all its vectors are back.

    Workers run the fp32 sentence-transformers model (or the fake embedder under KG_EMBEDDER=fake), so vectors
    are cached under that model's name and agree with an in-process fp32 ingest."""

    dim = DIM
    chunk = 16384  # texts per store write: large, as each chunk is one round of partitions on the cluster

    def __init__(self, n_workers: int = 2, scheduler: str | None = None, fake: bool | None = None) -> None:
        from kg.embeddings import MODEL_NAME, FakeEmbedder

        self.n_workers, self.scheduler = n_workers, scheduler
        self.fake = os.environ.get("KG_EMBEDDER") == "fake" if fake is None else fake
        self.name = FakeEmbedder.name if self.fake else MODEL_NAME

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return embed_partitions(texts, self.n_workers, scheduler=self.scheduler, fake=self.fake)
