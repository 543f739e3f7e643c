"""The manifest every backend keeps: format tag, code length, provenance, timestamps."""

from __future__ import annotations

import datetime as dt
from typing import Any

#: ``format`` of every TerraHash index manifest, whatever the backend.
FORMAT = "terrahash-index"


def now() -> str:
    """The current UTC time as the manifests write it (``2024-01-31T12:00:00Z``)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_manifest(bits: int, **fields: Any) -> dict[str, Any]:
    """A fresh manifest for ``bits``-bit codes: no model, no tree yet; ``fields`` add or override.

    Raises:
        ValueError: ``bits`` is not a positive multiple of 8.
    """
    if bits <= 0 or bits % 8:
        raise ValueError(f"bits must be a positive multiple of 8, got {bits}")
    stamp = now()
    return {
        "format": FORMAT,
        "bits": bits,
        "created": stamp,
        "updated": stamp,
        "model": None,
        "code_kind": None,
        "template_version": None,
        "tree": None,
        **fields,
    }
