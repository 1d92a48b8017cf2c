"""The ONNX encoder against sentence-transformers on the same texts: tokens, vectors, neighbours, cache."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA

from kg import onnx_encoder
from kg.embeddings import SentenceEmbedder, real_embedder
from kg.onnx_encoder import DEFAULT_RECIPE, FP32, OnnxEmbedder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def texts() -> list[str]:
    notes = [p.read_text() for p in sorted((DATA / "search").rglob("*.md"))]
    return ["short", "Edge of stability in full-batch gradient descent", "x " * 600, *notes]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("KG_ONNX_CACHE", str(path))
    yield path
    mp.undo()


@pytest.fixture(scope="module")
def torch_vecs(texts) -> np.ndarray:
    return SentenceEmbedder().encode(texts)


def test_tokens_match_sentence_transformers(texts, cache):
    st = SentenceEmbedder()._load()
    ours = OnnxEmbedder(FP32).tokens(texts)
    theirs = st.tokenize(texts)["input_ids"]
    for ids, row, mask in zip(ours, theirs.tolist(), st.tokenize(texts)["attention_mask"].tolist(), strict=True):
        assert ids == row[: sum(mask)]
    assert max(len(t) for t in ours) == st.max_seq_length == onnx_encoder.MAX_SEQ_LENGTH


def test_fp32_graph_gives_the_torch_vectors(texts, cache, torch_vecs):
    vecs = OnnxEmbedder(FP32, batch=4).encode(texts)  # small batches: padding differs from torch's
    assert np.min(np.sum(vecs * torch_vecs, axis=1)) > 0.9999
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_int8_graph_stays_close_and_names_itself(texts, cache, torch_vecs):
    enc = OnnxEmbedder(DEFAULT_RECIPE)
    vecs = enc.encode(texts)
    cos = np.sum(vecs * torch_vecs, axis=1)
    assert np.median(cos) > 0.99 and cos.min() > 0.97
    assert enc.name != SentenceEmbedder.name and enc.name.startswith(SentenceEmbedder.name)
    # The nearest other text torch finds is among the int8 graph's three nearest, for every text.
    ref, got = torch_vecs @ torch_vecs.T, vecs @ vecs.T
    np.fill_diagonal(ref, -1)
    np.fill_diagonal(got, -1)
    top3 = np.argsort(-got, axis=1)[:, :3]
    assert all(ref[i].argmax() in top3[i] for i in range(len(ref)))


def test_graphs_are_built_once_and_written_whole(cache):
    for recipe in (FP32, DEFAULT_RECIPE):  # built here if no other test of this worker built them first
        OnnxEmbedder(recipe).encode(["first"])
    graphs = sorted(cache.glob("*.onnx"))
    assert {p.name.split("-")[2] for p in graphs} >= {"fp32", DEFAULT_RECIPE.name.split("-")[0]}
    stamps = {p: p.stat().st_mtime_ns for p in graphs}
    OnnxEmbedder(DEFAULT_RECIPE).encode(["again"])
    assert {p: p.stat().st_mtime_ns for p in graphs} == stamps
    assert not list(cache.glob("*.tmp"))


def test_encoder_choice(monkeypatch):
    monkeypatch.setenv("KG_ENCODER", "torch")
    assert isinstance(real_embedder(), SentenceEmbedder)
    monkeypatch.setenv("KG_ENCODER", "onnx")
    assert isinstance(real_embedder(), OnnxEmbedder)
    monkeypatch.setenv("KG_ENCODER", "tensorflow")
    with pytest.raises(ValueError, match="KG_ENCODER"):
        real_embedder()
