"""Footprint overlap of lon/lat boxes: the ground truth of same-place retrieval.

Two acquisitions show the same place when their footprints cover the same ground. Archives
record footprints as WGS84 boxes ``(west, south, east, north)`` in degrees, so overlap is
measured on those boxes: the area of the intersection over the area of the query's box.
A lon/lat rectangle's area is exact on a sphere, ``R² Δλ (sin φn − sin φs)``, so no
projection library is needed. A box with ``west > east`` crosses the antimeridian.

A box is the envelope of a footprint: a projected tile rotated against the meridians (UTM
away from its central meridian) has a slightly larger box, so box overlaps of two tiles
offset by half a tile come out a little above 50 % where the tiles' own squares overlap
a little below. Callers that set a threshold near such a value should say so.
"""

from __future__ import annotations

import numpy as np

from terrahash.evaluate.hamming import EvaluationError

#: Fraction of the query's ground a relevant item must cover (issue 13, point 8).
DEFAULT_MIN_OVERLAP = 0.5
#: Rounding slack of the threshold: a box exactly half over another computes as 0.4999999...
TOLERANCE = 1e-9


def check_boxes(boxes: np.ndarray | list[list[float]], name: str = "boxes") -> np.ndarray:
    """``boxes`` as a float64 (n, 4) array of (W, S, E, N) degrees, or ``EvaluationError``."""
    array = np.asarray(boxes, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 4:
        raise EvaluationError(f"{name}: expected an (n, 4) array of (west, south, east, north), "
                              f"got shape {array.shape}")
    bad = ~np.isfinite(array).all(axis=1)
    bad |= (np.abs(array[:, [0, 2]]) > 180.0).any(axis=1) | (np.abs(array[:, [1, 3]]) > 90.0).any(axis=1)
    bad |= array[:, 1] > array[:, 3]
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise EvaluationError(f"{name}: row {row} is not a lon/lat box (W, S, E, N): {array[row].tolist()}")
    return array


def _lon_spans(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(west, east) with east unwrapped past 180 for antimeridian boxes, so east >= west."""
    west, east = boxes[:, 0], boxes[:, 2]
    return west, np.where(east < west, east + 360.0, east)


def box_areas(boxes: np.ndarray) -> np.ndarray:
    """Area of each box on the unit sphere (steradians)."""
    boxes = check_boxes(boxes)
    west, east = _lon_spans(boxes)
    south, north = np.deg2rad(boxes[:, 1]), np.deg2rad(boxes[:, 3])
    areas: np.ndarray = np.deg2rad(east - west) * (np.sin(north) - np.sin(south))
    return areas


def overlap_fraction(query_boxes: np.ndarray, db_boxes: np.ndarray) -> np.ndarray:
    """(n_q, n_db) area of each query ∩ database box over the query box's area, in [0, 1].

    Raises:
        EvaluationError: a malformed box, or a query box of zero area (no ground to cover).
    """
    q, db = check_boxes(query_boxes, "query_boxes"), check_boxes(db_boxes, "db_boxes")
    area = box_areas(q)
    if (flat := area <= 0).any():
        row = int(np.flatnonzero(flat)[0])
        raise EvaluationError(f"query_boxes: row {row} has zero area: {q[row].tolist()}")
    qw, qe = (v[:, None] for v in _lon_spans(q))
    dw, de = (v[None, :] for v in _lon_spans(db))
    # arcs on a circle may meet in two pieces: add the overlap at each 360° shift
    lon = np.zeros((len(q), len(db)))
    for shift in (-360.0, 0.0, 360.0):
        lon += np.clip(np.minimum(qe, de + shift) - np.maximum(qw, dw + shift), 0.0, None)
    south = np.maximum(q[:, None, 1], db[None, :, 1])
    north = np.minimum(q[:, None, 3], db[None, :, 3])
    lat = np.clip(np.sin(np.deg2rad(north)) - np.sin(np.deg2rad(south)), 0.0, None)
    fraction: np.ndarray = np.clip(np.deg2rad(lon) * lat / area[:, None], 0.0, 1.0)
    return fraction


def covers(fraction: np.ndarray, min_fraction: float = DEFAULT_MIN_OVERLAP) -> np.ndarray:
    """Bool of ``fraction >= min_fraction`` up to float rounding (``TOLERANCE``)."""
    if not 0.0 < min_fraction <= 1.0:
        raise EvaluationError(f"min_fraction: expected a value in (0, 1], got {min_fraction}")
    return np.asarray(fraction) >= min_fraction - TOLERANCE


def overlap_relevance(
    query_boxes: np.ndarray, db_boxes: np.ndarray, min_fraction: float = DEFAULT_MIN_OVERLAP
) -> np.ndarray:
    """(n_q, n_db) bool: the database box covers at least ``min_fraction`` of the query's ground."""
    return covers(overlap_fraction(query_boxes, db_boxes), min_fraction)


__all__ = ["DEFAULT_MIN_OVERLAP", "TOLERANCE", "box_areas", "check_boxes", "covers", "overlap_fraction",
           "overlap_relevance"]
