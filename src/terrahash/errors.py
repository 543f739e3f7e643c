"""Errors a user can cause, each naming the file or value at fault and what to do."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType


class TerraHashError(Exception):
    """Base class: everything raised on bad user input derives from it."""


class MetadataError(TerraHashError):
    """A metadata file could not be read; ``str(err)`` is ``"PATH: error: WHAT"`` on one line."""

    def __init__(self, path: str | Path | None, message: str) -> None:
        self.path = str(path) if path is not None else "<input>"
        # One line whatever a parser quoted from the file: a newline or carriage return in the
        # message would split, or overwrite, the "PATH: error:" a user or a script reads.
        self.message = " ".join(message.splitlines())
        super().__init__(f"{self.path}: error: {self.message}")


class DatasetError(TerraHashError):
    """A dataset folder or its manifest is unusable."""


class ImageError(DatasetError):
    """An image file or upload cannot be decoded; ``str(err)`` is ``"NAME: error: WHAT"``.

    A ``DatasetError`` so that ``load_rgb`` callers keep catching what they always caught.
    """

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        self.message = message
        super().__init__(f"{name}: error: {message}")


class ImageTooLargeError(ImageError):
    """An image is over the pixel limit of its decode (a decompression bomb or a huge scene)."""


class DependencyNotFoundError(TerraHashError):
    """An optional dependency is missing; the message gives the pip line that fixes it."""


def lazy_import(module: str, extra: str) -> ModuleType:
    """Import an optional dependency or say exactly how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DependencyNotFoundError(
            f"{module} is not installed; run: pip install 'terrahash[{extra}]'"
        ) from exc
