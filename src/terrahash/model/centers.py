"""Hash centres: Hadamard rows for classes, nested under coarse-group prefixes.

CSQ (Yuan et al., CVPR 2020) showed that pulling codes to fixed, mutually distant centres
beats learning pairwise similarities. We add the semantic tree: the first ``bits // 4``
bits of a class centre are its coarse group's code, so classes of one group sit closer to
each other than to other groups, and a near-miss retrieves a sibling class, not a
random one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


def hadamard(n: int) -> np.ndarray:
    """Sylvester Hadamard matrix of order ``n`` (a power of two), entries +-1."""
    if n < 1 or n & (n - 1):
        raise ValueError(f"Hadamard order must be a power of two, got {n}")
    h = np.ones((1, 1), dtype=np.float32)
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


def _distinct_codes(count: int, bits: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` +-1 codes: Hadamard rows and their negations (no all-ones row), else random."""
    h = hadamard(bits)[1:]
    pool = np.concatenate([h, -h])
    if count <= len(pool):
        return pool[:count].copy()
    return np.where(rng.random((count, bits)) < 0.5, -1.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class CentreSet:
    """Class centres (C, K), the group of each class and the coarse prefix length."""

    classes: list[str]
    centres: np.ndarray
    groups: list[int]
    prefix_bits: int

    @property
    def hierarchical(self) -> bool:
        """True when at least two classes share a coarse group."""
        return self.prefix_bits > 0 and len(set(self.groups)) < len(self.groups)

    def group_codes(self) -> np.ndarray:
        """Prefix code of each group (G, prefix_bits)."""
        n_groups = max(self.groups) + 1
        out = np.ones((n_groups, self.prefix_bits), dtype=np.float32)
        for cls, group in enumerate(self.groups):
            out[group] = self.centres[cls, : self.prefix_bits]
        return out

    def targets(self, label_matrix: torch.Tensor) -> torch.Tensor:
        """Centre of each label set (N, K): sign of the mean of its labels' centres, 0 -> +1."""
        centres = torch.from_numpy(self.centres)
        counts = label_matrix.float().sum(1, keepdim=True).clamp_min(1.0)
        mean = label_matrix.float() @ centres / counts
        return torch.where(mean >= 0, 1.0, -1.0)

    def to_dict(self) -> dict[str, object]:
        """JSON form for ``config.json``."""
        return {"classes": self.classes, "groups": self.groups, "prefix_bits": self.prefix_bits}


def build_centres(
    classes: Sequence[str], bits: int, groups: Sequence[int] | None = None, seed: int = 0
) -> CentreSet:
    """Class centres, nested under group prefixes when ``groups`` (one id per class) is given."""
    rng = np.random.default_rng(seed)
    centres = _distinct_codes(len(classes), bits, rng)
    if groups is None or len(set(groups)) in (0, len(groups)):
        return CentreSet(list(classes), centres, list(range(len(classes))), 0)
    prefix = bits // 4
    group_ids = sorted(set(groups))
    remap = {g: i for i, g in enumerate(group_ids)}
    prefix_codes = _distinct_codes(len(group_ids), prefix, rng)
    for cls, group in enumerate(groups):
        centres[cls, :prefix] = prefix_codes[remap[group]]
    return CentreSet(list(classes), centres, [remap[g] for g in groups], prefix)


def taxonomy_groups(classes: Sequence[str]) -> tuple[list[int] | None, str | None]:
    """Coarse group per class from the shared taxonomy, with the taxonomy version.

    Returns ``(None, None)`` when the taxonomy module is absent or knows fewer than half
    of the labels: a flat set of centres is then the honest fallback. Labels it does not
    know get a group of their own.
    """
    try:
        from terrahash.data.taxonomy import load_taxonomy

        tax = load_taxonomy()
    except Exception:  # noqa: BLE001 - the taxonomy is optional; any failure means "flat"
        return None, None
    parents: list[str | None] = []
    for label in classes:
        try:
            node = tax.map_label(label, strict=False)
            path = list(tax.path(label)) if node is not None else []
        except Exception:  # noqa: BLE001 - an unknown label is simply not grouped
            path = []
        parents.append(str(path[-2]) if len(path) >= 2 else None)
    if sum(p is not None for p in parents) < max(1, len(classes) / 2):
        return None, None
    names: dict[str, int] = {}
    groups = []
    for i, parent in enumerate(parents):
        key = parent if parent is not None else f"__class_{i}"
        groups.append(names.setdefault(key, len(names)))
    version = getattr(tax, "version", None)
    return groups, None if version is None else str(version)
