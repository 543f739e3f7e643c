"""What the archive covers, for the map page: footprints where sparse, grid clusters where dense.

The page asks for its viewport, which is cut into a grid of about ``GRID_CELLS`` cells across.
A cell holding at most ``CELL_ITEMS`` items returns them one by one (their boxes, or points for
items known by a centre); a fuller cell returns one cluster (its count, the cell and the mean
centre). Zooming in shrinks the cells, so clusters open up; and past ``limit`` single items
every cell is a cluster, so a zoomed-out view of a large archive stays a few hundred features.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from terrahash.index.filters import lon_ranges
from terrahash.index.items import BBox

#: At most this many items are returned one by one; more are clustered.
MAX_FOOTPRINTS = 500
#: Grid cells along the longer side of the viewport.
GRID_CELLS = 12
#: A cell with more items than this is drawn as one cluster.
CELL_ITEMS = 4
#: A cluster this small lists its ids (``properties.ids``): items at one place stay a cluster
#: however far the map zooms in, so the page offers them by name.
LIST_IDS = 10
#: A box at most this wide and tall (degrees, ~1 m) is a point: the embedded catalog's R-tree
#: stores 32-bit floats rounded outwards, which turns a centre into a box this small.
POINT_SIZE = 1e-5


@dataclass(frozen=True)
class Coverage:
    """The footprints of every item with coordinates (from ``Index.footprints``)."""

    ids: list[str]
    #: (n, 4) float64 ``W, S, E, N``; a point is a zero-size box.
    boxes: np.ndarray

    @property
    def extent(self) -> BBox | None:
        """The box around everything covered (``None`` for an archive without coordinates)."""
        if not len(self.ids):
            return None
        w, s = self.boxes[:, 0].min(), self.boxes[:, 1].min()
        e, n = self.boxes[:, 2].max(), self.boxes[:, 3].max()
        return float(w), float(s), float(e), float(n)

    def geojson(self, bbox: BBox | None = None, limit: int = MAX_FOOTPRINTS) -> dict[str, Any]:
        """A FeatureCollection of the items meeting ``bbox`` (everywhere when ``None``).

        Items of sparse cells are features of their own (``properties.id``), those of dense
        cells clusters (``properties.count``, ``properties.cell``); past ``limit`` single items
        all are clusters. ``clustered`` says whether any cluster was made; ``matched`` counts
        the items meeting ``bbox``, ``total`` all items with coordinates.
        """
        rows = np.flatnonzero(_meets(self.boxes, bbox)) if bbox is not None else np.arange(len(self.ids))
        cells = _cells(self.boxes, rows, bbox or (-180.0, -90.0, 180.0, 90.0))
        singles = sum(c.rows.size for c in cells if c.rows.size <= CELL_ITEMS)
        features = []
        for cell in cells:
            if cell.rows.size <= CELL_ITEMS and singles <= limit:
                features += [_footprint(self.ids[r], self.boxes[r]) for r in cell.rows]
            else:
                listed = [self.ids[r] for r in cell.rows] if cell.rows.size <= LIST_IDS else None
                features.append(cell.cluster(listed))
        clustered = any("count" in f["properties"] for f in features)
        return {"type": "FeatureCollection", "total": len(self.ids), "matched": int(rows.size),
                "extent": self.extent, "clustered": clustered, "features": features}


@dataclass(frozen=True)
class _Cell:
    """One occupied grid cell: its bounds, its items' rows and their mean centre."""

    bounds: tuple[float, float, float, float]
    rows: np.ndarray
    centre: tuple[float, float]

    def cluster(self, ids: list[str] | None) -> dict[str, Any]:
        """The cell as one cluster feature (listing ``ids`` when given)."""
        properties: dict[str, Any] = {"count": int(self.rows.size),
                                      "cell": [round(v, 6) for v in self.bounds]}
        if ids is not None:
            properties["ids"] = ids
        return {"type": "Feature", "properties": properties,
                "geometry": {"type": "Point", "coordinates": [round(v, 6) for v in self.centre]}}


def _meets(boxes: np.ndarray, bbox: BBox) -> np.ndarray:
    """Rows whose box meets ``bbox`` (``W > E`` crosses the antimeridian).

    The boxes are as both catalogs store them (``record_bbox``: a footprint across the
    antimeridian has ``east`` past 180), so the bbox filters' own longitude test applies.
    """
    lat = (boxes[:, 3] >= bbox[1]) & (boxes[:, 1] <= bbox[3])
    lon = np.zeros(len(boxes), dtype=bool)
    for lo, hi in lon_ranges(bbox):
        lon |= (boxes[:, 2] >= lo) & (boxes[:, 0] <= hi)
    return lat & lon


def _footprint(item_id: str, box: np.ndarray) -> dict[str, Any]:
    w, s, e, n = (float(v) for v in box)
    if e - w <= POINT_SIZE and n - s <= POINT_SIZE:
        centre = [round((w + e) / 2, 6), round((s + n) / 2, 6)]
        geometry: dict[str, Any] = {"type": "Point", "coordinates": centre}
    else:
        geometry = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    return {"type": "Feature", "id": item_id, "properties": {"id": item_id}, "geometry": geometry}


def _cells(boxes: np.ndarray, rows: np.ndarray, view: BBox) -> list[_Cell]:
    """The occupied cells of a grid fitted to ``view``, by the centres of ``boxes[rows]``."""
    if not rows.size:
        return []
    w, s, e, n = view
    width = e - w if w <= e else e - w + 360.0  # W > E: across the antimeridian
    size = _nice_step(max(width, n - s, 1e-6) / GRID_CELLS)
    lon = (boxes[rows, 0] + boxes[rows, 2]) / 2
    lat = (boxes[rows, 1] + boxes[rows, 3]) / 2
    keys = np.stack([np.floor(lon / size), np.floor(lat / size)], axis=1).astype(np.int64)
    cells, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    groups = np.split(order, np.cumsum(np.bincount(inverse, minlength=len(cells)))[:-1])
    return [
        _Cell((float(x * size), float(y * size), float((x + 1) * size), float((y + 1) * size)),
              rows[group], (float(lon[group].mean()), float(lat[group].mean())))
        for (x, y), group in zip(cells, groups, strict=True)
    ]


def _nice_step(raw: float) -> float:
    """The grid step: ``raw`` rounded up to 1, 2 or 5 times a power of ten (stable cells while
    panning at one zoom)."""
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if raw <= factor * power:
            return factor * power
    return 10.0 * power
