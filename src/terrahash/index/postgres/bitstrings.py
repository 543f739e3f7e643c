"""Packed codes <-> PostgreSQL ``bit(K)`` values (text ``'0110...'``, most significant bit first)."""

from __future__ import annotations

import numpy as np


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
