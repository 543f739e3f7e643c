"""Footprints across the antimeridian: stored as narrow boxes, so that bbox filters in both
backends answer exactly what a brute-force geometric check on the globe answers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from terrahash.index import Index, normalize_filters
from terrahash.metadata.record import SceneRecord, footprint_bbox, polygon
from terrahash.metadata.stac import record_to_stac
from tests.index.helpers import random_codes
from tests.pg_server import pg_index_uri, pg_server  # noqa: F401 - fixtures

Piece = tuple[float, float, float, float]


def _wrap(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0


def _pieces(west: float, south: float, width: float, north: float) -> list[Piece]:
    """The box as planar boxes within [-180, 180] (split at the antimeridian)."""
    if west + width <= 180.0:
        return [(west, south, west + width, north)]
    return [(west, south, 180.0, north), (-180.0, south, west + width - 360.0, north)]


def _footprint(west: float, south: float, width: float, north: float, form: str) -> dict:
    """The same box written as vendors and STAC write it: a ring whose edge jumps across
    ±180, a MultiPolygon split at ±180 (RFC 7946), or a densely sampled outline."""
    east = _wrap(west + width) if west + width > 180.0 else west + width
    if form == "split" and west + width > 180.0:
        parts = [polygon([(w, south), (e, south), (e, north), (w, north)])["coordinates"]
                 for w, _, e, _ in _pieces(west, south, width, north)]
        return {"type": "MultiPolygon", "coordinates": parts}
    if form == "dense":
        steps = np.linspace(0.0, width, 7)
        lons = [_wrap(west + d) if west + d > 180.0 else west + d for d in steps]
        ring = [(x, south) for x in lons] + [(x, north) for x in reversed(lons)]
        return polygon(ring)
    return polygon([(west, south), (east, south), (east, north), (west, north)])


def _meets(a: list[Piece], b: list[Piece]) -> bool:
    return any(p[0] <= q[2] and q[0] <= p[2] and p[1] <= q[3] and q[1] <= p[3] for p in a for q in b)


def _world(n: int, seed: int) -> tuple[list[str], list[SceneRecord], list[list[Piece]]]:
    """``n`` boxes anywhere, a third of them across the antimeridian, in every written form."""
    rng = np.random.default_rng(seed)
    ids, records, truth = [], [], []
    for i in range(n):
        width = float(rng.uniform(0.05, 30.0))
        west = float(rng.uniform(180.0 - width, 180.0)) if i % 3 == 0 else float(rng.uniform(-180, 180))
        if west + width > 180.0 and i % 3 != 0 and rng.random() < 0.5:
            west = float(rng.uniform(-180.0, 180.0 - width))
        south = float(rng.uniform(-85, 80))
        north = south + float(rng.uniform(0.05, 5.0))
        form = ("ring", "split", "dense")[i % 3 if i % 3 else int(rng.integers(3))]
        ids.append(f"b{i:04d}")
        records.append(SceneRecord(footprint=_footprint(west, south, width, north, form)))
        truth.append(_pieces(west, south, width, north))
    return ids, records, truth


def _queries(seed: int) -> list[Piece]:
    rng = np.random.default_rng(seed)
    out: list[Piece] = [(170.0, -60.0, -170.0, 60.0), (-180.0, -90.0, 180.0, 90.0), (179.9, -85, -179.9, 85),
                        (-179.0, -90.0, -150.0, 90.0), (150.0, -90.0, 179.5, 90.0)]
    for _ in range(40):
        w, e = (float(v) for v in rng.uniform(-180, 180, 2))
        s = float(rng.uniform(-89, 85))
        out.append((w, s, e, min(90.0, s + float(rng.uniform(0.5, 40.0)))))  # w > e: half the time
    return out


def _query_pieces(box: Piece) -> list[Piece]:
    w, s, e, n = box
    return _pieces(w, s, e - w if w <= e else e + 360.0 - w, n)


@pytest.mark.parametrize("backend", ["embedded", "postgres"])
def test_bbox_filters_equal_a_brute_force_check_on_the_globe(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    location = tmp_path / "world" if backend == "embedded" else request.getfixturevalue("pg_index_uri")
    ids, records, truth = _world(300, seed=5)
    with Index.create(location, bits=64) as index:
        index.add(ids, random_codes(len(ids), 64, 2), records=records)
        checked = 0
        for box in _queries(seed=9):
            want = {ids[i] for i in range(len(ids)) if _meets(truth[i], _query_pieces(box))}
            got, _ = index.search(np.zeros(8, np.uint8), k=len(ids), filters={"bbox": box})
            assert set(got[0]) == want, box
            if backend == "embedded":  # the catalog's R-tree probe answers the same
                seqs = index.backend.catalog.matching(normalize_filters({"bbox": box}))
                assert set(index.backend.catalog.ids(seqs)) == want, box
            checked += bool(want) and len(want) < len(ids)
        assert checked > 20  # most queries keep some items and drop others


@pytest.mark.parametrize("form", ["ring", "split", "dense"])
def test_crossing_footprints_have_a_narrow_stac_bbox(form: str) -> None:
    record = SceneRecord(footprint=_footprint(175.0, -18.0, 10.0, -16.0, form),
                         datetime=dt.datetime(2021, 5, 1, tzinfo=dt.UTC))
    west, south, east, north = record.bbox  # type: ignore[misc]
    assert (west, south, north) == (175.0, -18.0, -16.0) and east == pytest.approx(-175.0)
    assert record_to_stac(record, "x").bbox == list(record.bbox)  # type: ignore[arg-type]
    assert abs(record.center_lon) == pytest.approx(180.0)  # type: ignore[arg-type]


def test_footprint_bbox_edge_cases() -> None:
    assert footprint_bbox(polygon([(10, 0), (20, 0), (20, 5), (10, 5)])) == (10, 0, 20, 5)
    # a ring round the North Pole: every longitude, up to the pole
    ring = [(float(lon), 80.0) for lon in range(-180, 180, 30)]
    assert footprint_bbox(polygon(ring)) == (-180.0, 80.0, 180.0, 90.0)
    # parts on either side of the antimeridian, not touching it: the narrower way round
    split = {"type": "MultiPolygon", "coordinates": [
        polygon([(160, 0), (170, 0), (170, 1), (160, 1)])["coordinates"],
        polygon([(-170, 0), (-160, 0), (-160, 1), (-170, 1)])["coordinates"]]}
    assert footprint_bbox(split) == (160, 0, -160, 1)
