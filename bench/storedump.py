"""Everything a user can see in a store, for comparing two stores (shared by bench/crash.py and the tests)."""

from __future__ import annotations

from kg.store import Store
from kg.store.snapshot import snapshot


def dump(store: Store) -> dict:
    """Everything a user can see in the store, without timestamps, for comparing two stores."""
    return snapshot(store)
