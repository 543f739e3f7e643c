"""Packed binary codes: the one validator and the one Hamming kernel every layer shares.

Codes are packed ``uint8`` rows (``bits / 8`` bytes, most significant bit first: FAISS's
binary layout and ``np.packbits``' order). Distances are computed on 64-bit words with
``np.bitwise_count`` (one popcount instruction per word), so the index's scans, the
evaluator's rankings and the model's agreement checks all count bits the same way.
"""

from __future__ import annotations

import numpy as np

from terrahash.errors import TerraHashError


class CodeShapeError(TerraHashError, ValueError):
    """Codes of the wrong dtype, rank or length; the message names the argument and lengths."""


def check_codes(codes: object, bits: int | None = None, name: str = "codes") -> np.ndarray:
    """``codes`` as a C-contiguous ``uint8`` array (n, bits/8), or ``CodeShapeError``.

    A single code of shape (bits/8,) is promoted to (1, bits/8). With ``bits=None`` any
    non-zero code length is accepted (the caller compares lengths itself).
    """
    arr = np.asarray(codes)
    want = f"{bits} bits = {bits // 8} bytes each" if bits is not None else "bits/8 bytes each"
    if arr.dtype != np.uint8:
        raise CodeShapeError(
            f"{name}: expected packed uint8 codes ({want}), got dtype {arr.dtype}; "
            "pack bits with np.packbits"
        )
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise CodeShapeError(f"{name}: expected a 2-D array (n, bits/8), got shape {arr.shape}")
    if bits is not None and arr.shape[1] != bits // 8:
        raise CodeShapeError(f"{name}: expected {bits // 8}-byte codes ({bits} bits), got {arr.shape[1]}")
    return np.ascontiguousarray(arr)


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """Bool or 0/1 bits (n, K) -> packed ``uint8`` codes (n, K/8), most significant bit first."""
    return np.packbits(np.asarray(bits).astype(bool), axis=1)


def as_words(codes: np.ndarray) -> np.ndarray:
    """(n, B) packed bytes viewed as the widest unsigned words that divide B (64, 32, 16 or 8 bits).

    ``hamming`` accepts any of these views (one popcount per element); a view, never a copy,
    so a memory-mapped database stays on disk. Always contiguous, so a database and its
    queries get the same view.
    """
    codes = np.ascontiguousarray(codes)
    for width, dtype in ((8, np.uint64), (4, np.uint32), (2, np.uint16)):
        if codes.shape[-1] % width == 0:
            return codes.view(dtype)
    return codes


def hamming(database: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Hamming distances between word-view codes (see ``as_words``).

    ``queries`` of shape (W,) gives an ``int32`` vector (n,), the index's hot path; shape
    (m, W) gives an ``int32`` matrix (m, n), accumulated word by word so memory stays at
    m x n counters instead of m x n x W.
    """
    if queries.ndim == 1:
        # numpy's stubs type bitwise_count and sum(axis=...) of an untyped dtype as Any.
        counts: np.ndarray = np.bitwise_count(np.bitwise_xor(database, queries[None, :]))
        if counts.shape[1] == 1:
            return counts[:, 0].astype(np.int32)
        totals: np.ndarray = counts.sum(axis=1, dtype=np.int32)
        return totals
    out = np.zeros((queries.shape[0], database.shape[0]), dtype=np.int32)
    for w in range(queries.shape[1]):
        out += np.bitwise_count(queries[:, w, None] ^ database[None, :, w])
    return out


def hamming_distances(query_codes: np.ndarray, db_codes: np.ndarray) -> np.ndarray:
    """(n_q, n_db) ``int32`` Hamming distances between packed codes of equal length."""
    queries = check_codes(query_codes, name="query_codes")
    database = check_codes(db_codes, name="db_codes")
    if queries.shape[1] != database.shape[1]:
        raise CodeShapeError(
            f"query_codes have {queries.shape[1]} bytes ({8 * queries.shape[1]} bits) "
            f"but db_codes have {database.shape[1]} ({8 * database.shape[1]} bits)"
        )
    return hamming(as_words(database), as_words(queries))


def rowwise_hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance between row i of ``a`` and row i of ``b`` (same shape): code agreement checks."""
    a, b = check_codes(a, name="a"), check_codes(b, name="b")
    if a.shape != b.shape:
        raise CodeShapeError(f"rowwise_hamming: shapes differ, {a.shape} vs {b.shape}")
    totals: np.ndarray = np.bitwise_count(as_words(a) ^ as_words(b)).sum(axis=1, dtype=np.int32)
    return totals


def majority_code(codes: np.ndarray) -> np.ndarray:
    """The bitwise majority of packed codes (the Hamming centre of a set); ties map to 0."""
    if codes.shape[0] == 0:
        raise CodeShapeError("majority_code of an empty set")
    ones = np.zeros(codes.shape[1] * 8, dtype=np.int64)
    for start in range(0, codes.shape[0], 65536):
        ones += np.unpackbits(codes[start : start + 65536], axis=1).sum(axis=0, dtype=np.int64)
    return np.packbits((2 * ones > codes.shape[0]).astype(np.uint8))
