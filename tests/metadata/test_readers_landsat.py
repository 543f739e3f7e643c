"""Landsat MTL (txt/xml/json) and sidecars, ODC EO3 / GA EO1 YAML, MODIS ECS XML, NAIP FGDC and
ISO 19139, and the raster reader.

Every value in the tables was read from the file by hand: Landsat centres are the mean of the
four ``CORNER_*_PRODUCT`` corners (antimeridian scenes averaged in 0..360), EO3 centres the
area centroid of the reprojected ``geometry``, MODIS/NAIP centres the mean of the polygon or
bounding-box corners.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from terrahash.data import default_data_dir
from terrahash.errors import MetadataError
from terrahash.metadata import read_metadata
from terrahash.metadata.document import Document
from terrahash.metadata.reader import get_reader
from terrahash.metadata.readers._landsat_common import parse_odl
from tests.metadata.expected import METADATA_DIR, Expected, check, relpaths

L = "landsat_mtl/"
EXPECTED: list[Expected] = [
    # path, format, platform, datetime, centre lat, centre lon, cloud %, gsd m
    Expected(L + "LC08_L1GT_119160_20240208_20240208_02_RT_MTL.txt", "landsat_mtl_txt",
             "landsat-8", "2024-02-08T03:19:59Z", -34.6012, -71.2565, None, 30.0),
    Expected(L + "LC08_L1TP_090084_20160121_20170405_01_T1_MTL.txt", "landsat_mtl_txt",
             "landsat-8", "2016-01-21T23:50:23Z", -34.6065, 149.8427, 93.22, 30.0),
    Expected(L + "LC08_L1TP_192035_20210708_20210713_01_T1_MTL.txt", "landsat_mtl_txt",
             "landsat-8", "2021-07-08T10:01:03Z", 36.0312, 8.8130, 5.79, 30.0),
    Expected(L + "LC08_L2SP_005009_20150710_20200908_02_T2_MTL.json", "landsat_mtl_json",
             "landsat-8", "2015-07-10T14:34:35Z", 72.1641, -39.0718, 54.65, 30.0),
    Expected(L + "LC08_L2SP_005009_20150710_20200908_02_T2_MTL.txt", "landsat_mtl_txt",
             "landsat-8", "2015-07-10T14:34:35Z", 72.1641, -39.0718, 54.65, 30.0),
    Expected(L + "LC08_L2SP_008059_20191201_20200825_02_T1_MTL.json", "landsat_mtl_json",
             "landsat-8", "2019-12-01T15:13:51Z", 1.4437, -75.0706, 81.02, 30.0),
    Expected(L + "LC08_L2SP_008059_20191201_20200825_02_T1_MTL.txt", "landsat_mtl_txt",
             "landsat-8", "2019-12-01T15:13:51Z", 1.4437, -75.0706, 81.02, 30.0),
    Expected(L + "LC08_L2SP_017036_20130419_20200913_02_T2_MTL.json", "landsat_mtl_json",
             "landsat-8", "2013-04-19T16:01:51Z", 34.6019, -82.8933, 100.0, 30.0),
    Expected(L + "LC08_L2SP_017036_20130419_20200913_02_T2_MTL.txt", "landsat_mtl_txt",
             "landsat-8", "2013-04-19T16:01:51Z", 34.6019, -82.8933, 100.0, 30.0),
    Expected(L + "LC08_L2SP_017036_20130419_20200913_02_T2_MTL.xml", "landsat_mtl_xml",
             "landsat-8", "2013-04-19T16:01:51Z", 34.6019, -82.8933, 100.0, 30.0),
    Expected(L + "LC08_L2SP_047027_20201204_20210313_02_T1_MTL.txt", "landsat_mtl_txt",
             "landsat-8", "2020-12-04T19:02:11Z", 47.4339, -123.3767, 1.55, 30.0),
    Expected(L + "LC08_L2SR_084024_20160111_20201016_02_T1_MTL.txt", "landsat_mtl_txt",
             "landsat-8", "2016-01-11T22:49:22Z", 51.6757, -178.7672, 30.41, 30.0),
    Expected(L + "LC08_L2SR_084024_20160111_20201016_02_T1_MTL.xml", "landsat_mtl_xml",
             "landsat-8", "2016-01-11T22:49:22Z", 51.6757, -178.7672, 30.41, 30.0),
    Expected(L + "LC08_L2SR_099120_20191129_20201016_02_T2_MTL.json", "landsat_mtl_json",
             "landsat-8", "2019-11-29T01:00:37Z", -81.2709, 67.5680, 100.0, 30.0),
    Expected(L + "LC08_L2SR_099120_20191129_20201016_02_T2_MTL.txt", "landsat_mtl_txt",
             "landsat-8", "2019-11-29T01:00:37Z", -81.2709, 67.5680, 100.0, 30.0),
    Expected(L + "LC08_L2SR_099120_20191129_20201016_02_T2_MTL.xml", "landsat_mtl_xml",
             "landsat-8", "2019-11-29T01:00:37Z", -81.2709, 67.5680, 100.0, 30.0),
    Expected(L + "LC09_L1GT_121157_20230211_20230310_02_T2_MTL.txt", "landsat_mtl_txt",
             "landsat-9", "2023-02-11T03:31:33Z", -38.8935, -73.0874, None, 30.0),
    Expected(L + "LC09_L1TP_166072_20220203_20220203_02_T1_MTL.json", "landsat_mtl_json",
             "landsat-9", "2022-02-03T07:35:28Z", -17.3441, 36.7072, 0.52, 30.0),
    Expected(L + "LC09_L1TP_166072_20220203_20220203_02_T1_MTL.xml", "landsat_mtl_xml",
             "landsat-9", "2022-02-03T07:35:28Z", -17.3441, 36.7072, 0.52, 30.0),
    Expected(L + "LC09_L2SP_010065_20220129_20220131_02_T1_MTL.xml", "landsat_mtl_xml",
             "landsat-9", "2022-01-29T15:28:34Z", -7.2334, -80.0385, 21.12, 30.0),
    Expected(L + "LC09_L2SP_191031_20220322_20220324_02_T1_MTL.json", "landsat_mtl_json",
             "landsat-9", "2022-03-22T09:53:21Z", 41.7466, 12.0837, 0.3, 30.0),
    Expected(L + "LE07_L1GS_092082_20110214_20170221_01_T2_MTL.txt", "landsat_mtl_txt",
             "landsat-7", "2011-02-14T23:55:17Z", -31.7301, 147.5389, 100.0, 25.0),
    Expected(L + "LE07_L1TP_107068_20220310_20220405_02_T1_MTL.json", "landsat_mtl_json",
             "landsat-7", "2022-03-10T00:09:40Z", -11.5654, 129.1963, 5.0, 30.0),
    Expected(L + "LE07_L1TP_125017_20210828_20210828_01_RT_MTL.txt", "landsat_mtl_txt",
             "landsat-7", "2021-08-28T01:58:57Z", 61.5045, 123.0949, 11.0, 30.0),
    Expected(L + "LE07_L2SP_021030_20100109_20200911_02_T1_MTL.xml", "landsat_mtl_xml",
             "landsat-7", "2010-01-09T16:13:46Z", 43.1745, -84.7859, 8.0, 30.0),
    Expected(L + "LE07_L2SP_090084_20210331_20210426_02_T1_MTL.txt", "landsat_mtl_txt",
             "landsat-7", "2021-03-31T23:01:59Z", -34.6142, 149.9359, 6.0, 30.0),
    Expected(L + "LE70230312013111EDC00_MTL.txt", "landsat_mtl_txt",
             "landsat-7", "2013-04-21T16:31:01Z", 41.7577, -88.3287, 33.0, 30.0),
    Expected(L + "LE70880752013230ASA00_MTL.txt", "landsat_mtl_txt",
             "landsat-7", "2013-08-18T23:29:40Z", -21.6584, 156.2416, 0.0, 25.0),
    Expected(L + "LM01_L1GS_001010_19720908_20200909_02_T2_MTL.xml", "landsat_mtl_xml",
             "landsat-1", "1972-09-08T13:43:34Z", 70.5155, -33.3306, 43.0, 60.0),
    Expected(L + "LM01_L1GS_005037_19720823_20200909_02_T2_MTL.xml", "landsat_mtl_xml",
             "landsat-1", "1972-08-23T01:30:57Z", 33.1378, -63.1160, None, 60.0),
    Expected(L + "LM01_L1GS_007019_19771009_20200907_02_T2_MTL.xml", "landsat_mtl_xml",
             "landsat-1", "1977-10-09T12:52:36Z", 58.5257, -55.1203, 10.0, 60.0),
    Expected(L + "LM02_L1GS_001004_19750411_20200908_02_T2_MTL.xml", "landsat_mtl_xml",
             "landsat-2", "1975-04-11T13:29:55Z", 77.4539, -13.6867, 100.0, 60.0),
    Expected(L + "LM03_L1GS_001001_19780510_20200907_02_T2_MTL.xml", "landsat_mtl_xml",
             "landsat-3", "1978-05-10T13:28:09Z", 79.8943, 5.0936, 58.0, 60.0),
    Expected(L + "LM04_L1GS_001001_19830527_20210902_02_T2_MTL.xml", "landsat_mtl_xml",
             "landsat-4", "1983-05-27T13:36:40Z", 80.7147, 3.5622, 32.0, 60.0),
    Expected(L + "LM05_L1GS_001001_19850524_20210918_02_T2_MTL.xml", "landsat_mtl_xml",
             "landsat-5", "1985-05-24T13:37:18Z", 80.7122, 3.4011, 29.0, 60.0),
    Expected(L + "LT05_L2SP_090084_19980308_20200909_02_T1_MTL.json", "landsat_mtl_json",
             "landsat-5", "1998-03-08T23:26:47Z", -34.6120, 149.8263, 12.0, 30.0),
    Expected(L + "LT05_L2SP_090084_19980308_20200909_02_T1_MTL.txt", "landsat_mtl_txt",
             "landsat-5", "1998-03-08T23:26:47Z", -34.6120, 149.8263, 12.0, 30.0),
    Expected(L + "LT05_L2SR_087017_20090621_20200827_02_T2_MTL.xml", "landsat_mtl_xml",
             "landsat-5", "2009-06-21T22:53:30Z", 61.4448, -177.8452, 25.0, 30.0),
    Expected(L + "eodatasets_LT5_MTL.txt", "landsat_mtl_txt",
             "landsat-5", "2005-06-01T01:51:30Z", -4.3313, 121.4457, 52.0, 25.0),
    # EO3: Landsat eo:gsd is the 15 m pan cell, the multispectral GSD is 30 m (see reader).
    Expected("odc_eo3_yaml/LC08_L1TP_090084_20160121_20200907_02_T1.odc-metadata.yaml",
             "odc_eo3_yaml", "landsat-8", "2016-01-21T23:50:23Z", -34.6093, 149.8441, 93.28, 30.0),
    Expected("odc_eo3_yaml/S2A_MSIL1C_20210713T032051_N0301_R032_T48LWP_20210713T054224"
             ".odc-metadata.yaml",
             "odc_eo3_yaml", "sentinel-2a", "2021-07-13T03:21:04Z", -10.5657, 105.4778, 98.9175,
             10.0),
    Expected("odc_eo3_yaml/ga_ls8c_ard_3-1-0_088080_2020-05-25_final.odc-metadata.yaml",
             "odc_eo3_yaml", "landsat-8", "2020-05-25T23:35:47Z", -28.8707, 154.4707,
             42.42102985910952, 30.0),
    # GA EO1 raw telemetry: a pass (rows 72-74), acquisition of signal; no footprint, cloud, GSD.
    Expected("odc_eo3_yaml/LC80840720742017365LGN00__ga-metadata.yaml", "ga_eo1_yaml",
             "landsat-8", "2018-01-01T00:46:44Z", None, None, None, None),
    # MODIS: datetime = start of the compositing period; MCD (Terra+Aqua) -> platform null.
    Expected("modis_ecs_xml/MCD43A4.A2022019.h10v04.006.2022028111747.hdf.xml", "modis_ecs_xml",
             None, "2022-01-11T00:00:00Z", 44.9209, -107.3997, None, 500.0),
    Expected("modis_ecs_xml/MOD09A1.A2022033.h19v10.061.2022042043514.hdf.xml", "modis_ecs_xml",
             "terra", "2022-02-02T00:00:00Z", -14.9817, 15.5811, None, 500.0),
    Expected("modis_ecs_xml/MOD10A1.A2022040.h11v05.061.2022042042026.hdf.xml", "modis_ecs_xml",
             "terra", "2022-02-09T00:00:00Z", 34.9480, -79.8229, 24.0, 500.0),
    Expected("modis_ecs_xml/MOD11A1.A2022041.h19v02.061.2022042095544.hdf.xml", "modis_ecs_xml",
             "terra", "2022-02-10T00:00:00Z", 65.0, 36.9221, 49.0, 1000.0),
    Expected("modis_ecs_xml/MYD09Q1.A2022025.h02v08.061.2022035050917.hdf.xml", "modis_ecs_xml",
             "aqua", "2022-01-25T00:00:00Z", 4.9997, -155.9097, None, 250.0),
    # NAIP (aerial): no platform or cloud; date only.
    Expected("naip_fgdc/m_3008501_ne_16_1_20110815.txt", "naip_fgdc_txt",
             None, "2011-08-15T00:00:00Z", 30.96875, -85.90625, None, 1.0),
    Expected("naip_fgdc/m_3211605_ne_11_060_20200415_20200730.xml", "naip_fgdc_xml",
             None, "2020-04-15T00:00:00Z", 32.9687, -116.4062, None, 0.6),
    Expected("naip_fgdc/m_4107212_se_18_060_20180816.txt", "naip_fgdc_txt",
             None, "2018-08-16T00:00:00Z", 41.78125, -72.53125, None, 0.6),
    Expected("naip_iso19139/m_3907864_sw_17_060_20210912_20211220.xml", "naip_iso19139",
             None, "2021-09-12T00:00:00Z", 39.0315, -78.0935, None, 0.6),
    Expected("naip_iso19139/m_4112001_sw_10_060_20220716.xml", "naip_iso19139",
             None, "2022-07-16T00:00:00Z", 41.9063, -120.9687, None, 0.6),
    Expected("naip_iso19139/m_4208701_ne_16_060_20200902_20201202.xml", "naip_iso19139",
             None, "2020-09-02T00:00:00Z", 42.9690, -87.9060, None, 0.6),
]

REFUSED: dict[str, str] = {
    "landsat_ang/LC08_L2SP_005009_20150710_20200908_02_T2_ANG.txt": "read the scene's MTL",
    "landsat_ang/LC09_L2SP_010065_20220129_20220131_02_T1_ANG.txt": "read the scene's MTL",
    "landsat_other/LC80840720742017365LGN00_IDF.xml": "read the scene's MTL",
}

MY_FOLDERS = ("landsat_mtl", "landsat_ang", "landsat_other", "odc_eo3_yaml", "modis_ecs_xml",
              "naip_fgdc", "naip_iso19139")
MY_READERS = ("landsat_mtl_txt", "landsat_mtl_xml", "landsat_mtl_json", "landsat_ang",
              "landsat_idf", "odc_eo3_yaml", "ga_eo1_yaml", "modis_ecs_xml", "naip_fgdc_txt",
              "naip_fgdc_xml", "naip_iso19139", "raster")


def _read(relpath: str) -> list:
    path = METADATA_DIR / relpath
    if not path.exists():
        pytest.skip(f"{path} not present")
    return read_metadata(path)


@pytest.mark.parametrize("exp", EXPECTED, ids=lambda e: e.path)
def test_expected(exp: Expected) -> None:
    check(exp)


@pytest.mark.parametrize("relpath", sorted(REFUSED), ids=str)
def test_refused(relpath: str) -> None:
    path = METADATA_DIR / relpath
    if not path.exists():
        pytest.skip(f"{path} not present")
    with pytest.raises(MetadataError, match=REFUSED[relpath]):
        read_metadata(path)


# -- Landsat traps -------------------------------------------------------------------------
def test_same_scene_gives_same_record_in_txt_xml_and_json() -> None:
    stem = L + "LC08_L2SP_017036_20130419_20200913_02_T2_MTL"
    dumps = []
    for ext in ("txt", "xml", "json"):
        record = _read(f"{stem}.{ext}")[0].to_json_dict()
        record.pop("source"), record.pop("format")
        dumps.append(record)
    assert dumps[0] == dumps[1] == dumps[2]
    assert dumps[0]["bands"] == ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B10"]
    assert dumps[0]["view_angle"] == pytest.approx(11.696)  # |ROLL_ANGLE| of an off-nadir scene
    assert dumps[0]["extra"]["wrs_path"] == 17 and dumps[0]["extra"]["wrs_row"] == 36


def test_nul_padded_pre_collection_mtl() -> None:
    record = _read(L + "LE70230312013111EDC00_MTL.txt")[0]
    assert record.id == "LE70230312013111EDC00"  # no LANDSAT_PRODUCT_ID before Collection 1
    assert record.processing_level == "L1T"
    assert record.extra["wrs_path"] == 23 and record.extra["wrs_row"] == 31  # "023"/"031"
    assert record.bands is not None and "B6_VCID_1" in record.bands and "B8" in record.bands


def test_cloud_minus_one_is_null_and_night_sun_kept() -> None:
    record = _read(L + "LM01_L1GS_005037_19720823_20200909_02_T2_MTL.xml")[0]
    assert record.cloud_cover is None
    assert record.sun_elevation == pytest.approx(-30.74709801)
    assert record.sun_azimuth == pytest.approx(-48.44635224)
    assert record.bands == ["B4", "B5", "B6", "B7"] and record.instrument == "MSS"


def test_antimeridian_scene_centre_and_epsg() -> None:
    record = _read(L + "LC08_L2SR_084024_20160111_20201016_02_T1_MTL.txt")[0]
    assert record.center_lon == pytest.approx(-178.767, abs=0.01)
    assert record.epsg == 32601
    assert _read(L + "LC08_L2SR_099120_20191129_20201016_02_T2_MTL.xml")[0].epsg == 3031
    assert _read(L + "eodatasets_LT5_MTL.txt")[0].epsg == 28351  # GDA94 / MGA zone 51


def _lt5_text() -> str:
    path = METADATA_DIR / L / "eodatasets_LT5_MTL.txt"
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path.read_text()


def test_crlf_and_gdal_era_key_names() -> None:
    """The same real MTL rewritten with CRLF and the pre-2012 key names must read the same."""
    text = _lt5_text()
    reference = read_metadata("a.txt", text.encode())[0]
    old = (text.replace("DATE_ACQUIRED", "ACQUISITION_DATE")
           .replace("SCENE_CENTER_TIME", "SCENE_CENTER_SCAN_TIME")
           .replace("GRID_CELL_SIZE_REFLECTIVE", "GRID_CELL_SIZE_REF")
           .replace('"LANDSAT_5"', '"Landsat5"'))
    for corner in ("UL", "UR", "LL", "LR"):
        for axis in ("LAT", "LON"):
            old = old.replace(f"CORNER_{corner}_{axis}_PRODUCT", f"PRODUCT_{corner}_CORNER_{axis}")
    for band in range(1, 8):
        old = old.replace(f"FILE_NAME_BAND_{band} ", f"BAND{band}_FILE_NAME ")
    record = read_metadata("b.txt", old.replace("\n", "\r\n").encode())[0]
    for field in ("platform", "datetime", "center_lat", "center_lon", "gsd_m", "cloud_cover",
                  "bands", "footprint"):
        assert getattr(record, field) == getattr(reference, field), field


def test_mtl_without_acquisition_date_is_refused() -> None:
    text = _lt5_text().replace("DATE_ACQUIRED", "DATE_SOMETHING")
    with pytest.raises(MetadataError, match="DATE_ACQUIRED"):
        read_metadata("c.txt", text.encode())


def test_odl_parser_joins_multiline_values() -> None:
    path = METADATA_DIR / "landsat_ang/LC08_L2SP_005009_20150710_20200908_02_T2_ANG.txt"
    if not path.exists():
        pytest.skip(f"{path} not present")
    tree = parse_odl(path.read_text())
    assert tree["FILE_HEADER"]["SPACECRAFT_ID"] == "LANDSAT_8"
    params = tree["PROJECTION"]["PROJECTION_PARAMETERS"]
    assert params.startswith("(") and params.endswith(")") and params.count(",") == 14
    assert tree["PROJECTION"]["UL_CORNER"] == "( 365700.000,  8143800.000)"


# -- EO3 / EO1 / MODIS / NAIP traps ----------------------------------------------------------
def test_eo3_projected_geometry_is_reprojected() -> None:
    record = _read("odc_eo3_yaml/LC08_L1TP_090084_20160121_20200907_02_T1.odc-metadata.yaml")[0]
    west, south, east, north = record.bbox
    assert 148.4 < west < east < 151.3 and -35.8 < south < north < -33.4  # lon/lat, not UTM
    assert record.epsg == 32655 and record.extra["eo:gsd"] == 15.0
    ard = _read("odc_eo3_yaml/ga_ls8c_ard_3-1-0_088080_2020-05-25_final.odc-metadata.yaml")[0]
    assert ard.start_datetime is not None and ard.end_datetime is not None
    assert ard.start_datetime < ard.datetime < ard.end_datetime


def test_ga_eo1_pass_interval() -> None:
    record = _read("odc_eo3_yaml/LC80840720742017365LGN00__ga-metadata.yaml")[0]
    assert record.instrument == "OLI_TIRS"
    assert (record.end_datetime - record.start_datetime).total_seconds() == pytest.approx(100.67)
    assert record.extra["wrs_row"] == 72 and record.extra["wrs_row_end"] == 74


def test_modis_period_and_combined_platforms() -> None:
    record = _read("modis_ecs_xml/MCD43A4.A2022019.h10v04.006.2022028111747.hdf.xml")[0]
    assert record.platform is None and record.extra["platforms"] == ["terra", "aqua"]
    assert record.start_datetime == record.datetime
    assert record.end_datetime.isoformat().startswith("2022-01-26T23:59:59")
    assert record.extra["tile_h"] == 10 and record.extra["tile_v"] == 4


def test_naip_iso_date_sources() -> None:
    from_id = _read("naip_iso19139/m_4112001_sw_10_060_20220716.xml")[0]
    assert from_id.extra["datetime_source"] == "fileIdentifier"
    assert from_id.extra["datetime_precision"] == "day"
    from_extent = _read("naip_iso19139/m_3907864_sw_17_060_20210912_20211220.xml")[0]
    assert "datetime_source" not in from_extent.extra  # temporalElement wins
    assert from_extent.epsg == 26917  # NAD83 / UTM 17 from the DOQQ id


def test_fgdc_txt_and_xml_agree_on_units_and_epsg() -> None:
    txt = _read("naip_fgdc/m_4107212_se_18_060_20180816.txt")[0]
    xml = _read("naip_fgdc/m_3211605_ne_11_060_20200415_20200730.xml")[0]
    assert (txt.epsg, xml.epsg) == (26918, 26911)
    assert txt.extra["datetime_precision"] == xml.extra["datetime_precision"] == "day"
    assert xml.id == "m_3211605_ne_11_060_20200415"  # resdesc "none" is not an id


# -- sniffing ----------------------------------------------------------------------------------
def test_my_sniffers_reject_every_other_file() -> None:
    readers = [get_reader(name) for name in MY_READERS]
    for rel in relpaths():
        doc = Document(METADATA_DIR / rel)
        claimed = [r.name for r in readers if r.sniff(doc)]
        if rel.split("/")[0] in MY_FOLDERS:
            assert len(claimed) == 1, f"{rel}: claimed by {claimed}"
        else:
            assert not claimed, f"{rel} is not ours but {claimed} claims it"


# -- raster reader -----------------------------------------------------------------------------
RASTERS = default_data_dir() / "rasters"
RASTER_CASES = [
    # file, platform, datetime, centre lat, centre lon, gsd, epsg, band
    ("landsat_paraguay/LC08_L1TP_224077_20200518_20200518_01_RT_B2.TIF", "landsat-8",
     "2020-05-18T00:00:00Z", -25.2036, -54.7759, 30.0, 32621, "B2"),
    ("landsat_paraguay/LC08_L1TP_224078_20200518_20200518_01_RT_B4.TIF", "landsat-8",
     "2020-05-18T00:00:00Z", -25.3401, -54.5364, 30.0, 32621, "B4"),
    ("landsat_paraguay/LE07_L2SP_225078_20110306_02_T1_B1.tif", "landsat-7",
     "2011-03-06T00:00:00Z", -26.0600, -55.6735, 120.0, 8858, "B1"),
    ("sentinel2_brandenburg/ref_S2A_20160608T153121_T33UUU_sub.jp2", "sentinel-2a",
     "2016-06-08T00:00:00Z", 52.7407, 12.6595, 10.0, 32633, None),
    ("sentinel2_brandenburg/tgt_S2A_20160529T153631_T33UUU_sub.jp2", "sentinel-2a",
     "2016-05-29T00:00:00Z", 52.7843, 12.7137, 10.0, 32633, None),
]


@pytest.mark.parametrize("case", RASTER_CASES, ids=lambda c: c[0])
def test_raster_reader_on_real_rasters(case: tuple) -> None:
    rel, platform, when, lat, lon, gsd, epsg, band = case
    path = RASTERS / rel
    if not path.exists():
        pytest.skip(f"{path} not present")
    record = read_metadata(path)[0]
    assert record.format == "raster" and record.platform == platform
    assert record.datetime is not None
    assert record.datetime.isoformat().replace("+00:00", "Z") == when
    assert record.extra["datetime_precision"] == "day"  # names carry the date, not the time
    assert record.center_lat == pytest.approx(lat, abs=0.01)
    assert record.center_lon == pytest.approx(lon, abs=0.01)
    assert record.gsd_m == gsd and record.epsg == epsg
    assert record.bands == ([band] if band else None)


def _write_tif(path: Path, crs: str, res: float, tags: dict[str, str]) -> Path:
    data = np.random.default_rng(0).integers(0, 255, (1, 8, 8), dtype=np.uint8)
    west, north = (500000.0, 5800000.0) if res > 1 else (10.0, 50.0)
    with rasterio.open(path, "w", driver="GTiff", width=8, height=8, count=1, dtype="uint8",
                       crs=crs, transform=Affine(res, 0.0, west, 0.0, -res, north)) as ds:
        ds.write(data)
        ds.update_tags(**tags)
    return path


@pytest.mark.parametrize(("name", "tags", "want"), [
    ("scene.tif", {"ACQUISITIONDATETIME": "2019-06-01 10:11:12"}, "2019-06-01T10:11:12+00:00"),
    ("LC08_L1TP_047027_20201204_20210313_02_T1_B4.TIF", {}, "2020-12-04T00:00:00+00:00"),
    ("plain.tif", {}, None),
])
def test_raster_acquisition_ignores_the_file_write_time(tmp_path: Path, name: str, tags: dict[str, str],
                                                         want: str | None) -> None:
    """TIFFTAG_DATETIME (when the file was written) set to a decoy never moves the date."""
    decoy = {"TIFFTAG_DATETIME": "1988:01:02 03:04:05"}
    path = _write_tif(tmp_path / name, "EPSG:32633", 30.0, {**tags, **decoy})
    record = read_metadata(path)[0]
    assert (record.datetime.isoformat() if record.datetime else None) == want
    assert record.extra["file_datetime"] == "1988-01-02T03:04:05+00:00"


def test_raster_tags_win_over_nothing_and_creation_time_is_flagged(tmp_path: Path) -> None:
    acquired = _write_tif(tmp_path / "scene.tif", "EPSG:32633", 3.0,
                          {"ACQUISITIONDATETIME": "2019-06-01 10:11:12", "SATELLITEID": "GF2"})
    record = read_metadata(acquired)[0]
    assert record.platform == "gf-2" and record.gsd_m == 3.0 and record.epsg == 32633
    assert record.datetime.isoformat() == "2019-06-01T10:11:12+00:00"
    created = _write_tif(tmp_path / "plain.tif", "EPSG:4326", 0.001,
                         {"TIFFTAG_DATETIME": "2021:03:04 05:06:07"})
    record = read_metadata(created)[0]
    assert record.datetime is None  # the file's write time is not the acquisition
    assert record.extra["file_datetime"] == "2021-03-04T05:06:07+00:00"
    assert record.gsd_m is None  # degrees are not a ground sample distance
    assert record.platform is None and record.cloud_cover is None
    assert record.center_lon == pytest.approx(10.004) and record.center_lat == pytest.approx(49.996)
