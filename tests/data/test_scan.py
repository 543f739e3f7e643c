"""Archive scan: band grouping and sidecar pairing on the shared rasters and on SAFE/MTL layouts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from terrahash.cli import app
from terrahash.data.scan import canonical_band, product_keys, scan_archive, split_band
from terrahash.errors import DatasetError
from tests.data._rasters import METADATA, PARAGUAY_MTL, RASTERS, write_band


@pytest.fixture(scope="module")
def shared_scan():
    return scan_archive(RASTERS)


def test_shared_rasters_group_into_five_scenes(shared_scan) -> None:
    scenes = {s.scene_id: s for s in shared_scan.scenes}
    assert sorted(scenes) == [
        "LC08_L1TP_224077_20200518_20200518_01_RT",
        "LC08_L1TP_224078_20200518_20200518_01_RT",
        "LE07_L2SP_225078_20110306_02_T1",
        "S2A_20160529T153631_T33UUU",
        "S2A_20160608T153121_T33UUU",
    ]
    l8 = scenes["LC08_L1TP_224078_20200518_20200518_01_RT"]
    assert [b.band for b in l8.bands] == ["B2", "B3", "B4"]
    assert l8.band("B04") is l8.bands[2]
    assert l8.record.platform == "landsat-8"
    assert l8.record.datetime == dt.datetime(2020, 5, 18, tzinfo=dt.UTC)
    assert l8.record.epsg == 32621 and l8.record.gsd_m == 30.0
    assert [b.band for b in scenes["LE07_L2SP_225078_20110306_02_T1"].bands] == ["B1", "SZA"]
    s2 = scenes["S2A_20160608T153121_T33UUU"]
    assert s2.record.platform == "sentinel-2a" and s2.bands[0].band is None
    assert s2.record.datetime is not None and s2.record.datetime.date() == dt.date(2016, 6, 8)


def test_mtl_of_another_date_is_not_paired(shared_scan) -> None:
    assert all(s.sidecar is None for s in shared_scan.scenes)
    lonely = {p.name: recs for p, recs in shared_scan.unpaired_sidecars}
    assert list(lonely) == [PARAGUAY_MTL]
    assert lonely[PARAGUAY_MTL][0].datetime.date() == dt.date(2020, 1, 27)
    # the 224078 scene keeps its own date, not the MTL's
    l8 = next(s for s in shared_scan.scenes if "224078" in s.scene_id)
    assert l8.record.datetime.date() == dt.date(2020, 5, 18)


def test_non_scene_files_are_reported_not_paired(shared_scan) -> None:
    other = {p.name: why for p, why in shared_scan.other}
    assert (
        "angle-coefficient"
        in other["LE07_L2SP_225078_20110306_02_T1_LE07_L2SP_225078_20110306_20200910_02_T1_ANG.txt"]
    )
    assert "LC08_L1TP_224078_20200518_20200518_01_RT_points.gpkg" in other
    assert "PROVENANCE.md" in other and "REFERENCE_SCENES.npy" in other


def test_landsat_bands_pair_with_their_mtl(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    product = "LC08_L2SP_224078_20200127_20200823_02_T1"
    for band in ("SR_B2", "SR_B3", "SR_B4"):
        data = rng.integers(7000, 12000, size=(40, 40), dtype=np.uint16)
        write_band(tmp_path / f"{product}_{band}.TIF", 32621, (600000, -2870000), data)
    (tmp_path / PARAGUAY_MTL).symlink_to(RASTERS / "landsat_paraguay" / PARAGUAY_MTL)
    result = scan_archive(tmp_path)
    [scene] = result.scenes
    assert scene.sidecar == tmp_path / PARAGUAY_MTL
    assert scene.scene_id == product
    assert [b.canonical for b in scene.bands] == ["B2", "B3", "B4"]
    assert scene.record.format == "landsat_mtl_txt"
    assert scene.record.datetime == dt.datetime(2020, 1, 27, 13, 36, 10, 394624, tzinfo=dt.UTC)
    assert scene.record.cloud_cover == 7.24
    assert result.unpaired_sidecars == []


def test_sentinel2_safe_pairs_by_tile_and_day(tmp_path: Path) -> None:
    safe = tmp_path / "S2B_MSIL2A_20220413T150759_N0400_R025_T33XWJ_20220414T082126.SAFE"
    granule = safe / "GRANULE" / "L2A_T33XWJ_A026649_20220413T150756"
    product_xml = "S2B_MSIL2A_20220413T150759_N0400_R025_T33XWJ__MTD_MSIL2A.xml"
    tile_xml = "L2A_T33XWJ_A026649_20220413T150756__MTD_TL.xml"
    safe.mkdir()
    (safe / "MTD_MSIL2A.xml").symlink_to(METADATA / "sentinel2_product" / product_xml)
    granule.mkdir(parents=True)
    (granule / "MTD_TL.xml").symlink_to(METADATA / "sentinel2_tile" / tile_xml)
    data = np.full((20, 20), 900, dtype=np.uint16)
    for band in ("B02", "B03", "B04"):
        name = f"T33XWJ_20220413T150759_{band}_10m.tif"
        write_band(granule / "IMG_DATA" / "R10m" / name, 32633, (500000, 8800000), data)
    # a granule of another day in the same archive must not take this product's metadata
    write_band(tmp_path / "T33XWJ_20220414T150759_B04_10m.tif", 32633, (500000, 8800000), data)
    result = scan_archive(tmp_path)
    scenes = {s.scene_id: s for s in result.scenes}
    paired = scenes["S2B_OPER_MSI_L2A_TL_ESRI_20220414T082127_A026649_T33XWJ_N04.00"]
    assert paired.sidecar == granule / "MTD_TL.xml"  # nearest sidecar first
    assert paired.other_sidecars == [safe / "MTD_MSIL2A.xml"]
    assert [b.band for b in paired.bands] == ["B02", "B03", "B04"]
    assert paired.record.platform == "sentinel-2b"
    assert paired.record.datetime.date() == dt.date(2022, 4, 13)
    lonely = next(s for s in result.scenes if s is not paired)
    assert lonely.sidecar is None and lonely.record.format == "raster"


def test_scan_json_and_table_through_the_cli() -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["scan", str(RASTERS / "landsat_paraguay"), "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert len(payload["scenes"]) == 3
    first = payload["scenes"][0]
    assert first["platform"] == "landsat-8" and first["datetime"] == "2020-05-18T00:00:00Z"
    assert sorted(first["bands"]) == ["B2", "B3", "B4"]
    assert payload["unpaired_sidecars"][0]["ids"] == ["LC08_L2SP_224078_20200127_20200823_02_T1"]
    table = runner.invoke(app, ["scan", str(RASTERS / "sentinel2_brandenburg")])
    assert table.exit_code == 0 and "sentinel-2a" in table.stdout
    bad = runner.invoke(app, ["scan", "/no/such/folder"])
    assert bad.exit_code == 2 and "not a folder" in bad.output
    helptext = runner.invoke(app, ["scan", "--help"])
    assert helptext.exit_code == 0 and "Examples" in helptext.stdout and "--tiles" in helptext.stdout


def test_name_parsing_helpers() -> None:
    assert split_band("LC08_L1TP_224077_20200518_20200518_01_RT_B2") == (
        "LC08_L1TP_224077_20200518_20200518_01_RT", "B2",
    )  # fmt: skip
    assert split_band("T33XWJ_20220413T150759_B8A_20m") == ("T33XWJ_20220413T150759", "B8A")
    assert split_band("LC08_L2SP_224078_20200127_20200823_02_T1_QA_PIXEL")[1] == "QA_PIXEL"
    assert split_band("ref_S2A_20160608T153121_T33UUU_sub") == (
        "ref_S2A_20160608T153121_T33UUU_sub", None,
    )  # fmt: skip
    assert [canonical_band(b) for b in ("B04", "SR_B4", "b4", "B8A", "sza")] == [
        "B4", "B4", "B4", "B8A", "SZA",
    ]  # fmt: skip
    # processing date left out of a file name still matches the full product id
    assert product_keys("LE07_L2SP_225078_20110306_02_T1_B1") & product_keys(
        "LE07_L2SP_225078_20110306_20200910_02_T1"
    )
    # same path/row, other acquisition date or level: no match
    assert not product_keys("LC08_L1TP_224078_20200518_20200518_01_RT") & product_keys(
        "LC08_L2SP_224078_20200127_20200823_02_T1"
    )
    assert ("s2", "33UUU", "20160608") in product_keys("ref_S2A_20160608T153121_T33UUU_sub")


def test_scan_of_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("hello")
    with pytest.raises(DatasetError, match="not a folder"):
        scan_archive(path)


def test_a_broken_raster_is_reported_and_the_scan_goes_on(tmp_path: Path) -> None:
    (tmp_path / "broken_B4.TIF").write_bytes(b"II*\x00" + b"\x07" * 64)  # TIFF magic, no IFD
    good = np.full((8, 8), 500, dtype=np.uint16)
    write_band(tmp_path / "LC08_L1TP_224077_20200518_20200518_01_RT_B4.TIF", 32621, (700000, -2770000), good)
    result = scan_archive(tmp_path)
    assert [s.scene_id for s in result.scenes] == ["LC08_L1TP_224077_20200518_20200518_01_RT"]
    [(path, why)] = result.other
    assert path.name == "broken_B4.TIF" and "raster" in why
