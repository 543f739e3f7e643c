"""What the archive covers, for the map page: footprints near by, grid clusters far away.

The page asks for its viewport; when few items lie in it they come back one by one (their
boxes, or points for items known by a centre), otherwise grouped into the cells of a grid
fitted to the viewport (a count, the cell and the mean centre per cell), so a zoomed-out
view of a large archive stays a few hundred features.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from terrahash.index.items import BBox

#: At most this many items are returned one by one; more are clustered.
MAX_FOOTPRINTS = 500
#: Grid cells along the longer side of the viewport when clustering.
GRID_CELLS = 12


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

        Up to ``limit`` items are features of their own (``properties.id``); past that the
        features are grid clusters (``properties.count``, ``properties.cell``) and
        ``clustered`` is true. ``matched`` counts the items meeting ``bbox``, ``total`` all.
        """
        rows = np.flatnonzero(_meets(self.boxes, bbox)) if bbox is not None else np.arange(len(self.ids))
        body: dict[str, Any] = {"type": "FeatureCollection", "total": len(self.ids),
                                "matched": int(rows.size), "extent": self.extent}
        if rows.size <= limit:
            body["clustered"] = False
            body["features"] = [_footprint(self.ids[r], self.boxes[r]) for r in rows]
        else:
            body["clustered"] = True
            body["features"] = _clusters(self.boxes[rows], bbox or (-180.0, -90.0, 180.0, 90.0))
        return body


def _meets(boxes: np.ndarray, bbox: BBox) -> np.ndarray:
    """Rows whose box meets ``bbox`` (``W > E`` crosses the antimeridian)."""
    w, s, e, n = bbox
    lat = (boxes[:, 3] >= s) & (boxes[:, 1] <= n)
    if w <= e:
        return lat & (boxes[:, 2] >= w) & (boxes[:, 0] <= e)
    return lat & ((boxes[:, 2] >= w) | (boxes[:, 0] <= e))


def _footprint(item_id: str, box: np.ndarray) -> dict[str, Any]:
    w, s, e, n = (float(v) for v in box)
    if w == e and s == n:
        geometry: dict[str, Any] = {"type": "Point", "coordinates": [w, s]}
    else:
        geometry = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    return {"type": "Feature", "id": item_id, "properties": {"id": item_id}, "geometry": geometry}


def _clusters(boxes: np.ndarray, view: BBox) -> list[dict[str, Any]]:
    """One point per occupied grid cell, at the mean centre of its items."""
    w, s, e, n = view
    width = e - w if w <= e else e - w + 360.0  # W > E: across the antimeridian
    size = _nice_step(max(width, n - s, 1e-6) / GRID_CELLS)
    lon = (boxes[:, 0] + boxes[:, 2]) / 2
    lat = (boxes[:, 1] + boxes[:, 3]) / 2
    cx = np.floor(lon / size).astype(np.int64)
    cy = np.floor(lat / size).astype(np.int64)
    cells, inverse, counts = np.unique(np.stack([cx, cy], axis=1), axis=0, return_inverse=True,
                                       return_counts=True)
    inverse = inverse.reshape(-1)
    mean_lon = np.bincount(inverse, lon) / counts
    mean_lat = np.bincount(inverse, lat) / counts
    features = []
    for (x, y), count, mlon, mlat in zip(cells, counts, mean_lon, mean_lat, strict=True):
        cell = [x * size, y * size, (x + 1) * size, (y + 1) * size]
        features.append({"type": "Feature",
                         "properties": {"count": int(count), "cell": [round(float(v), 6) for v in cell]},
                         "geometry": {"type": "Point", "coordinates": [round(float(mlon), 6),
                                                                       round(float(mlat), 6)]}})
    return features


def _nice_step(raw: float) -> float:
    """The grid step: ``raw`` rounded up to 1, 2 or 5 times a power of ten (stable cells while
    panning at one zoom)."""
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if raw <= factor * power:
            return factor * power
    return 10.0 * power
