"""TerraHash: content-based remote sensing image retrieval with spatiotemporal hash codes."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["Index", "Query", "Searcher", "__version__", "load_model"]


def __getattr__(name: str) -> Any:
    # Lazy so that `import terrahash` (and the metadata layer) never pays for torch or FAISS.
    if name == "Index":
        from terrahash.index import Index

        return Index
    if name in ("Query", "Searcher"):
        from terrahash import app

        return getattr(app, name)
    if name == "load_model":
        from terrahash.model import load_model

        return load_model
    raise AttributeError(f"module 'terrahash' has no attribute {name!r}")
