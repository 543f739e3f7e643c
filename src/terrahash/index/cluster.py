"""Hamming k-modes: the learned hierarchy RSHST falls back on where labels are missing.

Centres are bitwise majorities (the Hamming analogue of means); assignment is a 1-NN
search over the centres, done by FAISS when it is installed (it parallelises over codes).
"""

from __future__ import annotations

import numpy as np

from terrahash.codes import as_words, hamming, majority_code
from terrahash.index.flat import faiss_module

#: Codes used to estimate centres; assignment of the rest is exact.
SAMPLE_SIZE = 32768


def nearest_centre(codes: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (ties: lowest index) for each packed code."""
    if centres.shape[0] == 1 or codes.shape[0] == 0:
        return np.zeros(codes.shape[0], dtype=np.int64)
    faiss = faiss_module()
    if faiss is not None:
        index = faiss.IndexBinaryFlat(codes.shape[1] * 8)
        index.add(np.ascontiguousarray(centres))
        _, labels = index.search(np.ascontiguousarray(codes), 1)
        return np.asarray(labels[:, 0], dtype=np.int64)
    distances = hamming(as_words(codes), as_words(centres))  # (centres, codes)
    return np.asarray(distances.argmin(axis=0), dtype=np.int64)


def seed_centres(codes: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding in Hamming space: spread-out starting centres, fewer merged clusters."""
    words = as_words(np.ascontiguousarray(codes))
    chosen = [int(rng.integers(codes.shape[0]))]
    nearest = hamming(words, words[chosen[0]]).astype(np.float64)
    for _ in range(1, k):
        weights = nearest**2
        total = weights.sum()
        if total == 0:
            break
        pick = int(rng.choice(codes.shape[0], p=weights / total))
        chosen.append(pick)
        nearest = np.minimum(nearest, hamming(words, words[pick]))
    return codes[chosen]


def kmodes(
    codes: np.ndarray, k: int, rng: np.random.Generator, iters: int = 6
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster packed codes into at most ``k`` non-empty groups.

    Returns:
        ``(assignment, centres)``: group index per code (0..m-1) and the (m, B) centres.
    """
    n = codes.shape[0]
    k = max(1, min(k, n))
    size = max(SAMPLE_SIZE, 64 * k)
    sample = codes if n <= size else codes[rng.choice(n, size, replace=False)]
    uniq = np.unique(sample, axis=0)
    k = min(k, uniq.shape[0])
    centres = seed_centres(uniq, k, rng)
    for _ in range(iters):
        assign = nearest_centre(sample, centres)
        new = [majority_code(sample[assign == j]) for j in range(k) if np.any(assign == j)]
        new_centres = np.stack(new)
        if new_centres.shape == centres.shape and np.array_equal(new_centres, centres):
            break
        centres = new_centres
        k = centres.shape[0]
    assign = nearest_centre(codes, centres)
    used = np.unique(assign)
    remap = np.full(centres.shape[0], -1, dtype=np.int64)
    remap[used] = np.arange(used.shape[0])
    return remap[assign], centres[used]
