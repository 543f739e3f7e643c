"""Temporal positives: training items that show the same ground on another date.

An archive without labels still knows where and when each image was taken. Two
acquisitions of the same footprint on different dates are the positive pair that teaches
a model to recognise a place through haze, season and a scene's stretch, which no
augmentation of a single image can: the self-supervised objectives of SeCo (Mañas et al.,
ICCV 2021, https://arxiv.org/abs/2103.16607) and Geography-Aware SSL (Ayush et al., ICCV
2021, https://arxiv.org/abs/2011.09980) use such pairs. ``--method unsupervised`` takes
one as an item's second view where the training part has one, else a second augmentation.

Only footprints and dates are read: no label, and only items of the training part.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import torch

from terrahash.data.dataset import SceneDataset
from terrahash.evaluate.overlap import overlap_fraction

#: Fraction of an item's box the other date's footprint must cover to be its partner: tile
#: grids of two scenes are rarely aligned, so a partner often covers only about half.
MIN_PARTNER_OVERLAP = 0.3
#: Partners kept per item (the most overlapping ones).
MAX_PARTNERS = 4


def _boxes_and_days(dataset: SceneDataset, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions with a box and a date, their (n, 4) boxes, their days since epoch)."""
    keep, boxes, days = [], [], []
    for pos, i in enumerate(rows):
        record = dataset[i].record
        box = record.bbox
        # a point (no footprint) covers no ground; a box across the antimeridian is left out
        if box is None or record.datetime is None or not (box[0] < box[2] and box[1] < box[3]):
            continue
        keep.append(pos)
        boxes.append(box)
        days.append(record.datetime.date().toordinal())
    return np.array(keep, dtype=np.int64), np.array(boxes, dtype=np.float64).reshape(-1, 4), np.array(days)


def _grid_candidates(boxes: np.ndarray) -> list[np.ndarray]:
    """For each box, the boxes whose centre lies in its grid cell or a neighbour's.

    Cells are as large as the largest box, so every intersecting box is a candidate; the
    pairwise overlap is then computed per cell block instead of for all n² pairs.
    """
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    cell = max(float(np.max(boxes[:, 2] - boxes[:, 0])), float(np.max(boxes[:, 3] - boxes[:, 1])), 1e-9)
    gx, gy = np.floor(cx / cell).astype(np.int64), np.floor(cy / cell).astype(np.int64)
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, key in enumerate(zip(gx.tolist(), gy.tolist(), strict=True)):
        buckets[key].append(i)
    out = []
    for x, y in zip(gx.tolist(), gy.tolist(), strict=True):
        near = [j for dx in (-1, 0, 1) for dy in (-1, 0, 1) for j in buckets.get((x + dx, y + dy), [])]
        out.append(np.array(near, dtype=np.int64))
    return out


def temporal_partners(
    dataset: SceneDataset,
    train_idx: Sequence[int],
    min_overlap: float = MIN_PARTNER_OVERLAP,
    max_partners: int = MAX_PARTNERS,
) -> torch.Tensor | None:
    """(len(dataset), max_partners) dataset indices of each training item's partners, -1 padded.

    A partner is another training item dated on another day whose footprint covers at least
    ``min_overlap`` of the item's box, the most overlapping first. ``None`` when no training
    item has one (no footprints, one date): the caller then trains on augmentations alone.
    """
    rows = list(train_idx)
    keep, boxes, days = _boxes_and_days(dataset, rows)
    if len(keep) < 2 or len(np.unique(days)) < 2:
        return None
    partners = torch.full((len(dataset), max_partners), -1, dtype=torch.long)
    found = 0
    for a, near in enumerate(_grid_candidates(boxes)):
        near = near[days[near] != days[a]]
        if near.size == 0:
            continue
        cover = overlap_fraction(boxes[a : a + 1], boxes[near])[0]
        good = np.flatnonzero(cover >= min_overlap)
        if good.size == 0:
            continue
        best = good[np.argsort(-cover[good], kind="stable")][:max_partners]
        item = rows[int(keep[a])]
        partners[item, : best.size] = torch.tensor([rows[int(keep[j])] for j in near[best]])
        found += 1
    return partners if found else None


def draw_partners(partners: torch.Tensor, idx: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One random partner of each item of ``idx``, or the item itself where it has none."""
    table = partners[idx]
    counts = (table >= 0).sum(dim=1)
    pick = (torch.rand(len(idx), generator=generator) * counts.clamp_min(1)).long()
    chosen = table.gather(1, pick.unsqueeze(1)).squeeze(1)
    return torch.where(counts > 0, chosen, idx)
