"""The evaluation protocol: test split as queries, train split as database, seeded order.

This is the usual deep-hashing protocol (the database is the training set, queries are the
held-out images). Two details make the numbers reproducible and honest:

* **Database order.** Stable-ranking metrics break Hamming ties by database order. Dataset
  manifests are sorted by class, so ties would then favour (or punish) whole classes; codes
  collapsed onto hash centres tie with hundreds of items, enough to move mAP@100 by 0.16.
  The database is therefore always permuted with ``np.random.default_rng(seed)`` and the seed
  is part of the report, and ``tie_aware_map@100`` (order-free) is reported beside it.
* **One pass.** All metrics come from the same ranking, computed chunk by chunk, so a
  2 000 x 8 000 evaluation takes about a second.

Report keys: ``map@all``, ``map@<k>`` for each k, ``tie_aware_map@100``, ``p@10``, ``p@100``,
``r@100``, ``ndcg@100``, ``p@r2`` (precision within Hamming radius 2), ``queries``,
``database``, ``bits``, ``zero_hit_queries``, ``unique_codes`` (distinct database codes),
``db_order_seed``, ``normalizer`` and ``protocol``. Conventions are those of
:mod:`terrahash.evaluate.ranking`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from terrahash.evaluate.hamming import (
    DEFAULT_CHUNK,
    EvaluationError,
    check_pair,
    code_bits,
    distance_histograms,
    iter_ranked,
)
from terrahash.evaluate.radius import curve_from_counts
from terrahash.evaluate.ranking import (
    average_precision_sorted,
    check_gains,
    mean_over_queries,
    ndcg_sorted,
    precision_recall_sorted,
)
from terrahash.evaluate.ties import harmonic_numbers, tie_aware_ap_from_histograms

#: The protocol sentence every report carries.
PROTOCOL = "queries = test split, database = train split (seeded random order)"
#: Default order seed of the database.
DEFAULT_ORDER_SEED = 0
#: Cut-offs always reported (the contract's keys).
REPORTED_KS = (20, 100)


def database_order(n_db: int, seed: int = DEFAULT_ORDER_SEED) -> np.ndarray:
    """The seeded random permutation applied to the database before ranking."""
    return np.random.default_rng(seed).permutation(n_db)


def parse_ks(text: str | Iterable[int]) -> tuple[int, ...]:
    """``"20,100"`` -> (20, 100); raise naming the bad value."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    ks: list[int] = []
    for part in parts:
        try:
            k = int(str(part).strip())
        except ValueError:
            raise EvaluationError(f"--k: expected comma-separated integers, got {part!r}") from None
        if k < 1:
            raise EvaluationError(f"--k: cut-offs must be >= 1, got {k}")
        ks.append(k)
    return tuple(sorted(set(ks)))


@dataclass
class _Accumulator:
    """Per-query values collected chunk by chunk (nan = excluded zero-hit query)."""

    n: int
    values: dict[str, np.ndarray] = field(default_factory=dict)

    def put(self, key: str, rows: slice, value: np.ndarray) -> None:
        self.values.setdefault(key, np.full(self.n, np.nan))[rows] = value

    def mean(self, key: str) -> float:
        return mean_over_queries(self.values[key])


def retrieval_metrics(
    query_codes: np.ndarray,
    db_codes: np.ndarray,
    relevance: np.ndarray,
    gains: np.ndarray | None = None,
    ks: Iterable[int] = REPORTED_KS,
    chunk: int = DEFAULT_CHUNK,
) -> dict[str, float | int]:
    """Every report metric from one stable ranking of ``db_codes`` (in the order given).

    Args:
        query_codes: (n_q, bits/8) packed uint8.
        db_codes: (n_db, bits/8) packed uint8, already in evaluation order.
        relevance: (n_q, n_db) bool.
        gains: (n_q, n_db) graded NDCG gains; ``None`` uses the binary relevance.
        ks: extra mAP cut-offs (20 and 100 are always reported).
        chunk: queries per block.
    """
    query_codes, db_codes = check_pair(query_codes, db_codes, relevance, "relevance")
    relevance = np.asarray(relevance, dtype=bool)
    if gains is None:
        gains = relevance.astype(np.float64)
    else:
        check_pair(query_codes, db_codes, gains, "gains")
        gains = check_gains(gains)
    n_q, n_db = len(query_codes), len(db_codes)
    bits = code_bits(db_codes)
    cutoffs = sorted(set(REPORTED_KS) | set(ks))
    harmonic = harmonic_numbers(n_db)
    acc = _Accumulator(n_q)
    retrieved = np.zeros((n_q, bits + 1), dtype=np.int64)
    hits = np.zeros_like(retrieved)
    for block in iter_ranked(query_codes, db_codes, relevance, chunk):
        rows, rel_sorted, n_rel = block.rows, block.relevant_sorted, block.n_relevant
        acc.put("map@all", rows, average_precision_sorted(rel_sorted, n_rel, n_db))
        for k in cutoffs:
            acc.put(f"map@{k}", rows, average_precision_sorted(rel_sorted, n_rel, min(k, n_db)))
        for k in (10, 100):
            p, r = precision_recall_sorted(rel_sorted, n_rel, min(k, n_db))
            acc.put(f"p@{k}", rows, p)
            acc.put(f"r@{k}", rows, r)
        counts, rel_counts = distance_histograms(block.distances, block.relevance, bits)
        acc.put("tie_aware_map@100", rows,
                tie_aware_ap_from_histograms(counts, rel_counts, min(100, n_db), harmonic))
        retrieved[rows], hits[rows] = np.cumsum(counts, axis=1), np.cumsum(rel_counts, axis=1)
        g = gains[rows]
        acc.put("ndcg@100", rows,
                ndcg_sorted(np.take_along_axis(g, block.order, axis=1), g, min(100, n_db)))
    curve = curve_from_counts(retrieved, hits)
    report: dict[str, float | int] = {key: acc.mean(key) for key in acc.values}
    report["p@r2"] = curve.at(min(2, bits))
    report.update(
        queries=n_q,
        database=n_db,
        bits=bits,
        zero_hit_queries=int(np.isnan(acc.values["map@all"]).sum()),
        unique_codes=int(len(np.unique(db_codes, axis=0))),
    )
    return report


def evaluate_protocol(
    query_codes: np.ndarray, db_codes: np.ndarray, relevance: np.ndarray,
    gains: np.ndarray | None = None, ks: Iterable[int] = REPORTED_KS, seed: int = DEFAULT_ORDER_SEED,
) -> dict[str, float | int | str]:
    """Shuffle the database with ``seed``, then :func:`retrieval_metrics`; states the protocol.

    ``db_codes``, the columns of ``relevance`` and of ``gains`` are in the train split's own
    (manifest) order; this function applies :func:`database_order` to all three.
    """
    query_codes, db_codes = check_pair(query_codes, db_codes, relevance, "relevance")
    order = database_order(len(db_codes), seed)
    report: dict[str, float | int | str] = dict(
        retrieval_metrics(
            query_codes,
            db_codes[order],
            np.asarray(relevance)[:, order],
            None if gains is None else np.asarray(gains)[:, order],
            ks,
        )
    )
    report.update(protocol=PROTOCOL, db_order_seed=int(seed), normalizer="relevant")
    return report
