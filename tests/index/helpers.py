"""Synthetic codes for index tests: random, clustered, and heavily tied."""

from __future__ import annotations

import numpy as np

from terrahash.index.codes import pad_results


def random_codes(n: int, bits: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, bits // 8), dtype=np.uint8)


def clustered_codes(
    n: int, bits: int, n_clusters: int, flip: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Codes scattered around random centres (``flip``: per-bit noise); returns (codes, cluster)."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 2, (n_clusters, bits), dtype=np.uint8)
    which = rng.integers(0, n_clusters, n)
    noise = (rng.random((n, bits)) < flip).astype(np.uint8)
    return np.packbits(centres[which] ^ noise, axis=1), which


def tied_codes(n: int, bits: int, distinct: int, seed: int) -> np.ndarray:
    """Few distinct codes repeated many times: every query has long runs of equal distances."""
    base = random_codes(distinct, bits, seed)
    return base[np.random.default_rng(seed + 1).integers(0, distinct, n)]


def reference_search(database: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force top-k by a full stable sort over unpacked bits: the oracle every index path is
    tested against, deliberately independent of the package's Hamming kernel."""
    bits_db = np.unpackbits(database, axis=1).astype(np.int32)
    rows = []
    for q in np.unpackbits(queries, axis=1).astype(np.int32):
        d = np.abs(bits_db - q[None, :]).sum(axis=1)
        order = np.argsort(d, kind="stable")[:k]
        rows.append((d[order], order))
    return pad_results(rows, k)
