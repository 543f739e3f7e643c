"""Packed codes <-> PostgreSQL ``bit(K)`` values (text ``'0110...'``, most significant bit first),
and stored ``int8`` embeddings <-> ``bytea`` values (``NULL``: none)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from terrahash.index.embeddings import has_embedding


def codes_to_bits(codes: np.ndarray) -> list[str]:
    """Packed uint8 codes (n, K/8) -> ``bit(K)`` literals."""
    if codes.shape[0] == 0:
        return []
    chars = np.unpackbits(codes, axis=1) + np.uint8(ord("0"))
    width = chars.shape[1]
    text = chars.tobytes().decode("ascii")
    return [text[i : i + width] for i in range(0, len(text), width)]


def bits_to_codes(bits: list[str], nbits: int) -> np.ndarray:
    """``bit(K)`` text values -> packed uint8 codes (n, K/8)."""
    if not bits:
        return np.zeros((0, nbits // 8), np.uint8)
    raw = np.frombuffer("".join(bits).encode("ascii"), np.uint8) - np.uint8(ord("0"))
    return np.packbits(raw.reshape(len(bits), nbits), axis=1)


def embedding_bytes(embeddings: np.ndarray | None, n: int) -> list[bytes | None]:
    """The ``embedding`` column's values: each row's ``int8`` bytes, ``None`` where it has none."""
    if embeddings is None:
        return [None] * n
    present = has_embedding(embeddings)
    return [row.tobytes() if keep else None for row, keep in zip(embeddings, present, strict=True)]


def bytes_to_embeddings(values: Sequence[bytes | None]) -> np.ndarray | None:
    """``bytea`` values -> stored ``int8`` rows (n, D), zero where ``NULL``; ``None`` if all are."""
    dims = {len(v) for v in values if v is not None}
    if not dims:
        return None
    out = np.zeros((len(values), dims.pop()), np.int8)
    for i, value in enumerate(values):
        if value is not None:
            out[i] = np.frombuffer(value, np.int8)
    return out
