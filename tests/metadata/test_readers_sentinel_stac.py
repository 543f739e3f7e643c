"""Sentinel-1/2/3 and STAC readers against values read by hand from each real file.

Centres: where a file states none, the value is the centre of its footprint (corner mean
for four corners, area centroid for longer outlines)
(duplicate/closing vertices dropped, antimeridian-aware), computed by hand from the
``lat lon`` lists; S2 tile / AWS centres are the UTM tile centre reprojected to WGS84;
STAC items with ``proj:centroid`` use it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from terrahash.errors import MetadataError
from terrahash.metadata import get_reader, read_metadata
from terrahash.metadata.document import Document
from tests.metadata.expected import METADATA_DIR, Expected, check, read_expected, relpaths

P, T, A = "sentinel2_product/", "sentinel2_tile/", "sentinel2_aws/"
SI, SL = "stac_item/", "stac_item_list/"

# Per folder: (file, platform, datetime, centre lat, centre lon, cloud %, GSD m).
# fmt: off
_ROWS: dict[tuple[str, str], list[tuple]] = {
    # DATATAKE_SENSING_START, SPACECRAFT_NAME, Cloud_Coverage_Assessment, RESOLUTION of B2-B8
    ("sentinel2_product", "sentinel2_product_xml"): [
        ("S2A_MSIL1C_20170226T102021_N0204_R065_T32TNM__MTD_MSIL1C.xml",
         "sentinel-2a", "2017-02-26T10:20:21Z", 41.9882, 9.4018, 0.1491, 10.0),
        ("S2A_MSIL1C_20180315T160021_N0206_R097_T17RLM__MTD_MSIL1C.xml",
         "sentinel-2a", "2018-03-15T16:00:21Z", 28.4235, -82.4815, 0.0, 10.0),
        ("S2A_MSIL1C_20200717T221941_R029_T01LAC__MTD_MSIL1C.xml",
         "sentinel-2a", "2020-07-17T22:19:41Z", -15.8494, 179.7781, 5.4828, 10.0),
        ("S2A_MSIL1C_20210908T042701_N0301_R133_T46RER__MTD_MSIL1C.xml",
         "sentinel-2a", "2021-09-08T04:27:01Z", 27.6057, 93.1578, 88.2972, 10.0),
        ("S2A_MSIL2A_20150826T185436_N0212_R070_T11SLT__MTD_MSIL2A.xml",
         "sentinel-2a", "2015-08-26T18:54:36Z", 33.8351, -118.5682, 3.113053, 10.0),
        ("S2A_MSIL2A_20190212T192651_N0212_R013_T07HFE__MTD_MSIL2A.xml",
         "sentinel-2a", "2019-02-12T19:26:51Z", -31.6824, -139.7448, 51.580326, 10.0),
        ("S2A_MSIL2A_20230625T234621_N0509_R073_T01WCS__MTD_MSIL2A.xml",
         "sentinel-2a", "2023-06-25T23:46:21Z", 68.8048, -179.8876, 83.930558, 10.0),
        ("S2A_MSIL2A_20230821T221941_N0509_R029_T01KAB__MTD_MSIL2A.xml",
         "sentinel-2a", "2023-08-21T22:19:41Z", -16.7523, 179.7633, 59.050727, 10.0),
        ("S2A_MSIL2A_20240725T021611_N0511_R003_T52SBF__MTD_MSIL2A.xml",
         "sentinel-2a", "2024-07-25T02:16:11Z", 36.5187, 126.2625, 83.018708, 10.0),
        ("S2A_OPER_MTD_SAFL1C_PDMC_20160905T104813_R002_V20160905T005712_20160905T010424.xml",
         "sentinel-2a", "2016-09-05T00:57:12Z", -35.5785, 134.89, 5.21463436220976, 10.0),
        ("S2B_MSIL1C_20240804T233819_N0511_R087_T57KWR__MTD_MSIL1C.xml",
         "sentinel-2b", "2024-08-04T23:38:19Z", -22.1742, 159.4042, 19.170176228559, 10.0),
        ("S2B_MSIL2A_20191228T210519_N0212_R071_T01CCV__MTD_MSIL2A.xml",
         "sentinel-2b", "2019-12-28T21:05:19Z", -72.3677, 177.503, 99.99889, 10.0),
        ("S2B_MSIL2A_20210122T133229_N0214_R081_T22HBD__MTD_MSIL2A.xml",
         "sentinel-2b", "2021-01-22T13:32:29Z", -37.5035, -53.7724, 0.447807, 10.0),
        ("S2B_MSIL2A_20220413T150759_N0400_R025_T33XWJ__MTD_MSIL2A.xml",
         "sentinel-2b", "2022-04-13T15:07:59Z", 80.1345, 15.8763, 98.944211, 10.0),
    ],
    # SENSING_TIME, TILE_ID prefix, CLOUDY_PIXEL_PERCENTAGE, UTM tile centre reprojected
    ("sentinel2_tile", "sentinel2_tile_xml"): [
        ("L1C_T57KWR_A038723_20240804T234214__MTD_TL.xml",
         "sentinel-2b", "2024-08-04T23:42:42Z", -22.1985, 159.5324, 19.1701762285586, 10.0),
        ("L2A_T07HFE_A019029_20190212T192646__MTD_TL.xml",
         "sentinel-2a", "2019-02-12T19:33:32Z", -32.1197, -139.358, 51.580326, 10.0),
        ("L2A_T33XWJ_A026649_20220413T150756__MTD_TL.xml",
         "sentinel-2b", "2022-04-13T15:08:07Z", 79.6619, 17.7403, 98.944211, 10.0),
        ("S2A_OPER_MTD_L1C_TL_SGS__20160905T073438_A006291_T53HPV.xml",
         "sentinel-2a", "2016-09-05T01:04:24Z", -36.6267, 136.7324, 0.0, 10.0),
    ],
    # timestamp, productName prefix, cloudyPixelPercentage, tileGeometry (UTM) centre
    ("sentinel2_aws", "sentinel2_aws_tileinfo"): [
        ("S2A_OPER_MSI_L1C_TL_SGS__20181231T203637_A018414_T10SDG__tileInfo.json",
         "sentinel-2a", "2018-12-31T19:04:06Z", 37.4517, -123.5104, 0.01, 10.0),
        ("S2A_OPER_MSI_L2A_TL_2APS_20240108T121951_A044635_T34VEL__tileInfo.json",
         "sentinel-2a", "2024-01-08T10:14:07Z", 59.0418, 21.9564, 0.0, 10.0),
        ("S2A_T60CWS_20240109T203651_L2A__tileInfo.json",
         "sentinel-2a", "2024-01-09T18:47:54Z", -79.7489, 179.7633, 0.0, 10.0),
        ("S2B_MSIL1C_20201011T000249_N0209_R030_T55HFA__tileInfo.json",
         "sentinel-2b", "2020-10-11T00:06:49Z", -35.7259, 148.7127, 24.99, 10.0),
        ("S2B_MSIL2A_20200914T231559_N0500_R087_T01VCG__tileInfo.json",
         "sentinel-2b", "2020-09-14T23:19:31Z", 59.918, -179.5954, 0.0, 10.0),
    ],
    # name, timestamp (datatake start); no geometry, no cloud in the file
    ("sentinel2_aws", "sentinel2_aws_productinfo"): [
        ("S2B_MSIL1C_20201011T000249_N0209_R030_T55HFA__productInfo.json",
         "sentinel-2b", "2020-10-11T00:02:49Z", None, None, None, 10.0),
    ],
    ("sentinel2_safe_manifest", "sentinel2_safe_manifest"): [
        ("S2B_MSIL2A_20220413T150759_N0400_R025_T33XWJ__manifest.safe",
         "sentinel-2b", "2022-04-13T15:07:59Z", 80.1345, 15.8763, None, 10.0),
    ],
    # bbox only; no platform field, no acquisition time (see the reader's docstring)
    ("sentinel2_inspire", "sentinel2_inspire_xml"): [
        ("S2A_MSIL1C_20170226T102021_N0204_R065_T32TNM__INSPIRE.xml",
         None, None, 41.9565, 9.4876, None, None),
    ],
    # startTime, platform familyName+number, posList vertex mean; OLCI FR 300 m, SLSTR 1000 m
    ("sentinel3_manifest", "sentinel3_manifest"): [
        ("S3A_OL_1_EFR____20211021T073827_20211021T074112_20211021T091357_0164_077_334_4320"
         "_LN1_O_NR_002__xfdumanifest.xml",
         "sentinel-3a", "2021-10-21T07:38:27Z", -76.3051, -18.1328, None, 300.0),
        ("S3A_SL_2_LST____20210510T002955_20210510T003255_20210511T101010_0179_071_301_5760"
         "_LN2_O_NT_004__xfdumanifest.xml",
         "sentinel-3a", "2021-05-10T00:29:54Z", -11.8714, -33.6647, 57.378222, 1000.0),
    ],
    # properties.datetime / platform / eo:cloud_cover / gsd (else main-band resolution)
    ("stac_item", "stac_item"): [
        ("20241102_105919_SN48_L1D_SR_MS_metadata_stac.geojson",
         "newsat", "2024-11-02T10:59:19Z", 39.4143, -0.4096, 22.41, 0.5),
        ("CBERS_4_AWFI_20210819_001_027_L2.json",
         "cbers-4", "2021-08-19T03:00:43Z", 64.3064, 129.5019, None, 64.0),
        ("LC09_L1TP_166072_20220203_20220203_02_T1_stac.json",
         "landsat-9", "2022-02-03T07:35:28Z", -17.3457, 36.7107, 0.52, 30.0),
        ("LC09_L2SP_191031_20220322_20220324_02_T1_SR_stac.json",
         "landsat-9", "2022-03-22T09:53:21Z", 41.7511, 12.0872, 0.3, 30.0),
        ("LE07_L2SP_021030_20100109_20200911_02_T1_SR_stac.json",
         "landsat-7", "2010-01-09T00:00:00Z", 43.1762, -84.7751, 8.0, 30.0),
        ("LM01_L1GS_001010_19720908_20200909_02_T2_stac.json",
         "landsat-1", "1972-09-08T13:43:34Z", 70.5351, -33.3281, 43.0, 60.0),
        ("LT05_L2SP_010067_19860424_20200918_02_T2_SR_stac.json",
         "landsat-5", "1986-04-24T14:54:18Z", -10.1085, -80.7016, 23.0, 30.0),
        ("S2A_MSIL2A_20230821T221941_N0509_R029_T01KAB__stactools_expected_output.json",
         "sentinel-2a", "2023-08-21T22:19:41Z", -16.75148, 179.76328, 59.050727, 10.0),
        ("planet_disaster__20170831_162740_ssc1d1.json",
         "skysat-c1", "2017-08-31T16:27:42Z", 28.9811, -95.3543, 0.0, 0.9),
        ("planet_disaster__20170831_172754_101c.json",
         "planetscope", "2017-08-31T17:27:54Z", 29.5668, -95.9114, 2.0, 2.6),
        ("planet_disaster__20170831_195425_SS02.json",
         "skysat-2", "2017-08-31T19:54:26Z", 29.9856, -93.9649, 0.0, 1.1),
    ],
}
_LISTS: dict[str, list[tuple]] = {
    "landsat-c2-l2-pc.json": [
        ("landsat-9", "2024-04-17T23:46:20Z", -43.1821, 148.7234, 97.54, 30.0),
        ("landsat-9", "2024-04-17T23:45:56Z", -41.7572, 149.2013, 42.93, 30.0),
        ("landsat-9", "2024-04-17T23:45:32Z", -40.3309, 149.6628, 25.53, 30.0),
        ("landsat-9", "2024-04-17T23:45:08Z", -38.9024, 150.1097, 25.41, 30.0),
    ],
    "naip-pc.json": [  # aerial: no platform; proj:centroid stated
        (None, "2022-12-12T16:00:00Z", 18.21876, -65.71875, None, 0.3),
        (None, "2022-12-12T16:00:00Z", 18.21876, -65.78125, None, 0.3),
        (None, "2022-12-12T16:00:00Z", 18.34376, -65.59376, None, 0.3),
        (None, "2022-12-12T16:00:00Z", 18.34376, -65.53125, None, 0.3),
    ],
    "planet-nicfi-analytic-pc.json": [  # monthly mosaic: STAC's placeholder datetime kept
        (None, "2022-01-16T12:00:00Z", -1.8454, -48.7793, None, 4.77),
        (None, "2022-01-16T12:00:00Z", -2.0211, -48.7793, None, 4.77),
        (None, "2022-01-16T12:00:00Z", -2.1967, -48.7793, None, 4.77),
        (None, "2022-01-16T12:00:00Z", -1.6697, -48.9551, None, 4.77),
    ],
    "sentinel-2-l2a-pc.json": [
        ("sentinel-2b", "2024-04-19T09:55:49Z", 81.4527, 95.3652, 0.219774, 10.0),
        ("sentinel-2b", "2024-04-19T09:55:49Z", 80.1255, 94.1425, 0.82852, 10.0),
        ("sentinel-2b", "2024-04-19T09:55:49Z", 82.3189, 95.3212, 0.843375, 10.0),
        ("sentinel-2b", "2024-04-19T09:55:49Z", 81.4436, 95.3875, 0.126773, 10.0),
    ],
}
# fmt: on

EXPECTED: list[Expected] = [
    Expected(f"{folder}/{name}", fmt, *values)
    for (folder, fmt), rows in _ROWS.items()
    for name, *values in rows
] + [
    Expected(f"stac_item_list/{name}", "stac_item_list", *values, item=i)
    for name, rows in _LISTS.items()
    for i, values in enumerate(rows)
]

REFUSED: dict[str, str] = {
    "sentinel1_manifest/S1A_IW_GRDH_1SDV_20160822T182823_20160822T182848_012717_013FFE_90AF"
    "__manifest.safe": "Sentinel-1 is a SAR product, not an optical scene",
}

MY_FOLDERS = (
    "sentinel1_manifest",
    "sentinel2_aws",
    "sentinel2_inspire",
    "sentinel2_product",
    "sentinel2_safe_manifest",
    "sentinel2_tile",
    "sentinel3_manifest",
    "stac_item",
    "stac_item_list",
)
MY_READERS = (
    "sentinel2_product_xml",
    "sentinel2_tile_xml",
    "sentinel2_aws_tileinfo",
    "sentinel2_aws_productinfo",
    "sentinel2_safe_manifest",
    "sentinel2_inspire_xml",
    "sentinel1_manifest",
    "sentinel3_manifest",
    "stac_item",
    "stac_item_list",
)


@pytest.mark.parametrize("exp", EXPECTED, ids=lambda e: f"{e.path}#{e.item}")
def test_expected_values(exp: Expected) -> None:
    check(exp)


@pytest.mark.parametrize("relpath", sorted(REFUSED))
def test_refused(relpath: str) -> None:
    with pytest.raises(MetadataError, match=REFUSED[relpath]):
        read_metadata(METADATA_DIR / relpath)


def test_my_folders_are_fully_covered() -> None:
    covered = {e.path for e in EXPECTED} | set(REFUSED)
    mine = [f for f in relpaths() if f.split("/")[0] in MY_FOLDERS]
    assert mine and sorted(set(mine) - covered) == []


def _rec(relpath: str, item: int = 0):  # noqa: ANN202 - a SceneRecord
    return read_expected(Expected(relpath, "", None, None, None, None, None, None, item=item))


# --- traps -----------------------------------------------------------------------------------


def test_tile_sun_zenith_becomes_elevation_and_view_angle_is_band_mean() -> None:
    rec = _rec(T + "L2A_T33XWJ_A026649_20220413T150756__MTD_TL.xml")
    assert rec.sun_elevation == pytest.approx(90 - 76.5286190227361)
    assert rec.sun_azimuth == pytest.approx(246.540424743604)
    assert rec.extra["sun_zenith"] == pytest.approx(76.5286190227361)
    assert rec.view_angle == pytest.approx(
        11.684, abs=0.001
    )  # mean of the 13 band zeniths (11.60..11.79)
    assert rec.epsg == 32633 and rec.processing_level == "Level-2A"


def test_product_footprint_is_read_lat_lon() -> None:
    rec = _rec(P + "S2A_MSIL1C_20180315T160021_N0206_R097_T17RLM__MTD_MSIL1C.xml")
    # EXT_POS_LIST starts "28.912653887310096 -83.05143193762544": lat first
    assert rec.footprint["coordinates"][0][0] == [
        pytest.approx(-83.05143193762544),
        pytest.approx(28.912653887310096),
    ]
    assert rec.sun_elevation is None and rec.sun_azimuth is None  # not in the product MTD


def test_product_footprint_with_zero_heights_is_3d() -> None:
    rec = _rec(P + "S2A_MSIL2A_20150826T185436_N0212_R070_T11SLT__MTD_MSIL2A.xml")
    ring = rec.footprint["coordinates"][0]
    assert len(ring) == 5 and ring[0] == ring[-1]
    assert ring[1] == [pytest.approx(-119.14886714), pytest.approx(33.33276711)]


def test_antimeridian_footprint_centre_stays_near_180() -> None:
    rec = _rec(P + "S2A_MSIL2A_20230821T221941_N0509_R029_T01KAB__MTD_MSIL2A.xml")
    assert rec.center_lon > 179.0


def test_old_multi_tile_product_keeps_product_period() -> None:
    rec = _rec(
        P + "S2A_OPER_MTD_SAFL1C_PDMC_20160905T104813_R002_V20160905T005712_20160905T010424.xml"
    )
    assert rec.start_datetime.isoformat().startswith("2016-09-05T00:57:12")
    assert rec.end_datetime.isoformat().startswith("2016-09-05T01:04:24")
    assert len(rec.extra["granules"]) > 1


def test_stac_pre_1_0_keys_and_date_only_datetime() -> None:
    rec = _rec(SI + "LE07_L2SP_021030_20100109_20200911_02_T1_SR_stac.json")
    assert rec.sun_elevation == pytest.approx(21.38957268)  # eo:sun_elevation
    assert rec.instrument == "ETM" and rec.extra["datetime_precision"] == "day"


def test_stac_s2_mean_solar_zenith_becomes_elevation() -> None:
    rec = _rec(SL + "sentinel-2-l2a-pc.json")
    assert rec.sun_elevation == pytest.approx(90 - 75.1644683744649)
    assert rec.sun_azimuth == pytest.approx(247.347032627282)


def test_stac_nicfi_keeps_placeholder_datetime_and_sets_period() -> None:
    rec = _rec(SL + "planet-nicfi-analytic-pc.json", item=2)
    assert rec.start_datetime.isoformat() == "2022-01-01T00:00:00+00:00"
    assert rec.end_datetime.isoformat() == "2022-02-01T00:00:00+00:00"
    assert "start/end_datetime" in rec.extra["datetime_note"]


def test_stac_gsd_from_main_band_assets_when_no_gsd_property() -> None:
    # no properties.gsd; blue/green/red/nir assets are 10 m, their _20m/_60m copies coarser
    rec = _rec(SI + "S2A_MSIL2A_20230821T221941_N0509_R029_T01KAB__stactools_expected_output.json")
    assert rec.gsd_m == 10.0 and rec.view_angle == pytest.approx(2.7752190171935607)


def test_inspire_states_no_platform_or_acquisition_time() -> None:
    rec = _rec("sentinel2_inspire/S2A_MSIL1C_20170226T102021_N0204_R065_T32TNM__INSPIRE.xml")
    assert rec.platform is None and rec.datetime is None and rec.gsd_m is None
    assert rec.bbox == pytest.approx(
        (8.999756773980803, 41.46029460552425, 9.975430158966422, 42.45269119915018)
    )
    assert rec.extra["iso_temporal_extent"][0] == "2017-01-26T10:24:58"


def test_manifest_instruments() -> None:
    s2 = _rec("sentinel2_safe_manifest/S2B_MSIL2A_20220413T150759_N0400_R025_T33XWJ__manifest.safe")
    assert (s2.instrument, s2.processing_level) == ("MSI", "Level-2A")
    s3 = [read_metadata(p)[0] for p in sorted((METADATA_DIR / "sentinel3_manifest").iterdir())]
    assert [r.instrument for r in s3] == ["OLCI", "SLSTR"]


def _derived(tmp_path: Path, relpath: str, edit) -> Path:  # noqa: ANN001
    data = json.loads((METADATA_DIR / relpath).read_text())
    out = tmp_path / "derived.json"
    out.write_text(json.dumps(edit(data)))
    return out


def test_tileinfo_without_geometry_has_null_centre(tmp_path: Path) -> None:
    def drop(d: dict) -> dict:
        return {
            k: v
            for k, v in d.items()
            if k not in ("tileGeometry", "tileDataGeometry", "tileOrigin")
        }

    path = _derived(
        tmp_path, A + "S2B_MSIL1C_20201011T000249_N0209_R030_T55HFA__tileInfo.json", drop
    )
    rec = read_metadata(path)[0]
    assert rec.format == "sentinel2_aws_tileinfo"
    assert rec.center_lat is None and rec.center_lon is None and rec.footprint is None
    assert rec.extra["mgrs_tile"] == "55HFA"


def test_planet_feature_without_stac_members_is_not_stac(tmp_path: Path) -> None:
    def strip(d: dict) -> dict:
        return {
            k: v for k, v in d.items() if k not in ("stac_version", "stac_extensions", "assets")
        }

    path = _derived(tmp_path, SI + "planet_disaster__20170831_172754_101c.json", strip)
    assert not get_reader("stac_item").sniff(Document(path))


def test_item_list_with_a_non_item_entry_is_an_error(tmp_path: Path) -> None:
    path = _derived(
        tmp_path, SL + "naip-pc.json", lambda d: [*d, {"type": "Feature", "properties": {}}]
    )
    with pytest.raises(MetadataError, match="entry 4 is not a STAC Item"):
        read_metadata(path)


def test_sniffers_claim_only_their_own_files() -> None:
    readers = [get_reader(n) for n in MY_READERS]
    for relpath in relpaths():
        doc = Document(METADATA_DIR / relpath)
        hits = [r.name for r in readers if r.sniff(doc)]
        folder = relpath.split("/")[0]
        if folder in MY_FOLDERS:
            assert len(hits) == 1, f"{relpath}: sniffed by {hits}"
        else:
            assert hits == [], f"{relpath} (another group's file) sniffed by {hits}"


def test_tileinfo_without_product_name_uses_datastrip_id(tmp_path: Path) -> None:
    def drop(d: dict) -> dict:
        return {k: v for k, v in d.items() if k not in ("productName", "productPath")}

    path = _derived(tmp_path, A + "S2A_T60CWS_20240109T203651_L2A__tileInfo.json", drop)
    rec = read_metadata(path)[0]
    assert (rec.platform, rec.processing_level) == ("sentinel-2a", "Level-2A")


def test_sentinel3_altimetry_manifest_is_refused(tmp_path: Path) -> None:
    olci = next((METADATA_DIR / "sentinel3_manifest").glob("S3A_OL_1_EFR*"))
    path = tmp_path / "xfdumanifest.xml"
    path.write_bytes(olci.read_bytes().replace(b'abbreviation="OLCI"', b'abbreviation="SRAL"'))
    with pytest.raises(MetadataError, match="altimetry product, not an optical scene"):
        read_metadata(path)
