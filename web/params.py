"""Query parameters checked once, with a 400 and a message when they are wrong."""

from __future__ import annotations

from flask import abort, request

from kg.search import KINDS


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, description=f"'{name}' must be a whole number between {low} and {high}")
    if not low <= value <= high:
        abort(400, description=f"'{name}' must be between {low} and {high}")
    return value


def kind_arg(name: str = "kind") -> str | None:
    kind = request.args.get(name) or None
    if kind is not None and kind not in KINDS:
        abort(400, description=f"unknown kind '{kind[:40]}'; use one of {', '.join(KINDS)}")
    return kind


def text_arg(name: str, max_len: int = 500) -> str:
    value = request.args.get(name, "")
    if len(value) > max_len:
        abort(400, description=f"'{name}' is longer than {max_len} characters")
    return value
