"""Shared data for the PostgreSQL tests: real scene records plus synthetic, filterable ones."""

from __future__ import annotations

import datetime as dt

import numpy as np

from terrahash.metadata.record import SceneRecord, polygon

BITS = 64
PLATFORMS = ("sentinel-2a", "landsat-8", "gf-2", None)
LABELS = ("forest", "river", "harbor", "beach")


def synthetic_items(n: int, seed: int) -> tuple[list[str], list[SceneRecord], list[list[str]]]:
    """``n`` records spread over the globe and 2020-2023, with platform, GSD and cloud cover.

    Some have no footprint, no date or no platform, so "missing field never matches" is
    exercised too.
    """
    rng = np.random.default_rng(seed)
    t0 = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    ids, records, labels = [], [], []
    for i in range(n):
        lon, lat = rng.uniform(-179, 178), rng.uniform(-80, 79)
        size = rng.uniform(0.01, 1.5)
        start = t0 + dt.timedelta(seconds=float(rng.uniform(0, 4 * 365 * 86400)))
        fields: dict = {
            "platform": PLATFORMS[int(rng.integers(len(PLATFORMS)))],
            "gsd_m": float(rng.choice([0.8, 3.0, 10.0, 30.0])),
            "cloud_cover": float(rng.uniform(0, 100)),
        }
        if rng.random() > 0.05:
            fields["footprint"] = polygon(
                [(lon, lat), (lon + size, lat), (lon + size, lat + size), (lon, lat + size)]
            )
        if rng.random() > 0.05:
            fields["datetime"] = start
            if rng.random() < 0.3:
                fields["start_datetime"] = start
                fields["end_datetime"] = start + dt.timedelta(days=float(rng.uniform(0, 30)))
        ids.append(f"syn-{i:05d}")
        records.append(SceneRecord(**fields))
        picked = rng.choice(len(LABELS), int(rng.integers(0, 3)), replace=False)
        labels.append([LABELS[j] for j in sorted(picked)])
    return ids, records, labels


def tied_codes(n: int, seed: int, distinct: int = 40) -> np.ndarray:
    """Few distinct codes repeated: every top-k has long runs of equal distances (ties)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (distinct, BITS // 8), dtype=np.uint8)
    return base[rng.integers(0, distinct, n)]
