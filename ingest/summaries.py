"""Paper summaries: a YAML file beside the bibliography, citation key to a few sentences in our own words.

`parse_summaries` yields one update record per entry (id `cite:<key>`, kind `summary`); the pipeline hands them
with the merged papers to `apply_summaries`, which puts each summary into its paper's text, so the summary is
embedded with the paper and indexed for keyword search. Pure: nothing here touches the store.

```yaml
jacot2018neural: >-
  Shows that in the infinite-width limit ...
```
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

import yaml

from ingest.records import FileError, NodeRecord, ParseError

KIND = "summary"
FILE_NAMES = ("summaries.yaml", "summaries.yml")
PREFIX = "cite:"


def is_summaries_file(rel: str) -> bool:
    """Whether a file is read as paper summaries: by its name, wherever it lives."""
    return posixpath.basename(rel).lower() in FILE_NAMES


def parse_summaries(text: str, path: str) -> Iterator[NodeRecord | FileError]:
    """Yield a `cite:<key>` summary record per entry and a FileError per entry that is not key: text."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ParseError(f"not valid YAML ({getattr(exc, 'problem', exc)}); fix the syntax", line) from None
    if root is None:
        return
    if not isinstance(root, yaml.MappingNode):
        raise ParseError("summaries must be a mapping of citation key to text (key: summary)", 1)
    for key_node, value_node in root.value:
        line = key_node.start_mark.line + 1
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else ""
        value = value_node.value if isinstance(value_node, yaml.ScalarNode) else None
        if not key:
            yield FileError(path, line, "a summary's key must be a citation key (the BibTeX key)")
        elif not isinstance(value, str) or not value.strip():
            yield FileError(path, line, f"summary for '{key}' is not text; write `{key}: one to three sentences`")
        else:
            yield NodeRecord(PREFIX + key, KIND, key, " ".join(value.split()), path, line, {"key": key})


def apply_summaries(papers: list[NodeRecord], summaries: list[NodeRecord]) -> list[FileError]:
    """Put each summary into the text of the paper carrying its key (before any abstract); return the misses.

    A summary whose key no bibliography entry carries is reported, with its line, as an error to fix.
    """
    by_key: dict[str, NodeRecord] = {}
    for p in papers:
        for key in p.meta.get("keys") or []:
            by_key.setdefault(key.lower(), p)
    errors: list[FileError] = []
    done: set[str] = set()
    for s in summaries:
        key = s.meta["key"]
        paper = by_key.get(key.lower())
        if paper is None:
            msg = f"summary for '{key}' names no paper in the bibliographies; fix the key or remove the entry"
            errors.append(FileError(s.path, s.line, msg))
            continue
        if paper.id in done:
            continue  # two keys of one merged paper: the first summary wins
        done.add(paper.id)
        paper.meta["summary"] = s.text
        paper.text = s.text + ("\n\n" + paper.text if paper.text else "")
    return errors
