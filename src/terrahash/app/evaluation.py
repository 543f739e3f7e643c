"""Evaluate a trained run on its own split: what ``terrahash evaluate`` does, as a library.

The run's ``config.json`` records the exact split (``split.train_ids`` / ``split.test_ids``,
validation items included in train). Queries are the test items, the database the train
items; both are encoded once with the run's model, then scored with
:func:`terrahash.evaluate.protocol.evaluate_protocol` (seeded database order) and, on
request, with the FAISS engine baselines on the same items.

Ground truth comes from the dataset's labels: single-label sets use the same label as
relevance and taxonomy depth as NDCG gain; multi-label sets use one shared label and the
number of shared labels. Items without a label are relevant to nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from terrahash.data import SceneDataset
from terrahash.evaluate.engines import compare_engines
from terrahash.evaluate.hamming import EvaluationError
from terrahash.evaluate.protocol import DEFAULT_ORDER_SEED, REPORTED_KS, evaluate_protocol
from terrahash.evaluate.relevance import (
    multilabel_relevance,
    shared_label_gains,
    taxonomy_gains,
)
from terrahash.model import HashModel
from terrahash.taxonomy import Taxonomy, default_taxonomy

#: What the evaluation encodes by default: image queries against the archive's fused codes.
DEFAULT_QUERY_KIND = "image"
DEFAULT_DB_KIND = "fused"


@dataclass(frozen=True)
class EncodedSplit:
    """A run's test (query) and train (database) items, encoded, with their ground truth.

    Attributes:
        queries: ``encode_dataset`` output for the test items (``codes_<kind>``, ``emb_<kind>``).
        database: the same for the train items, in manifest order.
        relevance: (n_q, n_db) bool.
        gains: (n_q, n_db) NDCG gains.
        gain_kind: ``"taxonomy_depth"`` or ``"shared_labels"``.
        unknown_labels: labels the taxonomy did not know (binary gains for them).
    """

    queries: dict[str, np.ndarray]
    database: dict[str, np.ndarray]
    relevance: np.ndarray
    gains: np.ndarray
    gain_kind: str
    unknown_labels: tuple[str, ...]

    def codes(self, side: str, kind: str) -> np.ndarray:
        """Packed codes of ``side`` (``"queries"``/``"database"``) for a query kind."""
        encoded = self.queries if side == "queries" else self.database
        key = f"codes_{kind}"
        if key not in encoded:
            raise EvaluationError(
                f"kind {kind!r}: this model encodes only {', '.join(map(str, encoded['kinds']))}"
            )
        return encoded[key]


def split_size(config: dict[str, Any]) -> int:
    """How many items a run's evaluation encodes (its train and test ids): for progress bars."""
    split = config.get("split") or {}
    return len(split.get("train_ids") or ()) + len(split.get("test_ids") or ())


def check_kinds(query_kind: str, db_kind: str) -> None:
    """``--query-kind image|fused|text`` and ``--db-kind fused|image``, or a clear error."""
    if query_kind not in ("image", "fused", "text") or db_kind not in ("image", "fused"):
        raise EvaluationError(f"--query-kind {query_kind!r} / --db-kind {db_kind!r}: error: "
                              "expected --query-kind image|fused|text and --db-kind fused|image")


def split_indices(config: dict[str, Any], dataset: SceneDataset) -> tuple[list[int], list[int]]:
    """Dataset indices of the run's (train, test) ids; raise if the dataset lacks them."""
    split = config.get("split") or {}
    train_ids, test_ids = split.get("train_ids"), split.get("test_ids")
    if not train_ids or not test_ids:
        raise EvaluationError(
            "config.json: error: the run records no train/test split (split.train_ids, "
            "split.test_ids); retrain it with `terrahash train`"
        )
    position = {item.id: i for i, item in enumerate(dataset)}
    missing = [i for i in (*train_ids, *test_ids) if i not in position]
    if missing:
        raise EvaluationError(
            f"{dataset.root}: error: {len(missing)} of the run's split items are not in this "
            f"dataset (first: {missing[0]!r}); evaluate on the dataset the run was trained on "
            f"({config.get('dataset', 'see config.json')})"
        )
    return [position[i] for i in train_ids], [position[i] for i in test_ids]


def ground_truth(
    queries: SceneDataset, database: SceneDataset, taxonomy: Taxonomy | None = None
) -> tuple[np.ndarray, np.ndarray, str, tuple[str, ...]]:
    """(relevance, gains, gain kind, unknown labels) for two subsets of one dataset."""
    classes = sorted(set(queries.classes) | set(database.classes))
    q_hot, d_hot = queries.label_matrix(classes), database.label_matrix(classes)
    relevance = multilabel_relevance(q_hot, d_hot)
    if queries.multilabel or database.multilabel:
        return relevance, shared_label_gains(q_hot, d_hot), "shared_labels", ()
    taxonomy = taxonomy or default_taxonomy()
    tree = taxonomy_gains(
        [it.label or "" for it in queries], [it.label or "" for it in database],
        taxonomy, dataset=queries.name,
    )
    labelled = np.asarray(q_hot.any(axis=1))[:, None] & np.asarray(d_hot.any(axis=1))[None, :]
    unknown = tuple(x for x in tree.unknown_labels if x)
    return relevance, tree.gains * labelled, "taxonomy_depth", unknown


def encode_split(
    model: HashModel,
    dataset: SceneDataset,
    kinds: Sequence[str],
    progress: Callable[[int], None] | None = None,
    taxonomy: Taxonomy | None = None,
) -> EncodedSplit:
    """Encode a run's test and train items with ``model`` and build the ground truth.

    Args:
        model: a :class:`terrahash.model.HashModel` (``load_model(run_dir)``).
        dataset: the dataset the run was trained on.
        kinds: query kinds to encode (``image``, ``fused``, ``text``).
        progress: called with the number of items after each batch.
        taxonomy: the semantic tree for NDCG gains (default: the shipped one).
    """
    unsupported = [k for k in kinds if k not in model.query_kinds]
    if unsupported:
        raise EvaluationError(
            f"--query-kind/--db-kind: error: method {model.config.get('method')!r} cannot encode "
            f"{', '.join(unsupported)}; it supports {', '.join(model.query_kinds)}"
        )
    train_idx, test_idx = split_indices(model.config, dataset)
    q_set, d_set = dataset.subset(test_idx), dataset.subset(train_idx)
    encoded = [model.encode_dataset(part, kinds=tuple(kinds), progress=progress)
               for part in (q_set, d_set)]
    relevance, gains, gain_kind, unknown = ground_truth(q_set, d_set, taxonomy)
    return EncodedSplit(encoded[0], encoded[1], relevance, gains, gain_kind, unknown)


def report_split(
    split: EncodedSplit,
    query_kind: str = DEFAULT_QUERY_KIND,
    db_kind: str = DEFAULT_DB_KIND,
    ks: Iterable[int] = REPORTED_KS,
    seed: int = DEFAULT_ORDER_SEED,
) -> dict[str, Any]:
    """The protocol report (see :mod:`terrahash.evaluate.protocol`) plus what was compared."""
    report: dict[str, Any] = evaluate_protocol(
        split.codes("queries", query_kind), split.codes("database", db_kind),
        split.relevance, split.gains, ks, seed,
    )
    report.update(
        query_kind=query_kind,
        db_kind=db_kind,
        ndcg_gain=split.gain_kind,
        unknown_taxonomy_labels=len(split.unknown_labels),
    )
    return report


def engines_split(
    split: EncodedSplit,
    query_kind: str = DEFAULT_QUERY_KIND,
    db_kind: str = DEFAULT_DB_KIND,
    k: int = 100,
    seed: int = DEFAULT_ORDER_SEED,
) -> list[dict[str, Any]]:
    """FAISS engines on the real-valued embeddings beside the codes (same items, same order)."""
    return compare_engines(
        split.queries[f"emb_{query_kind}"], split.database[f"emb_{db_kind}"],
        split.codes("queries", query_kind), split.codes("database", db_kind),
        split.relevance, k=k, seed=seed,
    )


def evaluate_run(
    model: HashModel,
    dataset: SceneDataset,
    query_kind: str = DEFAULT_QUERY_KIND,
    db_kind: str = DEFAULT_DB_KIND,
    ks: Iterable[int] = REPORTED_KS,
    seed: int = DEFAULT_ORDER_SEED,
    progress: Callable[[int], None] | None = None,
    engines: bool = False,
) -> dict[str, Any]:
    """Encode and score a run in one call: the object ``terrahash evaluate --json`` prints.

    With ``engines``, the FAISS baselines on the same items are added under ``engines``.
    """
    check_kinds(query_kind, db_kind)
    split = encode_split(model, dataset, sorted({query_kind, db_kind}), progress)
    report = report_split(split, query_kind, db_kind, ks, seed)
    report.update(method=model.config.get("method"), bits=int(model.bits), dataset=dataset.name)
    if engines:
        report["engines"] = engines_split(split, query_kind, db_kind, 100, seed)
    return report
