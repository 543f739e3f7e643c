"""Tiling scanned scenes into a dataset folder: geometry, levels, stretch, nodata, loader round trip."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.warp import transform
from rasterio.windows import Window
from typer.testing import CliRunner

from terrahash.cli import app
from terrahash.data import load_dataset
from terrahash.data.scan import scan_archive
from terrahash.data.tiling import TileSpec, parse_band_list, write_tiles
from terrahash.errors import DatasetError
from tests.data._rasters import PARAGUAY_MTL, RASTERS, write_band

TILE = 128


@pytest.fixture(scope="module")
def paraguay(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, str]]]:
    """The two Landsat 8 scenes (B4,B3,B2) at levels 1 and 2, 128-pixel tiles."""
    out = tmp_path_factory.mktemp("paraguay_tiles")
    scenes = [s for s in scan_archive(RASTERS / "landsat_paraguay").scenes if s.scene_id.startswith("LC08")]
    written = write_tiles(scenes, out, TileSpec(TILE, (1, 2)))
    assert written.manifest == out / "manifest.csv"
    with open(written.manifest, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert written.count == len(rows)
    return out, rows


def _band_path(scene_id: str, band: str) -> Path:
    return RASTERS / "landsat_paraguay" / f"{scene_id}_{band}.TIF"


def test_manifest_columns_and_counts(paraguay) -> None:
    out, rows = paraguay
    assert list(rows[0]) == [
        "path", "label", "id", "platform", "sensor", "date", "lat", "lon", "bbox_wgs84", "epsg",
        "gsd_m", "cloud_cover", "scene_cloud_cover", "level", "scene_id",
    ]  # fmt: skip
    # no cloud mask among these bands: no tile cloud cover, the scene's kept under its own name
    assert {r["cloud_cover"] for r in rows} == {""}
    by = {(r["scene_id"][10:16], r["level"]) for r in rows}
    assert by == {("224077", "1"), ("224077", "2"), ("224078", "1"), ("224078", "2")}
    # 224077 is 2006 x 1515 px: ceil(2006/128) * ceil(1515/128) = 16 * 12 windows at level 1
    n77 = sum(1 for r in rows if "224077" in r["scene_id"] and r["level"] == "1")
    assert 0 < n77 <= 16 * 12
    assert all(r["label"] == "" for r in rows)
    assert {r["gsd_m"] for r in rows if r["level"] == "1"} == {"30"}
    assert {r["gsd_m"] for r in rows if r["level"] == "2"} == {"60"}
    assert {r["platform"] for r in rows} == {"landsat-8"} and {r["epsg"] for r in rows} == {"32621"}
    assert {r["date"] for r in rows} == {"2020-05-18"}  # the scene's own date, not the stray MTL's
    assert all((out / r["path"]).is_file() for r in rows)


def test_tile_centre_is_the_reprojected_window_centre(paraguay) -> None:
    _, rows = paraguay
    for row in rows[:: max(1, len(rows) // 25)]:
        level = int(row["level"])
        size = TILE * 2 ** (level - 1)
        r0, c0 = (int(v[1:]) for v in row["id"].rsplit("_", 2)[1:])
        with rasterio.open(_band_path(row["scene_id"], "B4")) as ds:
            x, y = ds.xy(r0 + size / 2, c0 + size / 2, offset="ul")
            (lon,), (lat,) = transform(ds.crs, "EPSG:4326", [x], [y])
            w, s, e, n = ds.window_bounds(Window(c0, r0, size, size))
        assert float(row["lon"]) == pytest.approx(lon, abs=2e-6)
        assert float(row["lat"]) == pytest.approx(lat, abs=2e-6)
        west, south, east, north = (float(v) for v in row["bbox_wgs84"].split(","))
        assert west < lon < east and south < lat < north
        # the bbox is the envelope of the window's reprojected corners
        assert n - s == size * 30 and e - w == size * 30
        lons, lats = transform("EPSG:32621", "EPSG:4326", [w, e, e, w], [s, s, n, n])
        assert west == pytest.approx(min(lons), abs=2e-6) and east == pytest.approx(max(lons), abs=2e-6)
        assert south == pytest.approx(min(lats), abs=2e-6) and north == pytest.approx(max(lats), abs=2e-6)


def test_tiles_hold_the_window_pixels_and_skip_nodata(paraguay) -> None:
    out, rows = paraguay
    row = next(r for r in rows if r["level"] == "1" and "224078" in r["scene_id"])
    r0, c0 = (int(v[1:]) for v in row["id"].rsplit("_", 2)[1:])
    tile = np.asarray(Image.open(out / row["path"]))
    assert tile.shape == (TILE, TILE, 3) and tile.dtype == np.uint8
    with rasterio.open(_band_path(row["scene_id"], "B4")) as ds:
        red = ds.read(1, window=Window(c0, r0, TILE, TILE)).astype(float)
    valid = red > 0
    corr = np.corrcoef(red[valid], tile[..., 0][valid].astype(float))[0, 1]
    assert corr > 0.95  # red channel is a clipped linear stretch of B4
    for r in rows:
        img = np.asarray(Image.open(out / r["path"]))
        assert (img.max(axis=2) > 0).mean() >= 0.5  # mostly-nodata windows were skipped


def test_percentile_stretch_saturates_about_two_percent(paraguay) -> None:
    out, rows = paraguay
    pixels = np.concatenate(
        [
            np.asarray(Image.open(out / r["path"]))[..., 1].ravel()
            for r in rows
            if r["level"] == "1" and "224077" in r["scene_id"]
        ]
    )
    pixels = pixels[pixels > 0]
    assert 0.005 < (pixels == 255).mean() < 0.05
    assert 0.005 < (pixels == 1).mean() < 0.05


def test_clouds_do_not_set_the_stretch_of_a_cloudy_scene() -> None:
    """The 2016-05-29 Sentinel-2 crop is about a fifth cloud: a plain 98th percentile (about
    7,400) would write its land (DN 800-1,200) in a handful of grey levels. The stretch
    leaves the clouds out, and moves a clear scene's limits only slightly."""
    from terrahash.data.stretch import STRETCH_PERCENTILES, robust_limits

    folder = RASTERS / "sentinel2_brandenburg"
    limits = {}
    for name in ("tgt_S2A_20160529T153631_T33UUU_sub.jp2", "ref_S2A_20160608T153121_T33UUU_sub.jp2"):
        with rasterio.open(folder / name) as ds:
            data = ds.read(1, out_shape=(ds.height // 4, ds.width // 4)).astype(np.float32)
        good = data[data > 0]
        limits[name[:3]] = (np.percentile(good, STRETCH_PERCENTILES), robust_limits(good), good)
    plain, robust, good = limits["tgt"]
    assert plain[1] > 6000 and robust[1] < 2500
    land = (good > 700) & (good < 1300)
    assert np.ptp(np.clip((good[land] - robust[0]) / (robust[1] - robust[0]), 0, 1)) * 254 > 60
    plain, robust, _ = limits["ref"]
    assert abs(robust[1] - plain[1]) < 0.05 * plain[1] and abs(robust[0] - plain[0]) < 1.0
    flat = np.full(1000, 5.0, dtype=np.float32)
    assert robust_limits(flat) == (5.0, 6.0)  # no spread: a one-level stretch, not a division by 0


def test_tile_folder_loads_as_a_dataset(paraguay) -> None:
    out, rows = paraguay
    ds = load_dataset(out)
    assert len(ds) == len(rows) and ds.classes == [] and not ds.multilabel
    item = ds[0]
    rec = item.record
    assert rec.platform == "landsat-8" and rec.epsg == 32621 and rec.gsd_m == 30.0
    assert rec.datetime == dt.datetime(2020, 5, 18, tzinfo=dt.UTC)
    assert rec.extra["datetime_precision"] == "day"
    assert rec.id == rows[0]["scene_id"] and item.id == rows[0]["id"]
    assert (rec.center_lon, rec.center_lat) == (float(rows[0]["lon"]), float(rows[0]["lat"]))
    w, s, e, n = rec.bbox
    assert w < rec.center_lon < e and s < rec.center_lat < n
    assert ds.load_image(0, size=64).shape == (64, 64, 3)
    train, test = ds.split(seed=0)
    assert len(train) + len(test) == len(ds)


def test_sidecar_values_reach_the_tiles(tmp_path: Path) -> None:
    """Bands paired with their MTL: tiles carry the MTL's time and cloud cover."""
    rng = np.random.default_rng(1)
    product = "LC08_L2SP_224078_20200127_20200823_02_T1"
    data = rng.integers(7000, 12000, size=(64, 64), dtype=np.uint16)
    data[:, :40] = 0  # left 40 columns are nodata
    for band in ("SR_B2", "SR_B3", "SR_B4"):
        write_band(tmp_path / "in" / f"{product}_{band}.TIF", 32621, (600000, -2870000), data)
    (tmp_path / "in" / PARAGUAY_MTL).symlink_to(RASTERS / "landsat_paraguay" / PARAGUAY_MTL)
    scenes = scan_archive(tmp_path / "in").scenes
    written = write_tiles(scenes, tmp_path / "out", TileSpec(16, (1, 2), min_valid=0.5))
    ds = load_dataset(tmp_path / "out")
    assert written.count == len(ds)
    # level 1: 4 x 4 windows of 16 px, columns 0-1 all nodata, column 2 (32-47) half valid
    # level 2: 2 x 2 windows of 32 px, column 0 all nodata, column 1 (32-63) 75 % valid
    ids = sorted(item.id.split(f"{product}_")[1] for item in ds)
    expected_l1 = [f"L1_r{r:05d}_c{c:05d}" for r in (0, 16, 32, 48) for c in (32, 48)]
    expected_l2 = [f"L2_r{r:05d}_c00032" for r in (0, 32)]
    assert ids == sorted(expected_l1 + expected_l2)
    rec = ds[0].record
    assert rec.datetime == dt.datetime(2020, 1, 27, 13, 36, 10, 394624, tzinfo=dt.UTC)
    assert rec.cloud_cover is None and rec.platform == "landsat-8"  # no mask: not the scene's
    assert rec.extra["scene_cloud_cover"] == 7.24


def test_tile_cloud_cover_is_counted_in_the_cloud_mask(tmp_path: Path) -> None:
    """A QA_PIXEL band with clouds over known pixels: each tile's own percentage."""
    rng = np.random.default_rng(2)
    product = "LC08_L2SP_224078_20200127_20200823_02_T1"
    data = rng.integers(7000, 12000, size=(64, 64), dtype=np.uint16)
    for band in ("SR_B2", "SR_B3", "SR_B4"):
        write_band(tmp_path / "in" / f"{product}_{band}.TIF", 32621, (600000, -2870000), data)
    qa = np.full((64, 64), 21824, dtype=np.uint16)  # clear land
    qa[:32, :32] = 22280  # cloud (bit 3): the whole top-left 32 x 32
    qa[32:40, 32:64] = 22280  # a quarter of the bottom-right 32 x 32
    qa[40:48, 32:64] = 1  # fill (bit 0): not counted
    write_band(tmp_path / "in" / f"{product}_QA_PIXEL.TIF", 32621, (600000, -2870000), qa)
    (tmp_path / "in" / PARAGUAY_MTL).symlink_to(RASTERS / "landsat_paraguay" / PARAGUAY_MTL)
    write_tiles(scan_archive(tmp_path / "in").scenes, tmp_path / "out", TileSpec(32, (1, 2)))
    with open(tmp_path / "out" / "manifest.csv", newline="", encoding="utf-8") as fh:
        rows = {r["id"].split(f"{product}_")[1]: r for r in csv.DictReader(fh)}
    cloud = {k: float(r["cloud_cover"]) for k, r in rows.items()}
    third = 100 / 3  # bottom right: 256 cloud of 768 valid; the level-2 tile: 1280 of 3840
    assert cloud == pytest.approx({"L1_r00000_c00000": 100.0, "L1_r00000_c00032": 0.0,
                                   "L1_r00032_c00000": 0.0, "L1_r00032_c00032": third,
                                   "L2_r00000_c00000": third}, abs=0.01)
    assert {r["scene_cloud_cover"] for r in rows.values()} == {"7.24"}


def test_sentinel2_grey_tiles_through_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "s2"
    args = ["scan", str(RASTERS / "sentinel2_brandenburg"), "--tiles", str(out)]
    result = CliRunner().invoke(app, [*args, "--tile-size", "200", "--levels", "4"])
    assert result.exit_code == 0, result.output
    ds = load_dataset(out)
    scenes = {item.record.id for item in ds}
    assert scenes == {"S2A_20160608T153121_T33UUU", "S2A_20160529T153631_T33UUU"}
    assert {item.record.gsd_m for item in ds} == {80.0}  # 10 m * 2**3
    assert all(52.4 < item.record.center_lat < 53.0 and 12.3 < item.record.center_lon < 13.0 for item in ds)
    assert Image.open(ds[0].path).mode == "L"  # one band: grey tiles
    # 3200 x 2400 px / 1600 px windows: ref covers 2 x 2 windows fully; nodata edges may drop some
    ref = [item for item in ds if item.record.id.startswith("S2A_20160608")]
    assert 1 <= len(ref) <= 4
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "already exists" in again.output
    bad = CliRunner().invoke(app, [*args, "--overwrite", "--levels", "0"])
    assert bad.exit_code == 2 and "levels must be 1 or more" in bad.output
    missing = CliRunner().invoke(app, [*args, "--overwrite", "--bands", "B4,B3,B2"])
    assert missing.exit_code == 2 and "no band 'B4'" in missing.output


def test_band_list_parsing() -> None:
    assert parse_band_list("B04, B03,B02") == ["B4", "B3", "B2"]
    assert parse_band_list(None) is None
    with pytest.raises(DatasetError, match="1 or 3 band names"):
        parse_band_list("B4,B3")
    with pytest.raises(DatasetError, match="tile size"):
        TileSpec(tile_size=2)


@pytest.mark.parametrize("name", ["landsat_paraguay/LC08_L1TP_224077_20200518_20200518_01_RT_B4.TIF",
                                  "sentinel2_brandenburg/ref_S2A_20160608T153121_T33UUU_sub.jp2"])
def test_edge_windows_read_as_rasterio_boundless_reads_them(name: str) -> None:
    """Windows reaching past any edge (or wholly outside) give rasterio's boundless pixels,
    read clipped and padded instead of through a warped VRT per window; decimated ones too."""
    from terrahash.data.tiling import read_window

    with rasterio.open(RASTERS / name) as ds:
        h, w = ds.height, ds.width
        windows = [Window(w - 40, 10, 64, 64), Window(15, h - 9, 64, 64), Window(w - 5, h - 60, 64, 64),
                   Window(-20, -30, 64, 64), Window(w + 3, 0, 64, 64), Window(w - 30, h - 10, 48, 20),
                   Window(100, 200, 64, 64), Window(w - 100, 5, 128, 128)]
        for win in windows:
            shape = (64, 64) if win.width == 128 else (int(win.height), int(win.width))
            want = ds.read(1, window=win, out_shape=shape, boundless=True, fill_value=7)
            got = read_window(ds, 1, win, shape, 7)
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want, err_msg=f"{name} {win}")
