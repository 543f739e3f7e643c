"""Columnar copy of the catalog's filter fields, so a filter costs a few vector comparisons.

SQLite stays the source of truth (and serves label filters through its index), but an R-tree
probe returning 1 % of a million rows already takes ~20 ms; NumPy masks over these columns
take a few. Written with each generation (``columns.npz``), rows in ``seq`` order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from terrahash.index.catalog import Catalog
from terrahash.index.filters import Filters

_FLOATS = ("t_start", "t_end", "gsd", "cloud", "west", "east", "south", "north")


class FilterColumns:
    """Typed filter fields per row (NaN where a record lacks the field)."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays
        self.platform_names = [str(p) for p in arrays["platform_names"]]

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> FilterColumns:
        rows = catalog.conn.execute(
            "SELECT i.t_start, i.t_end, i.gsd, i.cloud, f.west, f.east, f.south, f.north, i.platform "
            "FROM items i LEFT JOIN footprints f ON f.seq = i.seq ORDER BY i.seq"
        ).fetchall()
        platforms = sorted({r[8] for r in rows if r[8] is not None})
        code = {p: i for i, p in enumerate(platforms)}
        arrays: dict[str, np.ndarray] = {}
        for j, name in enumerate(_FLOATS):
            arrays[name] = np.array([np.nan if r[j] is None else r[j] for r in rows], dtype=np.float64)
        arrays["platform"] = np.array([code.get(r[8], -1) for r in rows], dtype=np.int32)
        arrays["platform_names"] = np.array(platforms, dtype=str)
        return cls(arrays)

    def save(self, path: Path) -> None:
        with open(path, "wb") as fh:
            np.savez(fh, **self.arrays)

    @classmethod
    def load(cls, path: Path) -> FilterColumns:
        with np.load(path, allow_pickle=False) as z:
            return cls({k: z[k] for k in z.files})

    def mask(self, f: Filters) -> np.ndarray:
        """Rows passing every filter except ``labels`` (NaN comparisons are False: no match)."""
        a = self.arrays
        keep = np.ones(a["platform"].shape[0], dtype=bool)
        with np.errstate(invalid="ignore"):
            if f.bbox is not None:
                w, s, e, n = f.bbox
                lon = (a["east"] >= w) & (a["west"] <= e) if w <= e else (a["east"] >= w) | (a["west"] <= e)
                keep &= lon & (a["north"] >= s) & (a["south"] <= n)
            if f.start is not None:
                keep &= a["t_end"] >= f.start.timestamp()
            if f.end is not None:
                keep &= a["t_start"] <= f.end.timestamp()
            if f.gsd_min is not None:
                keep &= a["gsd"] >= f.gsd_min
            if f.gsd_max is not None:
                keep &= a["gsd"] <= f.gsd_max
            if f.cloud_max is not None:
                keep &= a["cloud"] <= f.cloud_max
        if f.platforms:
            codes = [i for i, p in enumerate(self.platform_names) if p in f.platforms]
            keep &= np.isin(a["platform"], codes)
        return keep
