"""Label -> taxonomy path, the semantic skeleton of the RSHST tree.

Uses the shared taxonomy (``terrahash.data.taxonomy``) where it knows the label, so classes
from different datasets meet at common ancestors; an unknown label is its own top-level node.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache


@lru_cache(maxsize=1)
def _taxonomy():  # noqa: ANN202 - the taxonomy object or None
    try:
        from terrahash.data.taxonomy import load_taxonomy
    except ImportError:
        return None
    try:
        return load_taxonomy()
    except Exception:  # noqa: BLE001 - a broken taxonomy must not break indexing
        return None


def label_path() -> Callable[[str], Sequence[str]]:
    """A function mapping a label to node names root -> leaf."""
    tax = _taxonomy()

    def path(label: str) -> Sequence[str]:
        if tax is None:
            return [label]
        try:
            node = tax.resolve(label, strict=False)  # the dataset leaf: synonyms stay apart
            nodes = tax.path(node) if node else None
        except Exception:  # noqa: BLE001 - unknown label: fall back to a node of its own
            nodes = None
        return [str(n) for n in nodes] if nodes else [label]

    return path
