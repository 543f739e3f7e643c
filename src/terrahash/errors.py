"""Errors a user can cause, each naming the file or value at fault and what to do."""

from __future__ import annotations

from pathlib import Path


class TerraHashError(Exception):
    """Base class: everything raised on bad user input derives from it."""


class MetadataError(TerraHashError):
    """A metadata file could not be read; ``str(err)`` is ``"PATH: error: WHAT"``."""

    def __init__(self, path: str | Path | None, message: str) -> None:
        self.path = str(path) if path is not None else "<input>"
        self.message = message
        super().__init__(f"{self.path}: error: {message}")


class DatasetError(TerraHashError):
    """A dataset folder or its manifest is unusable."""


class DependencyNotFoundError(TerraHashError):
    """An optional dependency is missing; the message gives the pip line that fixes it."""


def lazy_import(module: str, extra: str):  # noqa: ANN201 - returns a module
    """Import an optional dependency or say exactly how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DependencyNotFoundError(
            f"{module} is not installed; run: pip install 'terrahash[{extra}]'"
        ) from exc
