"""Commercial and national-agency readers: CRESDA, INPE, DIMAP v1/v2, Maxar IMD/XML, USGS HDDS,
Planet XML/JSON, KOMPSAT Aux, Roscosmos, BKA, ISRO, ALOS, VRSS, Satellogic ISO, BlackSky, and
the refused GDAL test stubs.

Every value was read from the file by hand. Centres are the stated centre where the file has
one, else the mean of the four corners (Planet JSON / BlackSky: the area centroid of the
outline). CRESDA times are Beijing time minus 8 h; the Resurs-P scene time is Moscow time
minus 3 h (checked against its sun elevation); Maxar/Planet cloud fractions are x100.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from terrahash.errors import MetadataError
from terrahash.metadata import read_metadata
from terrahash.metadata.document import Document
from terrahash.metadata.reader import get_reader
from terrahash.metadata.readers._vendor_common import solar_elevation
from tests.metadata.expected import METADATA_DIR, Expected, check, relpaths

C, INPE, D1, D2 = "cresda_xml/", "inpe_cbers_xml/", "dimap_v1/", "dimap_v2/"
MI, MX, P, R = "maxar_imd/", "maxar_xml/", "planet_xml/", "roscosmos_xml/"
EXPECTED: list[Expected] = [
    # path, format, platform, datetime (UTC), centre lat, centre lon, cloud %, gsd m
    Expected(C + "GF1_PMS1_E69.4_N33.3_20220624_L1A0006547030-MSS1.xml", "cresda_xml",
             "gf-1", "2022-06-24T05:39:09Z", 33.3039, 69.3835, 0.0, 8.0),
    Expected(C + "GF1_PMS1_E69.4_N33.3_20220624_L1A0006547030-PAN1.xml", "cresda_xml",
             "gf-1", "2022-06-24T05:39:09Z", 33.3109, 69.3871, 0.0, 2.0),
    Expected(C + "GF2_PMS1_W91.0_N17.6_20200510_L1A0004793969-MSS1.xml", "cresda_xml",
             "gf-2", "2020-05-10T17:03:20Z", 17.5984, -90.9904, 2.0, 3.24),
    Expected(C + "GF2_PMS2_E120.2_S0.0_20181002_L1A0003492622-MSS2.xml", "cresda_xml",
             "gf-2", "2018-10-02T02:54:23Z", -0.0162, 120.1573, 1.0, 3.24),
    Expected(C + "GF2_PMS2_E120.2_S0.0_20181002_L1A0003492622-PAN2.xml", "cresda_xml",
             "gf-2", "2018-10-02T02:54:23Z", -0.0133, 120.1577, 1.0, 0.81),
    Expected(C + "GF2_PMS2_W72.3_S36.7_20230213_L1A2147483647-MSS2.xml", "cresda_xml",
             "gf-2", "2023-02-13T14:17:10Z", -36.6956, -72.3095, None, 3.24),
    Expected(C + "GF2_PMS2_W72.3_S36.7_20230213_L1A2147483647-PAN2.xml", "cresda_xml",
             "gf-2", "2023-02-13T14:17:10Z", -36.6928, -72.3088, None, 0.81),
    Expected(C + "GF2_PMS2_W72.3_S36.7_20230213_L1A2147483647.xml", "cresda_xml",
             "gf-2", "2023-02-13T14:17:10Z", -36.6956, -72.3095, None, 3.24),
    Expected(C + "GF4_IRS_E123.9_N10.9_20220419_L1A0000490782.xml", "cresda_xml",
             "gf-4", "2022-04-19T03:30:16Z", 11.5187, 123.6969, 16.0, 400.0),
    Expected(C + "GF4_IRS_E80.6_N8.0_20211121_L1A0000439105.xml", "cresda_xml",
             "gf-4", "2021-11-21T05:45:06Z", 8.6056, 80.1548, 3.0, 400.0),
    Expected(C + "GF4_PMS_E123.9_N10.9_20220419_L1A0000490782.xml", "cresda_xml",
             "gf-4", "2022-04-19T03:29:30Z", 11.6239, 124.0819, 16.0, 50.0),
    Expected(C + "GF4_PMS_E80.6_N8.0_20211121_L1A0000439105.xml", "cresda_xml",
             "gf-4", "2021-11-21T05:44:21Z", 8.7022, 80.5110, 3.0, 50.0),
    Expected(INPE + "AMAZONIA_1_WFI_20220810_033_018_L4_LEFT_BAND2.xml", "inpe_cbers_xml",
             "amazonia-1", "2022-08-10T13:01:35Z", -17.1760, -39.6071, None, 64.0),
    Expected(INPE + "CBERS_4A_WPM_20200730_209_139_L4_BAND2.xml", "inpe_cbers_xml",
             "cbers-4a", "2020-07-30T13:51:24Z", -20.5626, -51.0429, None, 8.0),
    Expected(INPE + "CBERS_4_AWFI_20170409_167_123_L4_BAND14.xml", "inpe_cbers_xml",
             "cbers-4", "2017-04-09T14:09:23Z", -19.7893, -57.1429, None, 64.0),
    Expected(INPE + "CBERS_4_MUX_20170528_090_084_L2_BAND6.xml", "inpe_cbers_xml",
             "cbers-4", "2017-05-28T09:01:17Z", 14.4232, 24.2571, None, 20.0),
    Expected(INPE + "CBERS_4_PAN10M_20160322_156_117_L2_BAND2.xml", "inpe_cbers_xml",
             "cbers-4", "2016-03-22T13:29:12Z", -15.1819, -46.1843, None, 10.0),
    Expected(INPE + "CBERS_4_PAN5M_20161009_219_050_L2_BAND1.xml", "inpe_cbers_xml",
             "cbers-4", "2016-10-09T17:14:38Z", 44.6196, -92.1911, None, 5.0),
    Expected(D1 + "DE2_MS4_L1B_000000_20250705T125836_20250705T125839_DE2_59890_F278.dim",
             "dimap_v1", "deimos-2", "2025-07-05T12:58:37Z", -30.0770, -51.2315, None, 4.0),
    Expected(D1 + "DE2_PSH_L1C_000000_20231025T021856_20231025T021859_DE2_50668_5E8E.dim",
             "dimap_v1", "deimos-2", "2023-10-25T02:18:57Z", -0.2068, 119.8377, None, 0.75),
    Expected(D1 + "DIM_AB_MS4_20210207010513_ORTP_S106326_0e6e_Meta.xml", "dimap_v1",
             "alsat-1b", "2021-02-07T01:05:36Z", -2.5623, 119.1505, None, 24.0),
    Expected(D1 + "DIM_VIS1_MS4_20210114224140_ORTP_S105354_1e08_Meta.xml", "dimap_v1",
             "vision-1", "2021-01-14T22:41:44Z", -17.3265, 178.1048, None, 3.48),
    Expected(D1 + "U2005b3d_030000_045499_s_L1T.xml", "dimap_v1",
             "uk-dmc-2", "2014-10-17T10:50:15Z", 11.7254, -8.4670, None, 22.0),
    Expected(D1 + "U200a421_000000_015499_p_L1T.dim", "dimap_v1",
             "uk-dmc-2", "2019-12-17T23:13:13Z", 13.5360, 124.1431, None, 22.0),
    Expected(D1 + "VIS1_MS4_20200722023318_ORT_103091_14e5_Meta.xml", "dimap_v1",
             "vision-1", "2020-07-22T02:33:22Z", -0.8382, 119.8539, None, 3.48),
    Expected(D2 + "DIM_PER1_20170307150657_ORT_P_000041.XML", "dimap_v2",
             "perusat-1", "2017-03-07T15:06:57Z", -12.4843, -76.7291, None, 0.7),
    Expected(D2 + "DIM_PHR1A_MS_202108271549303_SEN_5897098101-2.XML", "dimap_v2",
             "pleiades-1a", "2021-08-27T15:49:30Z", 18.3626, -73.6079, 63.02, 2.0),
    Expected(D2 + "DIM_PHR1A_PMS_202108151541301_ORT_5881313101.XML", "dimap_v2",
             "pleiades-1a", "2021-08-15T15:41:30Z", 18.4280, -73.0952, 1.84, 0.5),
    Expected(D2 + "DIM_PHR1B_PMS_201512251537253_ORT_1629599101-001.XML", "dimap_v2",
             "pleiades-1b", "2015-12-25T15:37:25Z", 18.2483, -73.8518, None, 0.5),
    Expected(D2 + "DIM_PHR1B_P_201911060805331_ORT_4596933101-001.XML", "dimap_v2",
             "pleiades-1b", "2019-11-06T08:05:33Z", 3.9279, 41.2202, 100.0, 0.5),
    Expected(D2 + "DIM_PNEO4_202307260722045_PMS_ORT_PWOI_000115104_1_1_F_1.XML", "dimap_v2",
             "pleiades-neo-4", "2023-07-26T07:22:04Z", -21.3519, 43.8079, 0.0, 0.3),
    Expected(D2 + "STRIP_DS_PHR1A_202108151541301_FR1_PX_W074N18_1111_00822_DIM.XML",
             "dimap_v2", "pleiades-1a", "2021-08-15T15:41:30Z", 18.425, -73.095, None, 2.8),
    Expected(MI + "16AUG31104614-S3DS-056956784010_01_P001.IMD", "maxar_imd",
             "geoeye-1", "2016-08-31T10:46:08Z", 58.6567, 15.3716, 1.8, 0.5),
    Expected(MI + "18OCT02025047-M1BS-502541534010_01_P003.IMD", "maxar_imd",
             "worldview-3", "2018-10-02T02:50:47Z", -0.8754, 119.8884, 0.8, 1.234),
    Expected(MI + "18OCT02053604-P1BS-502544562030_01_P007.IMD", "maxar_imd",
             "worldview-1", "2018-10-02T05:36:04Z", -0.8549, 119.9147, 47.9, 0.55),
    Expected(MI + "21SEP14082709-M1BS-014379587010_01_P001.IMD", "maxar_imd",
             "geoeye-1", "2021-09-14T08:27:09Z", 12.4970, 32.7763, 1.8, 1.882),
    Expected(MX + "056956784010_01_README.XML", "maxar_xml",
             None, "2016-08-31T10:46:08Z", 58.6567, 15.3717, 1.8, None),
    Expected(MX + "16AUG31104614-S3DS-056956784010_01_P001.XML", "maxar_xml",
             "geoeye-1", "2016-08-31T10:46:08Z", 58.6567, 15.3716, 1.8, 0.5),
    Expected("usgs_hdds_txt/GE01N12_496847E032_7762872021091400000000MS00_DU001002003.txt",
             "usgs_hdds_txt", "geoeye-1", "2021-09-14T08:27:09Z", 12.4968, 32.7763, 2.0, 2.0),
    # 0.000031932 deg at -0.92 deg latitude: 3.555 m east-west, 3.531 m north-south.
    Expected("usgs_hdds_txt/WV02S00_917500E119_8956942018100100000000MS00_DR003002001.txt",
             "usgs_hdds_txt", "worldview-2", "2018-10-01T02:26:04Z", -0.9175, 119.8957, 24.0,
             3.543),
    Expected(P + "20160831_212705_0c43_3B_AnalyticMS_metadata.xml", "planet_xml",
             "planetscope", "2016-08-31T21:27:05Z", 38.0463, -121.3543, 0.0, 3.0),
    Expected(P + "20170831_172754_101c_3B_AnalyticMS_metadata.xml", "planet_xml",
             "planetscope", "2017-08-31T17:27:54Z", 29.5675, -95.9114, 2.0, 3.0),
    Expected(P + "20181001_015434_1027_3B_AnalyticMS_metadata.xml", "planet_xml",
             "planetscope", "2018-10-01T01:54:34Z", -0.9105, 119.8564, 13.0, 3.0),
    Expected(P + "20211121_020256_100c_3B_AnalyticMS_metadata.xml", "planet_xml",
             "planetscope", "2021-11-21T02:02:56Z", 20.2436, 121.8770, 87.0, 3.0),
    Expected(P + "20230217_080024_64_24a3_3B_AnalyticMS_8b_metadata_clip.xml", "planet_xml",
             "planetscope", "2023-02-17T08:00:24Z", 36.8783, 35.3711, 0.0, 3.0),
    Expected("planet_json/20181001_015433_1027_metadata.json", "planet_json",
             "planetscope", "2018-10-01T01:54:33Z", -0.8425, 119.8697, 12.0, 3.9),
    Expected("planet_json/20181001_015434_1027_metadata.json", "planet_json",
             "planetscope", "2018-10-01T01:54:34Z", -0.9105, 119.8563, 13.0, 3.9),
    Expected("kompsat_aux_xml/C1_20230610025814_12315_00049489_L1G_Aux.xml", "kompsat_aux_xml",
             "cas500-1", "2023-06-10T02:58:19Z", -0.9553, 119.8717, None, 2.0),
    Expected("kompsat_aux_xml/K3A_20210113132915_32047_00039626_L1G_Aux.xml", "kompsat_aux_xml",
             "kompsat-3a", "2021-01-13T13:29:20Z", 35.6008, -5.3217, None, 2.2),
    # Kanopus GSD: projected corner span / pixel count (57824.24 m / 5374 px = 10.76 m).
    Expected(R + "KV5_15173_15173_01_3NP2_08_ORT_S_262214_210921.xml", "roscosmos_xml",
             "kanopus-v-5", "2021-09-21T09:11:00Z", 12.7321, 32.7269, None, 10.76),
    Expected(R + "Kanopus-V-IK_MSS_19377_02_Bolivia_10012021.xml", "roscosmos_xml",
             "kanopus-v-ik", "2021-01-10T15:56:07Z", -18.8967, -65.2952, None, 10.57),
    Expected(R + "Kanopus-V3_BOLIVIA_09012021_PSS.xml", "roscosmos_xml",
             "kanopus-v-3", "2021-01-09T15:54:00Z", -18.9945, -65.2589, None, 2.15),
    # aMidLat 0:56:40 has lost its sign: the projected corners (UTM 50S) put it at -0.9445.
    Expected(R + "fr_0041_0102_29609_1_09725_03_ORT_40_K.xml", "roscosmos_xml",
             "resurs-p", "2018-10-10T01:55:48Z", -0.9445, 119.8744, None, 10.289),
    Expected("bka_pasp_xml/4077631-0220-MUL-C-1-1-1100761-150924T044238-ID_pasp-en.xml",
             "bka_pasp_xml", "bka", "2015-09-24T04:43:01Z", -6.2109, 106.6053, 1.0, 10.52),
    Expected("isro_txt/203660031_P_MET.TXT", "isro_txt",
             "cartosat-2", "2018-12-28T02:15:56Z", -6.0481, 106.4568, None, 1.0),
    Expected("isro_txt/RS2A_LISS3_203660011__BAND_META.txt", "isro_txt",
             "resourcesat-2a", "2019-09-30T14:01:58Z", -19.0778, -58.3568, None, 24.0),
    Expected("alos_summary/ALPSMF013934330__summary.txt", "alos_summary",
             "alos", "2006-04-29T00:00:00Z", -39.068, -65.552, 0.0, None),
    Expected("vrss_xml/VRSS-1_MSS-2_0698_0239_20200814_L2B_81713505511.xml", "vrss_xml",
             "vrss-1", "2020-08-14T05:16:57Z", -20.2292, 57.8899, 1.0, 10.0),
    Expected("vrss_xml/VRSS-2_PAN_0299_0332_20230129_L2A_426121310590.xml", "vrss_xml",
             "vrss-2", "2023-01-29T14:40:34Z", 9.2125, -70.1814, 3.0, 1.0),
    Expected("satellogic_xml/20240314_172620_SN30_L1_SR_MS_metadata_iso.xml",
             "satellogic_iso19115", "newsat", "2024-03-14T17:26:20Z", 11.1273, -60.7807, 3.19,
             None),
    Expected("blacksky_json/BSG-108-20210902-213556-11999279_metadata.json", "blacksky_json",
             "blacksky-global-8", "2021-09-02T21:35:56Z", 39.9605, -75.1678, 0.0, 0.8632),
]

REFUSED: dict[str, str] = {
    C + "GF2_PMS2_W72.3_S36.7_20230213__order.xml": "order/interface file",
    D2 + "VOL_PHR.XML": "volume descriptor",
    "gdal_stubs/md_eros.pass": "GDAL test stub / EROS",
    "gdal_stubs/md_kompsat.txt": "GDAL test stub / KOMPSAT-2",
    "gdal_stubs/md_rdk1.xml": "GDAL test stub / Resurs-DK1",
    "gdal_stubs/md_re_metadata.xml": "malformed XML",
}

MY_READERS = (
    "cresda_xml", "inpe_cbers_xml", "dimap_v1", "dimap_v2", "maxar_imd", "maxar_xml",
    "usgs_hdds_txt", "planet_xml", "planet_json", "kompsat_aux_xml", "roscosmos_xml",
    "bka_pasp_xml", "isro_txt", "alos_summary", "vrss_xml", "satellogic_iso19115",
    "blacksky_json", "gdal_stub_eros_pass", "gdal_stub_kompsat2_txt", "gdal_stub_resurs_dk1_msp",
)
MY_FOLDERS = {p.split("/")[0] for p in [e.path for e in EXPECTED] + list(REFUSED)}


def _read(relpath: str):  # noqa: ANN202 - a SceneRecord
    return read_metadata(METADATA_DIR / relpath)[0]


def _variant(relpath: str, old: str, new: str):  # noqa: ANN202 - a SceneRecord
    """The record of a real file with one value changed in memory (a plausible sibling)."""
    data = (METADATA_DIR / relpath).read_bytes()
    assert old.encode() in data, f"{old!r} not in {relpath}"
    return read_metadata(METADATA_DIR / relpath, data.replace(old.encode(), new.encode(), 1))[0]


@pytest.mark.parametrize("exp", EXPECTED, ids=[e.path for e in EXPECTED])
def test_expected(exp: Expected) -> None:
    check(exp)


@pytest.mark.parametrize("relpath", sorted(REFUSED))
def test_refused(relpath: str) -> None:
    with pytest.raises(MetadataError, match=re.escape(REFUSED[relpath])):
        read_metadata(METADATA_DIR / relpath)


# -- traps, on the real files --------------------------------------------------------------
def test_cresda_beijing_time_crosses_midnight_and_mean_of_start_end() -> None:
    rec = _read(C + "GF2_PMS1_W91.0_N17.6_20200510_L1A0004793969-MSS1.xml")
    assert rec.datetime == datetime(2020, 5, 10, 17, 3, 20, tzinfo=UTC)  # 2020-05-11 01:03 BJT
    no_centre = _variant(C + "GF2_PMS1_W91.0_N17.6_20200510_L1A0004793969-MSS1.xml",
                         "<CenterTime>2020-05-11 01:03:20</CenterTime>", "<CenterTime/>")
    assert no_centre.datetime == datetime(2020, 5, 10, 17, 3, 19, 500000, tzinfo=UTC)


def test_cresda_zenith_convention_and_gf4_camera() -> None:
    gf1 = _read(C + "GF1_PMS1_E69.4_N33.3_20220624_L1A0006547030-MSS1.xml")
    assert gf1.sun_elevation == pytest.approx(90 - 25.1707)
    # GF-4 writes the elevation into SolarZenith: 86.5 near the sub-solar point at noon.
    gf4 = _read(C + "GF4_IRS_E123.9_N10.9_20220419_L1A0000490782.xml")
    assert gf4.sun_elevation == pytest.approx(86.5452)
    assert gf4.extra["solar_angle_convention"].startswith("elevation")
    for rec in (gf1, gf4):
        computed = solar_elevation(rec.datetime, rec.center_lat, rec.center_lon)
        assert abs(computed - rec.sun_elevation) < 0.5
    assert gf4.instrument == "IRS"
    assert _read(C + "GF4_PMS_E123.9_N10.9_20220419_L1A0000490782.xml").instrument == "PMS"


def test_cresda_out_of_range_cloud_is_null() -> None:
    rec = _read(C + "GF2_PMS2_W72.3_S36.7_20230213_L1A2147483647.xml")
    assert rec.cloud_cover is None and rec.extra["cloud_percent_raw"] == "101"


def test_maxar_fraction_sentinel_and_gsd_rules() -> None:
    imd = MI + "18OCT02053604-P1BS-502544562030_01_P007.IMD"
    assert _read(imd).cloud_cover == pytest.approx(47.9)
    assert _variant(imd, "cloudCover = 0.479;", "cloudCover = -999;").cloud_cover is None
    assert "pan" in _read(imd).extra["gsd_note"]
    lv3 = _read(MI + "16AUG31104614-S3DS-056956784010_01_P001.IMD")
    assert lv3.gsd_m == 0.5 and lv3.extra["mean_collected_gsd"] == 0.505  # product, not collected
    same = _read(MX + "16AUG31104614-S3DS-056956784010_01_P001.XML")
    assert same.model_dump(exclude={"source", "format"}) == lv3.model_dump(
        exclude={"source", "format"})


def test_hdds_and_imd_agree_on_the_same_geoeye_scene() -> None:
    hdds = _read("usgs_hdds_txt/GE01N12_496847E032_7762872021091400000000MS00_DU001002003.txt")
    imd = _read(MI + "21SEP14082709-M1BS-014379587010_01_P001.IMD")
    assert hdds.datetime.replace(microsecond=0) == imd.datetime.replace(microsecond=0)
    assert abs(hdds.cloud_cover - imd.cloud_cover) <= 0.5  # 2 % (rounded) vs fraction 0.018


def test_planet_xml_cloud_is_the_json_fraction() -> None:
    xml = _read(P + "20181001_015434_1027_3B_AnalyticMS_metadata.xml")
    js = _read("planet_json/20181001_015434_1027_metadata.json")
    assert xml.cloud_cover == js.cloud_cover == pytest.approx(13.0)
    assert abs(xml.center_lat - js.center_lat) < 1e-3 and abs(xml.center_lon - js.center_lon) < 1e-3


def test_planet_json_is_not_stac_and_stub_dates_parse() -> None:
    path = METADATA_DIR / "planet_json/20181001_015433_1027_metadata.json"
    stac_like = path.read_text().replace('"type": "Feature"', '"stac_version": "1.0.0", '
                                         '"type": "Feature"')
    assert not get_reader("planet_json").sniff(Document(path, stac_like.encode()))
    anon = path.read_text().replace("2018-10-01T01:54:33.408883Z", "2029-01-01T00:00:00Z")
    anon = anon.replace("20181001_015433_1027", "XXXX")
    rec = read_metadata(path, anon.encode())[0]
    assert rec.id == "XXXX" and rec.datetime.year == 2029


def test_roscosmos_moscow_time_dms_and_lost_sign() -> None:
    rec = _read(R + "fr_0041_0102_29609_1_09725_03_ORT_40_K.xml")
    assert rec.extra["time_zone"].startswith("Moscow")
    assert abs(solar_elevation(rec.datetime, rec.center_lat, rec.center_lon) - rec.sun_elevation) < 1
    assert rec.sun_elevation == pytest.approx(61 + 27 / 60 + 41.205827 / 3600)
    lats = [p[1] for p in rec.footprint["coordinates"][0]]
    assert max(lats) < 0  # 0:20:27 and 0:30:35 are south of the equator
    assert rec.extra["spacecraft_code"] == "41"  # not the Resurs-P number


def test_roscosmos_pasp_uses_utc_fields_and_cyrillic_names() -> None:
    rec = _read(R + "KV5_15173_15173_01_3NP2_08_ORT_S_262214_210921.xml")
    assert rec.datetime == datetime(2021, 9, 21, 9, 11, tzinfo=UTC)  # local 12:11 Moscow
    assert rec.extra["model_name"] == "Канопус-В №5"
    assert rec.sun_elevation == pytest.approx(74.873814934947)


def test_isro_time_only_centre_and_misspelled_azimuth() -> None:
    rec = _read("isro_txt/203660031_P_MET.TXT")
    assert rec.datetime.date().isoformat() == "2018-12-28"  # DateOfPass=28DEC18
    liss = "isro_txt/RS2A_LISS3_203660011__BAND_META.txt"
    misspelled = _variant(liss, "SunAzimuthAtCenter=", "SunAziumthAtCenter=")
    assert misspelled.sun_azimuth == pytest.approx(59.889207)


def test_alos_date_only_and_cloud_rank() -> None:
    path = "alos_summary/ALPSMF013934330__summary.txt"
    rec = _read(path)
    assert rec.extra["datetime_precision"] == "day"
    assert _variant(path, 'Img_CloudQuantityOfAllImage="0"',
                    'Img_CloudQuantityOfAllImage="3"').cloud_cover == 30.0
    assert _variant(path, 'Img_CloudQuantityOfAllImage="0"',
                    'Img_CloudQuantityOfAllImage="99"').cloud_cover is None


def test_satellogic_axis_order_and_scrambled_bbox() -> None:
    rec = _read("satellogic_xml/20240314_172620_SN30_L1_SR_MS_metadata_iso.xml")
    w, s, e, n = rec.bbox
    assert w < rec.center_lon < e and s < rec.center_lat < n and e - w < 0.2 and n - s < 0.2
    assert "capture time" in rec.extra["datetime_source"]


def test_dimap_centre_located_values_and_platform_index() -> None:
    pneo = _read(D2 + "DIM_PNEO4_202307260722045_PMS_ORT_PWOI_000115104_1_1_F_1.XML")
    assert pneo.sun_elevation == pytest.approx(40.9502503756138)  # Center listed first
    phr = _read(D2 + "DIM_PHR1A_PMS_202108151541301_ORT_5881313101.XML")
    assert phr.sun_elevation == pytest.approx(71.26746896645534)  # Center listed second
    assert _read(D1 + "DIM_VIS1_MS4_20210114224140_ORTP_S105354_1e08_Meta.xml").platform == (
        "vision-1")  # MISSION=S1 INDEX=4
    assert "pan" in _read(D2 + "DIM_PER1_20170307150657_ORT_P_000041.XML").extra["gsd_note"]


def test_kompsat_takes_the_multispectral_block() -> None:
    rec = _read("kompsat_aux_xml/K3A_20210113132915_32047_00039626_L1G_Aux.xml")
    assert rec.extra["band_block"] == "MS1" and rec.gsd_m == 2.2  # PAN would be 0.55


def test_crlf_variant_parses_the_same() -> None:
    for relpath in ("usgs_hdds_txt/GE01N12_496847E032_7762872021091400000000MS00_DU001002003.txt",
                    "isro_txt/RS2A_LISS3_203660011__BAND_META.txt"):
        data = (METADATA_DIR / relpath).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        crlf = read_metadata(METADATA_DIR / relpath, data)[0]
        assert crlf.model_dump(exclude={"source"}) == _read(relpath).model_dump(exclude={"source"})


def test_my_sniffers_reject_every_other_file() -> None:
    readers = [get_reader(name) for name in MY_READERS]
    for relpath in relpaths():
        folder = relpath.split("/")[0]
        if folder in MY_FOLDERS:
            continue
        doc = Document(METADATA_DIR / relpath)
        claimed = [r.name for r in readers if r.sniff(doc)]
        assert not claimed, f"{relpath} claimed by {claimed}"
