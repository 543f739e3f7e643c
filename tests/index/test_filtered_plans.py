"""The filtered-search plans (sorted windows, gather vs FAISS bitmap) equal brute force."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from terrahash.index.embedded.columns import FilterColumns
from terrahash.index.filters import normalize_filters
from terrahash.index.flat import GATHER_MAX_FRACTION, FlatScanner
from tests.index.helpers import reference_search, tied_codes

T0 = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def _columns(n: int, seed: int, odd: bool = False) -> FilterColumns:
    """Intervals of mixed lengths, some rows without a date or a footprint (NaN).

    ``odd`` adds a few intervals that end before they start and bboxes without a north edge.
    """
    rng = np.random.default_rng(seed)
    t = T0.timestamp() + rng.uniform(0, 1000 * 86400, n)
    span = np.where(rng.random(n) < 0.1, rng.uniform(0, 30 * 86400, n), 0.0)
    lon, lat = rng.uniform(-180, 179, n), rng.uniform(-80, 79, n)
    size = np.where(rng.random(n) < 0.05, rng.uniform(0, 20, n), 1.0)
    arrays = {
        "t_start": t,
        "t_end": t + span,
        "gsd": rng.choice([0.5, 10.0, 30.0], n),
        "cloud": rng.uniform(0, 100, n),
        "west": lon,
        "east": lon + size,
        "south": lat,
        "north": lat + size,
        "platform": (np.arange(n) % 3).astype(np.int32),
        "platform_names": np.array(["gf-2", "landsat-8", "sentinel-2a"]),
    }
    no_date, no_box = rng.random(n) < 0.03, rng.random(n) < 0.03
    for name in ("t_start", "t_end"):
        arrays[name][no_date] = np.nan
    for name in ("west", "east", "south", "north"):
        arrays[name][no_box] = np.nan
    if odd:
        arrays["t_end"][::97] -= 5 * 86400
        arrays["north"][::89] = np.nan
    return FilterColumns(arrays)


FILTERS = [
    {"start": "2021-03-01", "end": "2021-03-20"},
    {"start": "2021-03-01T06:00:00Z", "end": "2021-03-01T06:00:00Z"},
    {"start": "2022-09-20"},
    {"end": "2020-01-15"},
    {"bbox": (-50, 10, 40, 12)},
    {"bbox": (170, -5, -170, 5)},  # antimeridian
    {"bbox": (-60, -27, 60, 27), "start": "2020-06-01", "end": "2020-09-05"},
    {"bbox": (-180, -90, 180, 90), "start": "2020-02-01", "end": "2022-01-01", "cloud_max": 50},
    {"bbox": (0, 0, 10, 10), "start": "2030-01-01"},
    {"platforms": "landsat-8", "gsd_max": 10},
]


@pytest.mark.parametrize("odd", [False, True])
@pytest.mark.parametrize("flt", FILTERS, ids=lambda f: ",".join(f))
def test_window_rows_equal_full_mask(flt: dict, odd: bool) -> None:
    columns = _columns(20_000, 3, odd)
    f = normalize_filters(flt)
    want = np.flatnonzero(columns.mask(f))
    got = columns.rows(f)
    assert got.dtype == np.int64 and np.array_equal(got, want)


def test_saved_columns_keep_windows(tmp_path) -> None:  # noqa: ANN001
    columns = _columns(3000, 5)
    columns.save(tmp_path / "c.npz")
    loaded = FilterColumns.load(tmp_path / "c.npz")
    f = normalize_filters(FILTERS[0])
    assert np.array_equal(loaded.rows(f), columns.rows(f))
    for narrow in (FILTERS[0], FILTERS[4], FILTERS[6], FILTERS[8]):  # the sorted-window plan
        assert loaded.candidates(normalize_filters(narrow)) is not None


@pytest.mark.parametrize("bits", [64, 128])
@pytest.mark.parametrize("fraction", [0.002, GATHER_MAX_FRACTION / 2, 0.3, 0.97])
def test_search_rows_equal_reference(bits: int, fraction: float) -> None:
    n = 12_000
    db = tied_codes(n, bits, 30, 1)
    rng = np.random.default_rng(int(fraction * 1000) + bits)
    rows = np.flatnonzero(rng.random(n) < fraction).astype(np.int64)
    queries = np.concatenate([db[rows[:2]], tied_codes(3, bits, 30, 9)])
    for k in (1, 37, rows.size + 5):
        ref_d, ref_r = reference_search(db[rows], queries, k)
        got = FlatScanner(db).search_rows(queries, k, rows)
        for i, (d, r) in enumerate(got):
            valid = ref_r[i] >= 0
            assert np.array_equal(r, rows[ref_r[i][valid]])
            assert np.array_equal(d, ref_d[i][valid])
