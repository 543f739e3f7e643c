"""What the next generation holds after an upsert or a removal (computed, not yet written).

An upserted id keeps its insertion number (``seq``), so ties rank the same before and after;
new ids get the next numbers. The tree is updated in place (re-routing the moved codes) while
the change is small, and rebuilt once more than ``REBUILD_FRACTION`` of the items change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from terrahash.index.embedded.catalog import Catalog
from terrahash.index.embedded.generation import Generation
from terrahash.index.embedded.storage import CatalogEdit
from terrahash.index.items import CatalogRow, ItemBatch, record_bbox
from terrahash.index.tree import SemanticTree
from terrahash.taxonomy import label_path

#: Rebuild the tree (rather than route inserts) once this fraction of items is new or moved.
REBUILD_FRACTION = 0.5


@dataclass
class Write:
    """The content of the next generation."""

    codes: np.ndarray
    seqs: np.ndarray
    tree: SemanticTree | None
    edit: CatalogEdit
    #: Start from a copy of the current catalog (``False``: from an empty one).
    keep_catalog: bool = True
    #: Manifest fields the write changes (``next_seq``, ``embedding_dim``).
    manifest: dict[str, Any] = field(default_factory=dict)
    #: Stored ``int8`` embeddings (n, D) in row order (``None``: the index stores none).
    embeddings: np.ndarray | None = None


def _first(labels: tuple[str, ...]) -> str | None:
    return labels[0] if labels else None


def _upserted(old: np.ndarray, rows: np.ndarray, is_new: np.ndarray, updated_rows: np.ndarray) -> np.ndarray:
    """``old`` rows with the batch's ``rows`` written over the updated ones and the new ones appended."""
    out = np.concatenate([old, rows[is_new]])
    out[updated_rows] = rows[~is_new]
    return out


def _embeddings(
    gen: Generation, batch: ItemBatch, replace: bool, dim: int | None, is_new: np.ndarray,
    updated_rows: np.ndarray,
) -> np.ndarray | None:
    """The next generation's embeddings: zero rows (none) for items written without one."""
    if dim is None:
        return None
    n_old = 0 if replace else len(gen)
    old = gen.embeddings if gen.embeddings is not None and not replace else np.zeros((n_old, dim), np.int8)
    rows = batch.embeddings if batch.embeddings is not None else np.zeros((len(batch), dim), np.int8)
    return _upserted(np.asarray(old), rows, is_new, updated_rows)


def upsert(gen: Generation, next_seq: int, batch: ItemBatch, replace: bool, dim: int | None) -> Write:
    """Insert ``batch`` into ``gen`` (or, with ``replace``, make it the whole index) whose
    embeddings will be ``dim``-dimensional (see ``embedding_dim_after``)."""
    n = len(batch)
    if replace:
        next_seq, existing = 0, {}
        old_codes, old_seqs = np.zeros((0, batch.codes.shape[1]), np.uint8), np.zeros(0, np.int64)
    else:
        existing = gen.catalog.seqs_of(batch.ids)
        old_codes, old_seqs = np.asarray(gen.codes), gen.seqs
    new_seqs, is_new = np.empty(n, np.int64), np.zeros(n, bool)
    for i, item_id in enumerate(batch.ids):
        if item_id in existing:
            new_seqs[i] = existing[item_id]
        else:
            new_seqs[i], is_new[i] = next_seq, True
            next_seq += 1
    updated_rows = np.searchsorted(old_seqs, new_seqs[~is_new])
    codes = _upserted(old_codes, batch.codes, is_new, updated_rows)
    embeddings = _embeddings(gen, batch, replace, dim, is_new, updated_rows)
    rows = [
        CatalogRow(int(s), i, p, lab, r)
        for s, i, p, lab, r in zip(new_seqs, batch.ids, batch.paths, batch.labels, batch.records, strict=True)
    ]
    boxes = [record_bbox(r) for r in batch.records]
    moved_labels = [lab for lab, new in zip(batch.labels, is_new, strict=True) if not new]
    moved_labels += [lab for lab, new in zip(batch.labels, is_new, strict=True) if new]
    tree = _updated_tree(None if replace else gen, codes, updated_rows, int(is_new.sum()), moved_labels)

    def edit(catalog: Catalog) -> None:
        catalog.upsert(rows, boxes, existing=new_seqs[~is_new].tolist())

    seqs = np.concatenate([old_seqs, new_seqs[is_new]])
    manifest = {"next_seq": next_seq, "embedding_dim": dim}
    return Write(codes, seqs, tree, edit, keep_catalog=not replace, manifest=manifest, embeddings=embeddings)


def _updated_tree(
    gen: Generation | None,
    codes: np.ndarray,
    updated_rows: np.ndarray,
    n_new: int,
    moved_labels: list[tuple[str, ...]],
) -> SemanticTree:
    """The tree over ``codes``: the updated rows, then ``n_new`` appended ones, carry
    ``moved_labels`` in that order. ``gen=None``: build from nothing."""
    n_old = len(gen) if gen is not None else 0
    n_moved = updated_rows.size
    if gen is None or gen.tree is None or n_new + n_moved > REBUILD_FRACTION * max(n_old, 1):
        primary = [lab for _, lab in gen.catalog.primary_labels()] if gen is not None else []
        for row, labels in zip(updated_rows, moved_labels[:n_moved], strict=True):
            primary[int(row)] = _first(labels)
        primary += [_first(labels) for labels in moved_labels[n_moved:]]
        return SemanticTree.build(codes, primary, label_path)
    old_tree = gen.editable_tree()
    assert old_tree is not None
    if updated_rows.size:
        keep = np.arange(n_old, dtype=np.int64)
        keep[updated_rows] = -1
        old_tree.remap(keep)
    moved = np.concatenate([updated_rows, np.arange(n_old, n_old + n_new)]).astype(np.int64)
    old_tree.insert(codes[moved], moved, [_first(labels) for labels in moved_labels], label_path)
    return old_tree


def removal(gen: Generation, found: dict[str, int]) -> Write:
    """Drop the items ``found`` (id -> seq) from ``gen``; the rows that stay keep their order."""
    keep = np.ones(len(gen), bool)
    keep[gen.rows_of(np.fromiter(found.values(), np.int64))] = False
    mapping = np.full(len(gen), -1, np.int64)
    mapping[keep] = np.arange(int(keep.sum()))
    tree = gen.editable_tree()
    if tree is not None:
        tree.remap(mapping)
    seqs = list(found.values())

    def edit(catalog: Catalog) -> None:
        catalog.delete(seqs)

    embeddings = np.asarray(gen.embeddings)[keep] if gen.embeddings is not None else None
    return Write(np.asarray(gen.codes)[keep], gen.seqs[keep], tree, edit, embeddings=embeddings)
