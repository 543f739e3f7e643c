"""The one filter parser: STAC interval semantics (a date-only end covers its whole day),
bboxes across the antimeridian, and errors that name the key and the value."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from terrahash.index import FilterError, HashIndexError, Index, normalize_filters, parse_bbox, parse_interval
from terrahash.index.filters import parse_number
from terrahash.metadata.record import SceneRecord, polygon
from tests.index.helpers import random_codes

UTC = dt.UTC
JAN31_END = dt.datetime(2020, 1, 31, 23, 59, 59, 999999, tzinfo=UTC)


def _at(*args: int) -> SceneRecord:
    return SceneRecord(datetime=dt.datetime(*args, tzinfo=UTC))


@pytest.fixture
def dated(tmp_path: Path) -> Index:
    """Scenes on either side of midnight at the end of 2020-01-31."""
    records = [_at(2020, 1, 30, 12), _at(2020, 1, 31, 0), _at(2020, 1, 31, 23, 59), _at(2020, 2, 1, 0),
               _at(2020, 2, 1, 0, 1)]
    index = Index.create(tmp_path / "dated", bits=64)
    index.add(["jan30", "jan31-00", "jan31-2359", "feb01-00", "feb01-0001"], random_codes(5, 64, 0),
              records=records)
    return index


def _found(index: Index, filters: object) -> set[str]:
    ids, _ = index.search(np.zeros(8, np.uint8), k=10, filters=filters)  # type: ignore[arg-type]
    return set(ids[0])


@pytest.mark.parametrize("end", ["2020-01-31", dt.date(2020, 1, 31)])
def test_date_only_end_covers_its_whole_day(dated: Index, end: object) -> None:
    assert _found(dated, {"end": end}) == {"jan30", "jan31-00", "jan31-2359"}
    assert _found(dated, {"start": "2020-01-31", "end": end}) == {"jan31-00", "jan31-2359"}
    assert _found(dated, {"start": dt.date(2020, 2, 1)}) == {"feb01-00", "feb01-0001"}


def test_datetimes_pass_as_given(dated: Index) -> None:
    assert _found(dated, {"end": "2020-01-31T00:00:00Z"}) == {"jan30", "jan31-00"}
    assert _found(dated, {"end": dt.datetime(2020, 2, 1)}) == {"jan30", "jan31-00", "jan31-2359", "feb01-00"}
    assert _found(dated, {"start": "2020-02-01T01:00:00+01:00"}) == {"feb01-00", "feb01-0001"}


def test_service_interval_means_the_same_days(dated: Index) -> None:
    start, end = parse_interval("../2020-01-31")
    assert start is None and end == JAN31_END
    assert normalize_filters({"end": "2020-01-31"}).end == end
    assert _found(dated, {"end": end}) == {"jan30", "jan31-00", "jan31-2359"}
    day = parse_interval("2020-01-31")
    assert day == (dt.datetime(2020, 1, 31, tzinfo=UTC), JAN31_END)
    assert _found(dated, {"start": day[0], "end": day[1]}) == {"jan31-00", "jan31-2359"}


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2020-01-01T10:00:00Z", (dt.datetime(2020, 1, 1, 10, tzinfo=UTC),) * 2),
        ("2020-01-01/..", (dt.datetime(2020, 1, 1, tzinfo=UTC), None)),
        ("/2020-01-01T00:00:00+02:00", (None, dt.datetime(2019, 12, 31, 22, tzinfo=UTC))),
        ("2020-01-01/2020-01-02", (dt.datetime(2020, 1, 1, tzinfo=UTC),
                                   dt.datetime(2020, 1, 2, 23, 59, 59, 999999, tzinfo=UTC))),
    ],
)
def test_parse_interval(text: str, want: tuple) -> None:
    assert parse_interval(text) == want


def _lon_ok(w: float, e: float, west: float, east: float) -> bool:
    return (east >= w and west <= e) if w <= e else (east >= w or west <= e)


@pytest.mark.parametrize("bbox", ["170,-60,-170,60", (179.5, -10.0, -179.5, 10.0), (-10.0, -5.0, 10.0, 5.0)])
def test_bbox_across_the_antimeridian_equals_brute_force(tmp_path: Path, bbox: object) -> None:
    rng = np.random.default_rng(3)
    n = 400
    lon, lat = rng.uniform(-180, 179, n), rng.uniform(-80, 79, n)
    size = rng.uniform(0.01, 1.0, n)
    records = [SceneRecord(footprint=polygon([(x, y), (x + s, y), (x + s, y + s), (x, y + s)]))
               for x, y, s in zip(lon, lat, size, strict=True)]
    index = Index.create(tmp_path / "world", bits=64)
    ids = [f"s{i}" for i in range(n)]
    index.add(ids, random_codes(n, 64, 1), records=records)
    w, s, e, north = parse_bbox(bbox)  # type: ignore[arg-type]
    want = {ids[i] for i in range(n)
            if _lon_ok(w, e, lon[i], lon[i] + size[i]) and lat[i] + size[i] >= s and lat[i] <= north}
    assert want and len(want) < n
    got, _ = index.search(np.zeros(8, np.uint8), k=n, filters={"bbox": bbox})
    assert set(got[0]) == want


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"end": "2020-13-45"}, r"filter end: '2020-13-45' is not RFC 3339"),
        ({"start": "yesterday"}, r"filter start: 'yesterday' is not RFC 3339"),
        ({"start": 20200101}, r"filter start: expected an ISO 8601 string, date or datetime"),
        ({"start": "2020-02-01", "end": "2020-01-31"}, r"filter start .* is after end"),
        ({"bbox": "1,2,3"}, r"filter bbox: expected four finite numbers W,S,E,N, got '1,2,3'"),
        ({"bbox": "a,b,c,d"}, r"filter bbox: expected four numbers W,S,E,N"),
        ({"bbox": (0, 0, float("inf"), 1)}, r"filter bbox: expected four finite numbers"),
        ({"bbox": (0, 10, 1, 5)}, r"filter bbox: south \(10.0\) is north of north \(5.0\)"),
        ({"bbox": (0, 0, 200, 1)}, r"filter bbox: .* is outside lon"),
        ({"cloud_max": 120}, r"filter cloud_max: must be a number in \[0.0, 100.0\], got 120"),
        ({"gsd_min": "fine"}, r"filter gsd_min: must be a number .* got 'fine'"),
        ({"gsd_max": float("nan")}, r"filter gsd_max: must be a number"),
        ({"gsd_min": 10, "gsd_max": 1}, r"filter gsd_min \(10.0\) is larger than gsd_max \(1.0\)"),
        ({"platforms": [3]}, r"filter platforms: expected a string or a list of strings"),
        ({"clouds": 3}, r"unknown filter key\(s\) clouds"),
    ],
)
def test_bad_filters_name_the_key(filters: dict, message: str) -> None:
    with pytest.raises(FilterError, match=message) as err:
        normalize_filters(filters)
    assert isinstance(err.value, HashIndexError) and isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2020-01-01T00:00:00", r"datetime: '2020-01-01T00:00:00' has no timezone; add 'Z' for UTC"),
        ("soon", r"datetime: 'soon' is not RFC 3339 \(e.g. 2020-01-01T00:00:00Z or 2020-01-01\)"),
        ("../..", r"datetime: both ends of '../..' are open"),
        ("2020-01-01/2020-01-02/2020-01-03", r"datetime: expected 'start/end'"),
        ("2020-02-01/2020-01-01", r"datetime: start 2020-02-01 is after end 2020-01-01"),
        ("2020-01-01/never", r"datetime end: 'never' is not RFC 3339"),
    ],
)
def test_bad_intervals_name_the_key(text: str, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        parse_interval(text)


def test_parse_bbox_and_number_for_the_service() -> None:
    assert parse_bbox("170,-10,-170,10") == (170.0, -10.0, -170.0, 10.0)
    assert parse_bbox([1, 2, 3, 4]) == (1.0, 2.0, 3.0, 4.0)
    with pytest.raises(FilterError, match=r"^bbox: expected four finite numbers"):
        parse_bbox("1,2,3,4,5")
    assert parse_number("12.5", "cloud_max", 0, 100) == 12.5
    with pytest.raises(FilterError, match=r"^cloud_max: must be a number in \[0, 100\], got -1"):
        parse_number(-1, "cloud_max", 0, 100)
