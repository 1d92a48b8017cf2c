"""Parsers that turn files on disk into plain records. Nothing here touches the database."""

from ingest.records import EdgeRecord, FileError, NodeRecord

__all__ = ["EdgeRecord", "FileError", "NodeRecord"]
