"""Ground truth for retrieval: binary relevance and graded gains from labels.

* Single-label sets: relevant = same label.
* Multi-label sets: relevant = at least one shared label.
* Graded gains for NDCG: multi-label sets use the number of shared labels; single-label sets
  use the depth of the deepest common node of the two labels' paths in the semantic tree
  (``taxonomy.lca_depth``), so "dense residential" vs "medium residential" earns partial
  credit while "beach" vs "freeway" earns none. Labels the taxonomy does not know fall back to
  binary gains (1 for the same label, 0 otherwise), and the result says how many there were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from terrahash.evaluate.hamming import EvaluationError
from terrahash.taxonomy import Taxonomy


def _as_multi_hot(labels: np.ndarray, name: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise EvaluationError(
            f"{name}: expected a (n, n_classes) multi-hot matrix, got shape {labels.shape}"
        )
    return labels.astype(bool)


def shared_label_counts(query_labels: np.ndarray, db_labels: np.ndarray) -> np.ndarray:
    """(n_q, n_db) number of labels shared, from multi-hot (n, n_classes) matrices."""
    q = _as_multi_hot(query_labels, "query_labels")
    d = _as_multi_hot(db_labels, "db_labels")
    if q.shape[1] != d.shape[1]:
        raise EvaluationError(
            f"query_labels have {q.shape[1]} classes but db_labels have {d.shape[1]}; "
            "build both label matrices from the same class list"
        )
    return q.astype(np.int32) @ d.T.astype(np.int32)


def multilabel_relevance(query_labels: np.ndarray, db_labels: np.ndarray) -> np.ndarray:
    """Bool (n_q, n_db): the two items share at least one label (multi-hot inputs)."""
    return shared_label_counts(query_labels, db_labels) > 0


def single_label_relevance(query_labels: npt.ArrayLike, db_labels: npt.ArrayLike) -> np.ndarray:
    """Bool (n_q, n_db): the two items have the same label (1-D label sequences)."""
    q = np.asarray(query_labels)
    d = np.asarray(db_labels)
    if q.ndim != 1 or d.ndim != 1:
        raise EvaluationError("single_label_relevance: expected 1-D label sequences")
    same: np.ndarray = q[:, None] == d[None, :]
    return same


def shared_label_gains(query_labels: np.ndarray, db_labels: np.ndarray) -> np.ndarray:
    """Float (n_q, n_db) NDCG gains for multi-label sets: the number of shared labels."""
    return shared_label_counts(query_labels, db_labels).astype(np.float64)


@dataclass(frozen=True)
class TreeGains:
    """Graded gains from the semantic tree.

    Attributes:
        gains: (n_q, n_db) float gains.
        unknown_labels: labels the taxonomy could not map (binary gains for those).
    """

    gains: np.ndarray
    unknown_labels: tuple[str, ...]


def _leaf(taxonomy: Taxonomy, label: str, dataset: str | None) -> str | None:
    """The label's own node (its leaf, so sibling classes differ), or None when unknown."""
    for scope in (dataset, None) if dataset is not None else (None,):
        try:
            return taxonomy.resolve(label, scope, strict=False)
        except LookupError:  # unknown dataset name, or a label ambiguous across sets
            continue
    return None


def taxonomy_gains(
    query_labels: Sequence[str],
    db_labels: Sequence[str],
    taxonomy: Taxonomy,
    dataset: str | None = None,
) -> TreeGains:
    """Gains for single-label sets: depth of the deepest common node of the labels' paths.

    Labels resolve to their own leaf (``taxonomy.resolve``), so the same class earns the leaf
    depth and two classes under one CORINE node earn that node's depth. The pair table is
    built once per distinct label pair, then gathered.

    Args:
        query_labels: one label per query.
        db_labels: one label per database item.
        taxonomy: the semantic tree (``terrahash.taxonomy.load_taxonomy()``).
        dataset: dataset name, to pick its vocabulary; unknown names fall back to all.
    """
    labels = sorted(set(query_labels) | set(db_labels))
    nodes = {lab: _leaf(taxonomy, lab, dataset) for lab in labels}
    unknown = tuple(lab for lab in labels if nodes[lab] is None)
    table = np.zeros((len(labels), len(labels)), dtype=np.float64)
    for i, a in enumerate(labels):
        for j, b in enumerate(labels):
            node_a, node_b = nodes[a], nodes[b]
            if node_a is None or node_b is None:
                table[i, j] = 1.0 if a == b else 0.0
            else:
                table[i, j] = float(taxonomy.lca_depth(node_a, node_b))
    pos = {lab: i for i, lab in enumerate(labels)}
    q = np.array([pos[lab] for lab in query_labels], dtype=np.int64)
    d = np.array([pos[lab] for lab in db_labels], dtype=np.int64)
    return TreeGains(table[q][:, d], unknown)
