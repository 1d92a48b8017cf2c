"""The one vocabulary: node kinds, edge kinds, origins, relation labels, strands and verdicts.

Everything else (the schema's CHECK constraints, the CLI's choices, the web's legends, the parsers) takes
its names from here. Pure data: this module imports nothing of the project, so parsers may use it.
"""

from __future__ import annotations

NODE_KINDS: dict[str, str] = {
    "concept": "a note of the vault",
    "inquiry": "a note that draws on others to answer a question",
    "paper": "a paper, from BibTeX, arXiv metadata, a PDF or a citation",
    "claim": "a prediction stated in a note's front matter",
    "experiment": "a program that re-verifies a claim",
    "tag": "a #tag; nested tags point to their parent",
    "attachment": "an image, audio, video or other file a note references",
}

EDGE_KINDS: dict[str, str] = {
    "links_to": "a [[wikilink]] or Markdown link that resolves",
    "embeds": "an ![[embed]] of a note or an attachment",
    "related": "a typed relation from front matter",
    "cites": "a note cites a paper",
    "draws_on": "an inquiry draws on a note",
    "tagged": "a note carries a tag",
    "broader": "a nested tag's parent",
    "states": "a note states a claim",
    "verifies": "an experiment verifies a claim",
    "similar": "embedding similarity",
    "probable": "an unresolved link whose text matches a title or alias: shown apart, never counted as a link",
}

# How an edge was written. Citations say which syntax carried them.
ORIGINS: tuple[str, ...] = (
    "explicit",
    "wikilink",
    "embedding",
    "derived",
    "front_matter",
    "arxiv",
    "doi",
    "pandoc",
    "latex",
    "title",
)

# Edges that are links a reader followed the author in making (counted as links, drawn in graphs).
LINK_EDGES: tuple[str, ...] = ("links_to", "embeds", "related", "cites", "draws_on", "states", "verifies")

RELATION_LABELS: tuple[str, ...] = (
    "adjacent",
    "adjacent framing",
    "exemplifies",
    "same paper",
    "extends",
    "contradicts",
    "supports",
    "prerequisite",
    "generalises",
    "special case",
    "contrasts",
    "explains",
    "related",
)

STRANDS: tuple[tuple[str, str], ...] = (
    ("frame", "The frame"),
    ("solvable-settings", "Solvable settings"),
    ("tractable-limits", "Tractable limits"),
    ("empirical-laws", "Empirical laws"),
    ("hyperparameter-theories", "Hyperparameter theories"),
    ("universal-behaviours", "Universal behaviours"),
)

VERDICTS: tuple[str, ...] = ("verified", "refuted", "mixed", "error", "timeout")
RUN_STATUSES: tuple[str, ...] = ("queued", "running", "done")

# Kinds whose text is embedded for similarity and semantic search.
EMBED_KINDS: tuple[str, ...] = ("concept", "inquiry", "paper", "claim")
NOTE_KINDS: tuple[str, ...] = ("concept", "inquiry")


def check_sql(column: str, names: object) -> str:
    """A CHECK constraint that keeps `column` within a vocabulary.

    >>> check_sql("kind", ("a", "b"))
    "CHECK (kind IN ('a', 'b'))"
    """
    values = ", ".join("'" + str(n).replace("'", "''") + "'" for n in names)  # type: ignore[attr-defined]
    return f"CHECK ({column} IN ({values}))"
