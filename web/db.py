"""The store for the current request: opened on first use, closed at teardown."""

from __future__ import annotations

from typing import Any

from flask import current_app, g

from kg.store import Store


def get_store() -> Store:
    if "store" not in g:
        g.store = Store(current_app.config["DB_PATH"], create=False)
    return g.store


def close_store(_exc: BaseException | None = None) -> None:
    store = g.pop("store", None)
    if store is not None:
        store.close()


def embedder() -> Any:
    return current_app.extensions["kg_embedder"]
