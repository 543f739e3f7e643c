"""Hash centres: Hadamard rows for classes, with majority-vote centres for coarse groups.

CSQ (Yuan et al., CVPR 2020) showed that pulling codes to fixed, mutually distant centres
beats learning pairwise similarities. We add the semantic tree the way RSHST builds its
nodes: a coarse group's centre is the bitwise majority of its classes' centres, so each
class sits nearer its own group's centre than to other groups' centres, and a
loss over group centres teaches codes the hierarchy. Class centres keep their full
Hadamard separation: nesting by a shared prefix of bits was tried and cost 0.05 mAP@100
on UC Merced (siblings 24 bits apart instead of 32), more than the hierarchy gave back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from terrahash.taxonomy import load_taxonomy


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
    """Class centres (C, K), the coarse group of each class and the group centres (G, K)."""

    classes: list[str]
    centres: np.ndarray
    groups: list[int]
    group_centres: np.ndarray

    @property
    def hierarchical(self) -> bool:
        """True when at least two classes share a coarse group."""
        return len(set(self.groups)) < len(self.groups)

    def group_codes(self) -> np.ndarray:
        """Centre of each coarse group (G, K): the majority code of its classes' centres."""
        return self.group_centres

    def targets(self, label_matrix: torch.Tensor) -> torch.Tensor:
        """Centre of each label set (N, K): sign of the mean of its labels' centres, 0 -> +1."""
        centres = torch.from_numpy(self.centres)
        counts = label_matrix.float().sum(1, keepdim=True).clamp_min(1.0)
        mean = label_matrix.float() @ centres / counts
        return torch.where(mean >= 0, 1.0, -1.0)

    def to_dict(self) -> dict[str, object]:
        """JSON form for ``config.json``."""
        return {"classes": self.classes, "groups": self.groups, "nesting": "majority"}


def majority_centres(centres: np.ndarray, groups: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """Each group's centre: the bitwise majority of its members' centres (G, K).

    Ties (as many members with +1 as with -1) get a seeded random sign, so no bit value
    is favoured across groups. Members end up nearer their own group's centre than to
    any other group's (at 32-128 bits, for every class of UC Merced and AID; at 16 bits
    a few exceptions, since there are more classes than Hadamard rows), while the class
    centres keep their full separation.
    """
    n_groups = max(groups) + 1
    member = np.zeros((n_groups, len(groups)), dtype=np.float32)
    member[list(groups), np.arange(len(groups))] = 1.0
    total = member @ centres
    tie_break = np.where(rng.random(total.shape) < 0.5, -1.0, 1.0)
    return np.where(total > 0, 1.0, np.where(total < 0, -1.0, tie_break)).astype(np.float32)


def build_centres(
    classes: Sequence[str], bits: int, groups: Sequence[int] | None = None, seed: int = 0
) -> CentreSet:
    """Class centres, with group centres above them when ``groups`` (one id per class) is given.

    Without groups (or when every class is its own group) each class is its own group.
    """
    rng = np.random.default_rng(seed)
    centres = _distinct_codes(len(classes), bits, rng)
    if groups is None or len(set(groups)) in (0, len(groups)):
        flat = list(range(len(classes)))
        return CentreSet(list(classes), centres, flat, centres.copy())
    group_ids = sorted(set(groups))
    remap = {g: i for i, g in enumerate(group_ids)}
    nested = [remap[g] for g in groups]
    return CentreSet(list(classes), centres, nested, majority_centres(centres, nested, rng))


def taxonomy_groups(classes: Sequence[str]) -> tuple[list[int] | None, str | None]:
    """Coarse group per class from the shared taxonomy, with the taxonomy version.

    Returns ``(None, None)`` when the taxonomy cannot be loaded or knows fewer than half
    of the labels: a flat set of centres is then the honest fallback. Labels it does not
    know get a group of their own.
    """
    try:
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


def run_centres(config: dict[str, Any]) -> CentreSet | None:
    """The class centres a run was trained towards, rebuilt from its ``config.json``.

    ``None`` for runs without centres (pairwise methods such as DPSH, unsupervised runs).
    Class centres depend only on the classes, the code length and the seed (group
    centres are drawn after them), so rebuilding gives the very codes training used.
    """
    if not config.get("centres") or not config.get("classes"):
        return None
    seed = int((config.get("train") or {}).get("seed", 0))
    return build_centres(list(config["classes"]), int(config["bits"]), None, seed)
