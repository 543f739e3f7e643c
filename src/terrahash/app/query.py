"""Queries -> codes: by image, image + metadata, metadata alone, free text, or a stored id.

The CLI and the HTTP service both come through here, so a query means the same everywhere
and is always encoded by the model the index was built with (checked by fingerprint).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from terrahash.errors import TerraHashError
from terrahash.index.api import Index
from terrahash.app.build import check_model
from terrahash.index.errors import IndexMismatchError


class QueryError(TerraHashError):
    """A query that cannot be encoded (no input, two inputs, unreadable file)."""


@dataclass(frozen=True)
class Query:
    """Exactly one of: ``image`` (optionally with ``meta``), ``text``, ``meta``, ``id``."""

    image: Path | None = None
    meta: Path | None = None
    text: str | None = None
    id: str | None = None

    @property
    def kind(self) -> str:
        """``image``, ``fused``, ``text`` (text or metadata alone) or ``id``."""
        if self.id is not None:
            return "id"
        if self.image is not None:
            return "fused" if self.meta is not None else "image"
        return "text"

    def validate(self) -> None:
        given = [n for n, v in (("--image", self.image), ("--text", self.text), ("--id", self.id)) if v]
        if len(given) > 1:
            raise QueryError(f"error: give one query, not {' and '.join(given)}")
        if not given and self.meta is None:
            raise QueryError(
                "error: give a query: --image FILE [--meta FILE], --text TEXT, --meta FILE or --id ID"
            )
        if self.id is not None and self.meta is not None:
            raise QueryError("error: --meta cannot be combined with --id")


def load_index_model(index: Index, run_dir: str | Path | None = None) -> Any:
    """The model that encoded ``index`` (or ``run_dir``), refused if it does not match."""
    from terrahash.model import load_model

    run = run_dir or (index.manifest.get("model") or {}).get("run_dir")
    if run is None:
        raise IndexMismatchError(
            f"{getattr(index.backend, 'root', 'index')}: error: "
            "the index records no model; pass --model RUN_DIR"
        )
    model = load_model(run)
    check_model(index, model, run)
    return model


def read_record(path: Path) -> Any:
    """The first record of a metadata file."""
    from terrahash.metadata import read_metadata

    records = read_metadata(path)
    if not records:
        raise QueryError(f"{path}: error: no record in this metadata file")
    return records[0]


def query_codes(
    index: Index, query: Query, model: Any = None, run_dir: str | Path | None = None
) -> np.ndarray:
    """Packed (1, bits/8) code for ``query``; loads the index's model unless given one."""
    query.validate()
    if query.id is not None:
        return index.codes_of([query.id])
    model = model if model is not None else load_index_model(index, run_dir)
    record = read_record(query.meta) if query.meta is not None else None
    if query.image is not None:
        from terrahash.data import load_rgb

        pixels = load_rgb(query.image, model.image_size)
        return model.encode_images([pixels], records=[record] if record is not None else None)
    return model.encode_text([record if query.text is None else query.text])
