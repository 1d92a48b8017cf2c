"""The ONNX encoder against sentence-transformers on the same texts: tokens, vectors, neighbours, cache."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA

from kg import onnx_encoder
from kg.embeddings import SentenceEmbedder, real_embedder
from kg.onnx_encoder import (
    DEFAULT_RECIPE,
    FP32,
    FUSED,
    OnnxEmbedder,
    Recipe,
    block_int8,
    graph_key,
    smooth_recipe,
    to_blocks,
)

slow = pytest.mark.slow


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


@slow
def test_tokens_match_sentence_transformers(texts, cache):
    st = SentenceEmbedder()._load()
    ours = OnnxEmbedder(FP32).tokens(texts)
    theirs = st.tokenize(texts)["input_ids"]
    for ids, row, mask in zip(ours, theirs.tolist(), st.tokenize(texts)["attention_mask"].tolist(), strict=True):
        assert ids == row[: sum(mask)]
    assert max(len(t) for t in ours) == st.max_seq_length == onnx_encoder.MAX_SEQ_LENGTH


@slow
def test_fp32_graph_gives_the_torch_vectors(texts, cache, torch_vecs):
    vecs = OnnxEmbedder(FP32, batch=4).encode(texts)  # small batches: padding differs from torch's
    assert np.min(np.sum(vecs * torch_vecs, axis=1)) > 0.9999
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


@slow
def test_fused_graph_gives_the_torch_vectors(texts, cache, torch_vecs):
    vecs = OnnxEmbedder(FUSED, batch=4).encode(texts)
    assert np.min(np.sum(vecs * torch_vecs, axis=1)) > 0.9999


@slow
def test_shifted_and_scaled_graph_gives_the_torch_vectors(texts, cache, torch_vecs):
    """Smoothing moves range from activations into weights and biases; in fp32 it must change nothing."""
    import onnx

    recipe = smooth_recipe(DEFAULT_RECIPE.smooth)
    vecs = OnnxEmbedder(recipe, batch=4).encode(texts)
    assert np.min(np.sum(vecs * torch_vecs, axis=1)) > 0.9999
    graph = onnx.load(str(onnx_encoder.graph_path(recipe)), load_external_data=False).graph
    fused = onnx.load(str(onnx_encoder.graph_path(FUSED)), load_external_data=False).graph
    restores = [n for n in graph.node if n.name.endswith(("_restore_scale", "_restore_shift"))]
    assert len(restores) == 2 * 12  # the embeddings' norm, 6 mid-layer norms and 5 layer outputs feed weights
    weights = {t.name: t for t in fused.initializer}
    moved = [t.name for t in graph.initializer if t.name in weights and t.raw_data != weights[t.name].raw_data]
    assert len(moved) >= 6 * 4  # each layer's Q/K/V, output projection and first FFN weight changed


@slow
def test_smoothing_narrows_what_int8_quantises(cache):
    """The point of smoothing: per channel, the norms' outputs span far less than before, on real notes."""
    import onnx

    from kg.onnx_smooth import calibration_texts, channel_ranges

    tok = onnx_encoder.tokenizer()
    notes = calibration_texts()[:16]
    spans = {}
    for recipe in (FUSED, smooth_recipe(DEFAULT_RECIPE.smooth)):
        model = onnx.load(str(onnx_encoder.graph_path(recipe)))
        ranges = channel_ranges(model, tok, notes)
        # the widest channel against the median channel, for the mid-layer norm of layer 0
        name = next(n for n in ranges if "layer.0/attention/output/LayerNorm" in n)
        lo, hi = ranges[name]
        spans[recipe.name] = (hi - lo).max() / np.median(hi - lo)
    assert spans[FUSED.name] > 4 and spans[smooth_recipe(DEFAULT_RECIPE.smooth).name] < spans[FUSED.name] / 2


def test_calibration_needs_the_starter_notes(tmp_path):
    from kg.onnx_smooth import calibration_texts

    (tmp_path / "one.md").write_text("---\ntitle: x\n---\nbody")
    with pytest.raises(RuntimeError, match="data/notes|KG_ENCODER=torch"):
        calibration_texts(tmp_path)


@slow
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


@slow
def test_one_text_runs_on_its_own_session_with_the_same_vector(texts, cache):
    enc = OnnxEmbedder(DEFAULT_RECIPE)
    alone = np.vstack([enc.encode([t]) for t in texts[:3]])
    assert enc._single is not None and enc._single is not enc._session  # the one-thread session answered
    enc._single = enc._session  # the same texts, one at a time, through the session batches use
    again = np.vstack([enc.encode([t]) for t in texts[:3]])
    assert np.min(np.sum(again * alone, axis=1)) > 0.99999


@slow
def test_graphs_are_built_once_and_written_whole(cache):
    for recipe in (FP32, DEFAULT_RECIPE):  # built here if no other test of this worker built them first
        OnnxEmbedder(recipe).encode(["first"])
    graphs = sorted(cache.glob("*.onnx"))
    names = {p.name for p in graphs}
    # the default starts from the fused graph and its smoothed copy, which are kept too
    for recipe in (FP32, FUSED, smooth_recipe(DEFAULT_RECIPE.smooth), DEFAULT_RECIPE):
        assert f"minilm-l6-{recipe.name}-{graph_key(recipe)}.onnx" in names
    stamps = {p: p.stat().st_mtime_ns for p in graphs}
    OnnxEmbedder(DEFAULT_RECIPE).encode(["again"])
    assert {p: p.stat().st_mtime_ns for p in graphs} == stamps
    assert not list(cache.glob("*.tmp"))


@slow
def test_encoder_choice(monkeypatch):
    monkeypatch.setenv("KG_ENCODER", "torch")
    assert isinstance(real_embedder(), SentenceEmbedder)
    monkeypatch.setenv("KG_ENCODER", "onnx")
    assert isinstance(real_embedder(), OnnxEmbedder)
    monkeypatch.setenv("KG_ENCODER", "tensorflow")
    with pytest.raises(ValueError, match="KG_ENCODER"):
        real_embedder()


def test_block_codes_give_back_the_weights():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((256, 6)).astype(np.float32)
    w[:128, 0] *= 40  # one block with a large range keeps its own scale
    codes, scales = block_int8(w, 128)
    assert codes.shape == (6, 2, 128) and codes.dtype == np.uint8 and scales.shape == (6, 2)
    back = ((codes.astype(np.float32) - 128) * scales[..., None]).reshape(6, 256).T
    assert np.all(np.abs(back - w) <= scales.repeat(128, axis=1).T / 2 + 1e-6)
    assert scales[0, 0] > 10 * scales[0, 1]
    with pytest.raises(ValueError, match="blocks of 128"):
        block_int8(w[:200], 128)


def test_block_matmul_runs_on_onnxruntime_close_to_fp32():
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    w1, w2 = rng.standard_normal((256, 16)).astype(np.float32), rng.standard_normal((16, 4)).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"], name="first"),
        helper.make_node("MatMul", ["h", "w2"], ["y"], name="kept"),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")],
    )  # fmt: skip
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )
    assert to_blocks(model, 128, skip=["kept"]) == 1
    assert [n.op_type for n in model.graph.node] == ["MatMulNBits", "MatMul"]
    assert {t.name for t in model.graph.initializer} == {"w1_int8", "w1_scale", "w2"}
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = rng.standard_normal((3, 256)).astype(np.float32)
    got, want = session.run(["y"], {"x": x})[0], x @ w1 @ w2
    assert np.abs(got - want).max() < 0.05 * np.abs(want).max()
    onnx.checker.check_model(model)


def test_every_recipe_field_changes_the_cached_graph_name():
    base = Recipe("r", fused=True, ops=("Attention",), block=128)
    changed = [
        Recipe("r", fused=False, ops=("Attention",), block=128),
        Recipe("r", fused=True, ops=("Attention", "MatMul"), block=128),
        Recipe("r", fused=True, ops=("Attention",), block=32),
        Recipe("r", fused=True, ops=("Attention",), block=128, exclude=("x",)),
        Recipe("r", fused=True, ops=("Attention",), block=128, per_channel=False),
    ]
    keys = {graph_key(r) for r in [base, *changed]}
    assert len(keys) == 1 + len(changed)
    assert graph_key(base) == graph_key(Recipe("r", fused=True, ops=("Attention",), block=128))
