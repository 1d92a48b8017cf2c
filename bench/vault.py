"""A deterministic synthetic vault: N notes with front matter, wikilinks, tags and realistic lengths, plus
M papers in BibTeX. The same N and seed always give the same files.

`python -m bench.vault OUT --notes 10000 --papers 2500`
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
STRANDS = ["solvable-settings", "tractable-limits", "empirical-laws", "hyperparameter-theories", "universal-behaviours"]


def vocabulary() -> list[str]:
    """Words from our own notes, so the synthetic text reads like the corpus to the tokenizer."""
    words: dict[str, None] = {}
    for f in sorted((ROOT / "data" / "notes").rglob("*.md")):
        for w in re.findall(r"[a-z][a-z\-]{2,}", f.read_text().split("---", 2)[-1].lower()):
            words.setdefault(w, None)
    return list(words) or ["gradient", "descent", "kernel", "width", "depth", "noise", "scaling", "loss"]


def n_topics(n_notes: int) -> int:
    return max(4, int(math.sqrt(n_notes) / 2))


def make_vault(out: Path, n_notes: int, n_papers: int | None = None, seed: int = 0) -> dict[str, int]:
    """Write the vault under `out`; returns counts of notes, papers, wikilinks and words."""
    rng = np.random.default_rng(seed)
    vocab = vocabulary()
    topics = n_topics(n_notes)
    topic_words = [rng.choice(vocab, size=30, replace=False).tolist() for _ in range(topics)]
    n_papers = n_notes // 4 if n_papers is None else n_papers
    topic_of = rng.integers(0, topics, size=n_notes)
    by_topic: dict[int, list[int]] = {}
    for i, t in enumerate(topic_of):
        by_topic.setdefault(int(t), []).append(i)
    out.mkdir(parents=True, exist_ok=True)
    links = words_total = 0
    for i in range(n_notes):
        t = int(topic_of[i])
        tw = topic_words[t]
        folder = out / "notes" / f"t{t:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        n_words = int(np.clip(rng.lognormal(math.log(320), 0.6), 60, 3000))
        pool = tw + vocab
        p = np.concatenate([np.full(len(tw), 0.35 / len(tw)), np.full(len(vocab), 0.65 / len(vocab))])
        words = rng.choice(pool, size=n_words, p=p / p.sum()).tolist()
        same = by_topic[t]
        targets = [int(same[j]) for j in rng.integers(0, len(same), size=int(rng.integers(2, 8)))]
        for j, target in enumerate(targets):
            pos = int(rng.integers(0, len(words)))
            name = f"note-{target:06d}" if j % 3 else f"alias {target}"
            words[pos] = f"[[{name}]]" if j % 4 else f"[[{name}|{words[pos]}]]"
        if rng.random() < 0.1:
            words.append(f"[[missing note {int(rng.integers(0, 50))}]]")
        links += len(targets)
        words_total += n_words
        body = []
        for k in range(0, len(words), 60):
            sentence = " ".join(words[k : k + 60])
            body.append(sentence[:1].upper() + sentence[1:] + ".")
        if rng.random() < 0.3:
            body.append(f"#topic/{tw[0]}/{tw[1]}")
        rel = [int(same[j]) for j in rng.integers(0, len(same), size=2)]
        front = [
            "---",
            f'title: "Why does {tw[i % 30]} {tw[(i * 7) % 30]} matter for note {i}?"',
            f'dek: "(t{t}) A synthetic note about {tw[0]} and {tw[1]}."',
            f'claim: "{tw[2]} shapes {tw[3]} in setting {i}"',
            f'aliases: ["alias {i}"]',
            f"strand: {STRANDS[t % 5]}",
            f"tags: [strand/{STRANDS[t % 5]}, topic/{tw[0]}]",
            f"sources: [synth{int(rng.integers(0, max(1, n_papers)))}]" if n_papers else "sources: []",
            "related:",
            *[f'  - {{to: note-{r:06d}, relation: adjacent, note: "shares topic {t}"}}' for r in rel if r != i],
            "---",
        ]
        (folder / f"note-{i:06d}.md").write_text("\n".join(front) + "\n" + "\n\n".join(body) + "\n")
    if n_papers:
        (out / "papers").mkdir(exist_ok=True)
        chunks = []
        for j in range(n_papers):
            tw = topic_words[j % topics]
            chunks.append(
                f"@article{{synth{j},\n  title = {{On {tw[j % 30]} and {tw[(j + 3) % 30]} in model {j}}},\n"
                f"  author = {{Author{j % 97}, A. and Writer{j % 89}, B.}},\n  year = {{{2000 + j % 25}}},\n"
                f"  journal = {{Journal of Synthetic Results}},\n  doi = {{10.5555/synth.{j}}},\n"
                f"  abstract = {{(t{j % topics}) A synthetic abstract about {tw[0]} and {tw[1]}.}}\n}}\n"
            )
        for part in range(0, n_papers, 5000):
            (out / "papers" / f"papers-{part // 5000:03d}.bib").write_text("\n".join(chunks[part : part + 5000]))
    return {"notes": n_notes, "papers": n_papers, "wikilinks": links, "words": words_total, "topics": topics}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--notes", type=int, default=1000)
    ap.add_argument("--papers", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(make_vault(a.out, a.notes, a.papers, a.seed))


if __name__ == "__main__":
    main()
