"""The old name of the sync stage, kept for callers of `kg.writer.ingest`: see `kg.sync`."""

from kg.sync import IngestBusy, IngestReport, ingest
from kg.sync.run import DEFAULT_K, DEFAULT_THRESHOLD, ingest_lock

__all__ = ["DEFAULT_K", "DEFAULT_THRESHOLD", "IngestBusy", "IngestReport", "ingest", "ingest_lock"]
