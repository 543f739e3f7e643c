"""Slow-but-obvious reference implementations and code builders for the metric tests."""

from __future__ import annotations

import math

import numpy as np


def codes_at_distances(distances: list[int], bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """A zero query code and database codes whose i-th item is ``distances[i]`` bits away."""
    db = np.zeros((len(distances), bits), dtype=bool)
    for row, d in enumerate(distances):
        db[row, :d] = True
    query = np.zeros((1, bits), dtype=bool)
    return np.packbits(query, axis=1), np.packbits(db, axis=1)


def popcount_distance(a: np.ndarray, b: np.ndarray) -> int:
    return sum(bin(int(x) ^ int(y)).count("1") for x, y in zip(a, b, strict=True))


def reference_ranking(query: np.ndarray, db: np.ndarray) -> list[int]:
    """Database indices by Hamming distance; Python's sort is stable, so ties keep db order."""
    dist = [popcount_distance(query, row) for row in db]
    return sorted(range(len(db)), key=lambda j: dist[j])


def reference_ap(rel_sorted: list[bool], n_relevant: int, k: int, normalizer: str) -> float:
    hits, total = 0, 0.0
    for i, rel in enumerate(rel_sorted[:k], start=1):
        if rel:
            hits += 1
            total += hits / i
    if normalizer == "relevant":
        return total / min(n_relevant, k)
    return total / hits if hits else 0.0


def reference_map(query_codes, db_codes, relevance, k=None, normalizer="relevant") -> float:
    aps = []
    for q in range(len(query_codes)):
        n_relevant = int(relevance[q].sum())
        if n_relevant == 0:
            continue
        order = reference_ranking(query_codes[q], db_codes)
        kk = len(db_codes) if k is None else min(k, len(db_codes))
        aps.append(reference_ap([bool(relevance[q, j]) for j in order], n_relevant, kk, normalizer))
    return sum(aps) / len(aps)


def reference_ndcg(query_codes, db_codes, gains, k) -> float:
    values = []
    for q in range(len(query_codes)):
        order = reference_ranking(query_codes[q], db_codes)
        kk = min(k, len(db_codes))
        dcg = sum(gains[q, j] / math.log2(i + 2) for i, j in enumerate(order[:kk]))
        ideal = sorted(gains[q], reverse=True)[:kk]
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        if idcg > 0:
            values.append(dcg / idcg)
    return sum(values) / len(values)


def random_problem(
    seed: int, n_q: int = 12, n_db: int = 40, bits: int = 16, n_classes: int = 4, spread: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Codes built around a few centres (so ties are frequent) and single labels."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 2, (n_classes, bits), dtype=np.uint8)

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, n_classes, n)
        flips = rng.random((n, bits)) < spread / bits
        return np.packbits(centres[labels] ^ flips, axis=1), labels

    q, lq = sample(n_q)
    d, ld = sample(n_db)
    return q, d, lq, ld
