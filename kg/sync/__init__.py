"""Sync: bring the store in line with files on disk, as read → parse → assemble → plan → apply → embed.

`plan` is pure (a change set from the desired graph and the store's index); `apply` writes one change set
in one transaction; `run` walks the stages for one `kg ingest`.
"""

from kg.sync.report import IngestBusy, IngestReport
from kg.sync.run import ingest

__all__ = ["IngestBusy", "IngestReport", "ingest"]
