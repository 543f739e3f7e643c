"""Metadata layer: vendor files -> normalised ``SceneRecord`` -> R2STFT prompt."""

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.reader import get_reader, list_readers, read_metadata
from terrahash.metadata.record import SceneRecord

__all__ = [
    "Document",
    "MetadataReader",
    "SceneRecord",
    "get_reader",
    "list_readers",
    "read_metadata",
]
