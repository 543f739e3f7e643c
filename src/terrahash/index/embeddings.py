"""Compact real-valued embeddings stored beside the codes, so a Hamming shortlist can be re-ranked.

Binary codes collapse onto few values (hundreds of items tie at one distance), so the order
inside a tie says nothing. Each item may therefore carry an ``int8`` vector of at most
``MAX_EMBEDDING_BYTES`` dimensions, quantised as::

    stored = round(127 * x / max|x_i|)     (per vector: largest component to +-127)

Only directions matter (queries are quantised the same way and scored by the cosine of the
two ``int8`` vectors, ``index.rerank``), so each vector gets the whole ``int8`` range:
``stored / 127`` is ``x / max|x_i|`` to within half a step per component. Scaling to unit
length instead would leave a 64-dimensional vector about 16 steps per component and make
near-identical vectors round to the same bytes. The largest component is always +-127, so
an all-zero row means "no embedding stored" in every backend.

Both backends store these bytes as they are and re-rank with the same functions here, so
their re-ranked results agree element for element.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from terrahash.index.errors import HashIndexError

#: Largest stored vector, in bytes (one byte per dimension).
MAX_EMBEDDING_BYTES = 256
#: Quantisation scale: a vector's largest component maps to +-127.
EMBEDDING_SCALE = 127
#: How the stored vectors were made, as ``info()`` reports it.
QUANTIZATION = "int8: round(127 * x / max|x_i|) per vector; score: cosine of query and stored int8 vectors"
#: Rows quantised at a time.
_BLOCK = 65536


def check_embeddings(embeddings: object, n: int, name: str = "embeddings") -> np.ndarray:
    """``embeddings`` as a finite float array (n, D), 1 <= D <= 256, or ``ValueError`` naming the fault."""
    arr = np.asarray(embeddings)
    if arr.ndim == 1 and n == 1:
        arr = arr[None, :]
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"{name}: expected a float array (n, D), got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] != n:
        raise ValueError(f"{name}: expected shape ({n}, D) (one row per item), got {arr.shape}")
    if not 1 <= arr.shape[1] <= MAX_EMBEDDING_BYTES:
        raise ValueError(f"{name}: {arr.shape[1]} dimensions; between 1 and {MAX_EMBEDDING_BYTES} are stored")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: holds NaN or infinite values")
    return arr


def quantize_embeddings(embeddings: np.ndarray) -> np.ndarray:
    """Float (n, D) -> stored ``int8`` (n, D): per vector divided by its largest absolute
    component, times 127, rounded.

    A zero vector stays zero, i.e. "no embedding" (it has no direction to compare). Done in
    float64 blocks of rows, so a million vectors need no gigabytes of temporaries.
    """
    source = np.asarray(embeddings)
    out = np.empty(source.shape, np.int8)
    for start in range(0, len(source), _BLOCK):
        x = source[start : start + _BLOCK].astype(np.float64)
        peak = np.abs(x).max(axis=1, keepdims=True)
        scaled = np.divide(x, peak, out=np.zeros_like(x), where=peak > 0)
        out[start : start + _BLOCK] = np.rint(scaled * EMBEDDING_SCALE)
    return out


def dequantize_embeddings(stored: np.ndarray) -> np.ndarray:
    """Stored ``int8`` (n, D) -> float32 (n, D): the direction, largest component +-1."""
    return np.asarray(stored, dtype=np.float32) / np.float32(EMBEDDING_SCALE)


def has_embedding(stored: np.ndarray) -> np.ndarray:
    """(n,) bool: which stored rows hold an embedding (all-zero rows do not)."""
    return np.any(np.asarray(stored) != 0, axis=1)


def embedding_dim_after(
    current: int | None, batch: np.ndarray | None, replace: bool, where: str
) -> int | None:
    """The index's embedding length after a write of ``batch`` (``None``: it stores none).

    One index holds one length; a batch without embeddings leaves it as it is (its items
    simply have none), and a ``replace`` starts over from the batch.
    """
    if batch is None:
        return None if replace else current
    dim = int(batch.shape[1])
    if replace or current is None or current == dim:
        return dim
    raise HashIndexError(
        f"{where}: error: embeddings have {dim} dimensions but this index stores {current}-dimensional "
        "ones; rebuild the index (replace_all) to change them"
    )


def embedding_summary(dim: int | None, items: int) -> dict[str, Any]:
    """The ``embeddings`` part of ``info()``, the same keys for every backend."""
    if dim is None:
        return {
            "dim": None, "items": 0, "rerank": False,
            "note": "no embeddings stored: searches are ranked by Hamming distance alone "
                    "(rebuild the index with this TerraHash to re-rank)",
        }
    return {"dim": dim, "dtype": "int8", "bytes_per_item": dim, "items": items, "rerank": items > 0,
            "quantization": QUANTIZATION}
