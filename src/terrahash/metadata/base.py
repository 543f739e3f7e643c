"""The reader base class and the registry it fills: what every format module subclasses.

Kept apart from ``reader`` (which loads the built-in formats and sniffs files) so that the
format modules import only this, and the package has no import cycle.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from terrahash.errors import MetadataError
from terrahash.metadata.document import Document

_REGISTRY: dict[str, type[MetadataReader]] = {}


class MetadataReader(ABC):
    """One metadata format. Subclasses are registered when defined."""

    #: Unique format name, shown as ``format`` in records (e.g. ``landsat_mtl_txt``).
    name: ClassVar[str]
    #: One line for ``terrahash meta --list-formats`` and the formats table.
    description: ClassVar[str] = ""
    #: Sniffing order: lower runs first; generic formats (STAC, GeoTIFF) run last.
    priority: ClassVar[int] = 50

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if getattr(cls, "__abstractmethods__", None) or "name" not in cls.__dict__:
            return
        if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
            raise RuntimeError(f"two metadata readers are named {cls.name!r}")
        _REGISTRY[cls.name] = cls

    @classmethod
    @abstractmethod
    def sniff(cls, doc: Document) -> bool:
        """True when ``doc``'s content is this format. Must not raise on other formats."""

    @abstractmethod
    def read(self, doc: Document) -> list[dict[str, Any]]:
        """Record fields for each scene in ``doc`` (most formats: exactly one)."""

    def refuse(self, doc: Document, why: str) -> MetadataError:
        """An error for a file that is this format but describes no optical scene."""
        return doc.error(f"{self.name}: {why}")


def registered() -> dict[str, type[MetadataReader]]:
    """Readers defined so far, by format name (``reader.list_readers`` loads the built-ins first)."""
    return dict(_REGISTRY)
