"""What an ingest reports: counts, errors, warnings by kind, and every path it skipped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


class IngestBusy(Exception):
    """Another ingest holds the store's lock."""


@dataclass
class IngestReport:
    files: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    embedded: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "embedded": self.embedded,
            "errors": self.errors,
            "warnings": self.warnings,
            "warnings_by_kind": dict(sorted(Counter(w["kind"] for w in self.warnings).items())),
            "skipped": self.skipped,
            "skipped_by_reason": dict(sorted(Counter(s["reason"] for s in self.skipped).items())),
            "seconds": round(self.seconds, 3),
        }
