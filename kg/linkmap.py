"""How each link of a note resolved, for pages that render its body: the same answer ingest gave.

Ingest's one resolver (`ingest.links`) records, per note, every link target as written mapped to the node it
reached (`meta.links`); pages read that map instead of resolving anything again.
"""

from __future__ import annotations

import sqlite3

from ingest.links import norm
from kg.store.graph import meta_of


def link_key(target: str) -> str:
    """A link target as the map keys it: without `#…`/`|…`, `.md` removed, case folded.

    >>> link_key("Edge of Stability#Sharpness|EoS")
    'edge of stability'
    >>> link_key("Folder/Note.md")
    'folder/note'
    """
    name = target.split("|", 1)[0].split("#", 1)[0].strip()
    return norm(name).removesuffix(".md")


def link_targets(conn: sqlite3.Connection, node_id: str) -> dict[str, str]:
    """Each link target written in `node_id`, keyed by `link_key`, → the node id it resolved to (stubs too)."""
    meta = meta_of(conn, node_id)
    if meta is None:
        return {}
    links = meta.get("links") or {}
    return {link_key(k): v for k, v in links.items()}
