"""Packed binary codes: validation, Hamming distances and exact top-k with stable ties.

Every search path in the package (flat scan, tree leaves, filtered scans) ranks by the same
key, ``(distance, insertion position)``, so their results can be compared element for element.
"""

from __future__ import annotations

import numpy as np

from terrahash.index.errors import CodeShapeError

#: Distance reported for a missing result (FAISS's binary sentinel is also "larger than any").
MISSING_DISTANCE = -1
#: Position reported for a missing result (FAISS's ``-1`` label).
MISSING_POSITION = -1


def check_codes(codes: object, bits: int, name: str = "codes") -> np.ndarray:
    """Return ``codes`` as a C-contiguous ``uint8`` array of shape (n, bits/8).

    A single code of shape (bits/8,) is promoted to (1, bits/8).

    Raises:
        CodeShapeError: wrong dtype, rank or code length; the message names both lengths.
    """
    arr = np.asarray(codes)
    if arr.dtype != np.uint8:
        raise CodeShapeError(
            f"{name}: expected packed uint8 codes ({bits} bits = {bits // 8} bytes each), "
            f"got dtype {arr.dtype}; pack bits with np.packbits"
        )
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise CodeShapeError(f"{name}: expected a 2-D array (n, {bits // 8}), got shape {arr.shape}")
    if arr.shape[1] != bits // 8:
        raise CodeShapeError(f"{name}: expected {bits // 8}-byte codes ({bits} bits), got {arr.shape[1]}")
    return np.ascontiguousarray(arr)


def as_words(codes: np.ndarray) -> np.ndarray:
    """(n, B) packed bytes as (n, B/8) uint64 words (B a multiple of 8), else as bytes.

    Always contiguous, so a database and its queries get the same view.
    """
    codes = np.ascontiguousarray(codes)
    if codes.shape[-1] % 8 == 0:
        return codes.view(np.uint64)
    return codes


def hamming(database: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Hamming distances (int32, shape (n,)) between each row of ``database`` and one ``query``.

    Both must be the same word view (see ``as_words``).
    """
    x = np.bitwise_xor(database, query[None, :])
    counts = np.bitwise_count(x)
    if counts.shape[1] == 1:
        return counts[:, 0].astype(np.int32)
    return counts.sum(axis=1, dtype=np.int32)


def topk_stable(distances: np.ndarray, positions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best ``(distance, position)`` pairs, sorted by distance then position.

    ``argpartition`` alone may split a tie at the k-th distance arbitrarily; this takes every
    candidate at or below the k-th distance and sorts them, so the boundary is deterministic.
    """
    n = distances.shape[0]
    if n == 0 or k <= 0:
        return np.empty(0, np.int32), np.empty(0, np.int64)
    if n > k:
        kth = np.partition(distances, k - 1)[k - 1]
        keep = np.flatnonzero(distances <= kth)
        distances, positions = distances[keep], positions[keep]
    order = np.lexsort((positions, distances))[:k]
    return distances[order].astype(np.int32), positions[order].astype(np.int64)


def pad_results(rows: list[tuple[np.ndarray, np.ndarray]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-query results into (n, k) arrays padded with the FAISS-style sentinels."""
    dist = np.full((len(rows), k), MISSING_DISTANCE, dtype=np.int32)
    pos = np.full((len(rows), k), MISSING_POSITION, dtype=np.int64)
    for i, (d, p) in enumerate(rows):
        dist[i, : len(d)] = d
        pos[i, : len(p)] = p
    return dist, pos


def reference_search(database: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force top-k by a full stable sort; the ground truth every index is tested against."""
    bits_db = np.unpackbits(database, axis=1).astype(np.int32)
    rows = []
    for q in np.unpackbits(queries, axis=1).astype(np.int32):
        d = np.abs(bits_db - q[None, :]).sum(axis=1)
        order = np.argsort(d, kind="stable")[:k]
        rows.append((d[order], order))
    return pad_results(rows, k)


def majority_code(codes: np.ndarray) -> np.ndarray:
    """The bitwise majority (Hamming medoid-like centre) of packed codes; ties map to 0."""
    if codes.shape[0] == 0:
        raise ValueError("majority_code of an empty set")
    ones = np.zeros(codes.shape[1] * 8, dtype=np.int64)
    for start in range(0, codes.shape[0], 65536):
        ones += np.unpackbits(codes[start : start + 65536], axis=1).sum(axis=0, dtype=np.int64)
    return np.packbits((2 * ones > codes.shape[0]).astype(np.uint8))


def check_search_args(codes: np.ndarray, bits: int, k: object, nprobe: int | None) -> tuple[np.ndarray, int]:
    """Validated query codes and ``k`` for any backend's ``search`` (same errors everywhere)."""
    queries = check_codes(codes, bits, "query codes")
    if not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if nprobe is not None and nprobe < 1:
        raise ValueError(f"nprobe must be a positive integer, got {nprobe!r}")
    return queries, int(k)
