"""Link targets of one note, as written, mapped to the node each resolved to (contract 3).

A stand-in over the stored edges until the shared resolver lands; the signature is the contract's."""

from __future__ import annotations

import json
import sqlite3
from pathlib import PurePosixPath

LINK_KINDS = ("links_to", "embeds", "related", "draws_on", "source", "cites", "states", "broader", "probable")


def _key(name: str) -> str:
    """A link target as the map keys it: lowercased, without `#…`/`|…`, `.md` removed.

    >>> _key("Edge of Stability#Sharpness|EoS")
    'edge of stability'
    """
    return name.split("|", 1)[0].split("#", 1)[0].strip().lower().removesuffix(".md")


def link_targets(conn: sqlite3.Connection, node_id: str) -> dict[str, str]:
    """Each link target written in `node_id` (lowercased, no `#…`/`|…`, no `.md`) → the node id it resolved to.

    Built from the note's outgoing edges: every name a target answers to (id, title, aliases, file name and
    vault path) maps to it, so a link written any of those ways resolves. Stub targets are included."""
    marks = ",".join("?" * len(LINK_KINDS))
    rows = conn.execute(
        f"SELECT DISTINCT n.id, n.title, n.path, n.meta FROM edges e JOIN nodes n ON n.id = e.target "
        f"WHERE e.source = ? AND e.kind IN ({marks})",
        (node_id, *LINK_KINDS),
    )
    out: dict[str, str] = {}
    for nid, title, path, meta in rows:
        m = json.loads(meta or "{}")
        names = [nid, title, *(m.get("aliases") or [])]
        if nid.startswith("link:"):
            names.append(nid[5:])
        if path:
            p = PurePosixPath(path)
            names += [p.name, str(p.with_suffix("")), p.stem]
        for name in names:
            if name:
                out.setdefault(_key(str(name)), nid)
    return out
