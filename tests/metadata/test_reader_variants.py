"""Regression tests for format variants found in sibling files of the shared samples.

The third-party files are not committed: each test writes a minimal synthetic snippet that
reproduces the variant's structure, with values copied from the real file named in its comment
(repository + path). The snippets are written to ``tmp_path`` and read like any user file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from terrahash.metadata import read_metadata
from terrahash.metadata.record import format_datetime


def _read_one(tmp_path: Path, name: str, content: str, encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(content.encode(encoding))
    records = read_metadata(path)
    assert len(records) == 1
    return records[0]


# Terradue/Stars src/Stars.Data.Tests/Resources/ROSCOSMOS/KANOPUS-V/Call 638 (Vietnam_typhoon)/
# 4565_13_Vietnam/fr_KV1_25721_25719_01_3NP2_08_ORT_S_292315_071117.xml: the CSGeoRef corners span
# 41.3 km x 119.3 km while the matrix is 1920 x 64025 pixels (21.5 m across, 1.9 m along), so no
# pixel size can be derived from them.
KV1_PASP = """<?xml version ="1.0" encoding="windows-1251"?>
<PASP_ROOT>
cModelTxtName = "Канопус-В"
tSessionTime = 7:39:18.778641
dSessionDate = 11/3/2017
dSessionDateUTC = 11/3/2017
tSessionTimeUTC = 4:39:18.778641
cProcLevel = "3B"
bSunAngle = 69.8760194877651, 167.299711240964
<Device>
cDeviceName = "MSS1"
</Device>
<Matrix>
nWidth = 1920
nHeight = 64025
</Matrix>
<Geo>
<CSGeoRef>
nLUpLat = 16.1820887341836
nLUpLon = 108.008693959538
nRUpLat = 16.1871735961478
nRUpLon = 108.394930702684
nRDownLat = 15.1094929153242
nRDownLon = 108.408545046052
nLDownLat = 15.1047627670711
nLDownLon = 108.02432000228
nLUpNord = 1791405.81033501
nLUpEast = 180123.335147817
nRUpNord = 1791405.81033501
nRUpEast = 221458.895147817
nRDownNord = 1672079.22033501
nRDownEast = 221458.895147817
nLDownNord = 1672079.22033501
nLDownEast = 180123.335147817
</CSGeoRef>
<GeoCoding>
nCoordSystCode = 32649
</GeoCoding>
</Geo>
</PASP_ROOT>
"""


def test_pasp_grid_spacing_that_disagrees_along_and_across_is_unknown(tmp_path: Path) -> None:
    rec = _read_one(tmp_path, "kv1.xml", KV1_PASP, encoding="cp1251")
    assert rec.platform == "kanopus-v"
    # d/m/Y: 11 March 2017 (sun elevation 69.9 deg at 16 N fits March, not 3 November).
    assert format_datetime(rec.datetime.replace(microsecond=0)) == "2017-03-11T04:39:18Z"
    assert rec.center_lat == pytest.approx(15.6459, abs=1e-3)
    assert rec.center_lon == pytest.approx(108.2091, abs=1e-3)
    assert rec.gsd_m is None
    assert rec.cloud_cover is None


def test_pasp_square_grid_still_gives_its_spacing(tmp_path: Path) -> None:
    # Terradue/Stars .../KANOPUS-V/KVIK/data/KVIK_PSS_MSS_28472_02_United_Kingdom_191122/
    # fr_KVIK_28474_28472_02_3NP2_83_ORT_S_381110_191122.xml: 16333.42 m / 1494 px = 10.93 m,
    # 22777.08 m / 2083 px = 10.93 m.
    text = (
        KV1_PASP.replace("nWidth = 1920", "nWidth = 1494")
        .replace("nHeight = 64025", "nHeight = 2083")
        .replace("nRUpEast = 221458.895147817", "nRUpEast = 196456.755147817")
        .replace("nLDownNord = 1672079.22033501", "nLDownNord = 1768628.73033501")
    )
    rec = _read_one(tmp_path, "kvik.xml", text, encoding="cp1251")
    assert rec.gsd_m == pytest.approx(10.93, abs=0.01)


# Terradue/Stars .../ROSCOSMOS/KANOPUS-V/Call 638 (Vietnam_typhoon)/25719_01_Vietnam/
# 0041_0102_24448_1_04565_13_10.xml: a level-1 Resurs-P Geoton passport without nPixelImg.
RESURS_L1_SPP = """<?xml version="1.0" encoding="Windows-1251"?>
<SPP_ROOT>
    <nNumberKA>41</nNumberKA>
    <cCodeKA>RSP</cCodeKA>
    <Passport>
        <cDeviceName>GEOTONP</cDeviceName>
    </Passport>
    <Geographic>
        <aNWLat>12:29:31.497948</aNWLat>
        <aNWLong>109:02:26.686652</aNWLong>
        <aNELat>12:25:31.738880</aNELat>
        <aNELong>109:23:55.023216</aNELong>
        <aSELat>11:59:8.287913</aSELat>
        <aSELong>109:18:22.970079</aSELong>
        <aSWLat>12:03:7.725832</aSWLat>
        <aSWLong>108:56:56.986022</aSWLong>
        <aMidLat>12:14:21.342053</aMidLat>
        <aMidLong>109:10:13.717815</aMidLong>
    </Geographic>
    <Normal>
        <nWidth>45000</nWidth>
        <nHeight>63023</nHeight>
        <dSceneDate>07/11/2017</dSceneDate>
        <tSceneTime>05:54:11.875159</tSceneTime>
        <aSunAzim>141:46:30.702536</aSunAzim>
        <aSunElevC>52:35:16.288375</aSunElevC>
        <nPixelImgSrc>0.837725826993749</nPixelImgSrc>
        <cLevel>1</cLevel>
    </Normal>
</SPP_ROOT>
"""


def test_spp_level1_uses_the_source_pixel_size(tmp_path: Path) -> None:
    rec = _read_one(tmp_path, "resurs_l1.xml", RESURS_L1_SPP, encoding="cp1251")
    assert rec.platform == "resurs-p"
    # Moscow time (morning sun azimuth 141.8 deg at 109 E): 05:54 MSK = 02:54 UTC.
    assert format_datetime(rec.datetime.replace(microsecond=0)) == "2017-11-07T02:54:11Z"
    assert rec.center_lat == pytest.approx(12.2393, abs=1e-3)
    assert rec.center_lon == pytest.approx(109.1705, abs=1e-3)
    assert rec.gsd_m == pytest.approx(0.8377, abs=1e-3)


def _modis_granule(short_name: str) -> str:
    # Structure, range and corners of ../shared/data/metadata/modis_ecs_xml/
    # MOD11A1.A2022041.h19v02.061.2022042095544.hdf.xml (stactools-packages/modis
    # tests/data-files/, same name); only ShortName changes, to the product names of its sibling
    # fixtures MOD16A3GF.A2021001.h11v02..., MYD17A3HGF.A2021001.h13v09..., MOD21A2.A2022033...,
    # MOD44W.A2015001.h10v04... that the GSD table did not know.
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<GranuleMetaDataFile>
  <GranuleURMetaData>
    <CollectionMetaData>
      <ShortName>{short_name}</ShortName>
      <VersionID>61</VersionID>
    </CollectionMetaData>
    <RangeDateTime>
      <RangeEndingTime>23:59:59.000000</RangeEndingTime>
      <RangeEndingDate>2022-02-10</RangeEndingDate>
      <RangeBeginningTime>00:00:00.000000</RangeBeginningTime>
      <RangeBeginningDate>2022-02-10</RangeBeginningDate>
    </RangeDateTime>
    <SpatialDomainContainer><HorizontalSpatialDomainContainer><GPolygon><Boundary>
      <Point><PointLongitude>29.2258896838867</PointLongitude><PointLatitude>69.9958333333333</PointLatitude></Point>
      <Point><PointLongitude>58.4638857623766</PointLongitude><PointLatitude>69.9958333333333</PointLatitude></Point>
      <Point><PointLongitude>40.0017186954599</PointLongitude><PointLatitude>60.0041666666667</PointLatitude></Point>
      <Point><PointLongitude>19.9967129261449</PointLongitude><PointLatitude>60.0041666666667</PointLatitude></Point>
    </Boundary></GPolygon></HorizontalSpatialDomainContainer></SpatialDomainContainer>
    <Platform>
      <PlatformShortName>Terra</PlatformShortName>
      <Instrument><InstrumentShortName>MODIS</InstrumentShortName></Instrument>
    </Platform>
  </GranuleURMetaData>
</GranuleMetaDataFile>
"""


@pytest.mark.parametrize(
    ("short_name", "gsd"),
    [
        ("MOD16A3GF", 500.0),
        ("MYD17A3HGF", 500.0),
        ("MOD21A2", 1000.0),
        ("MOD44W", 250.0),
        ("MOD10A1F", 500.0),
        ("MOD13C1", 5600.0),
    ],
)
def test_modis_gap_filled_and_other_products_have_their_grid(
    tmp_path: Path, short_name: str, gsd: float
) -> None:
    rec = _read_one(tmp_path, f"{short_name}.hdf.xml", _modis_granule(short_name))
    assert rec.platform == "terra"
    assert format_datetime(rec.datetime) == "2022-02-10T00:00:00Z"
    assert rec.gsd_m == gsd


# Terradue/Stars .../KARI/KOMPSAT-3/L1G/data/K3_20160924182455_23243_19350803_L1G/
# K3_20160924182455_23243_19350803_L1G_Aux.xml: the 2016 (PMS V2.12) layout puts CloudCover
# inside each band block and spells the view angle ``Offnadir``.
K3_2016_AUX = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Auxiliary>
  <General>
    <Satellite>KOMPSAT-3</Satellite>
    <Sensor>AEISS</Sensor>
    <ProductLevel>Level1G</ProductLevel>
  </General>
  <Metadata><MetadataBlock>
    <SunAngle><Azimuth>315.267408546</Azimuth><Elevation>48.252430851</Elevation></SunAngle>
  </MetadataBlock></Metadata>
  <Image>
    <MS1>
      <ImagingTime>
        <ImagingCenterTime><UTC>20160924182517.9757537</UTC></ImagingCenterTime>
      </ImagingTime>
      <ImagingCoordinates>
        <ImageGeogCenter><Latitude>-26.405806189</Latitude><Longitude>-70.403599959</Longitude></ImageGeogCenter>
        <ImageGeogTL><Latitude>-26.315331831</Latitude><Longitude>-70.508669632</Longitude></ImageGeogTL>
        <ImageGeogTR><Latitude>-26.317408515</Latitude><Longitude>-70.296373051</Longitude></ImageGeogTR>
        <ImageGeogBL><Latitude>-26.494109346</Latitude><Longitude>-70.510996679</Longitude></ImageGeogBL>
        <ImageGeogBR><Latitude>-26.496202293</Latitude><Longitude>-70.298372883</Longitude></ImageGeogBR>
      </ImagingCoordinates>
      <Angle><Offnadir>10.751261100</Offnadir></Angle>
      <CloudCover><Average>0</Average></CloudCover>
      <CollectedGSD><Column>2.996</Column><Row>2.924</Row></CollectedGSD>
      <ImageGSD><Column>2.800</Column><Row>2.800</Row></ImageGSD>
    </MS1>
  </Image>
</Auxiliary>
"""


def test_kompsat3_2016_layout(tmp_path: Path) -> None:
    rec = _read_one(tmp_path, "k3_aux.xml", K3_2016_AUX)
    assert rec.platform == "kompsat-3"
    assert format_datetime(rec.datetime.replace(microsecond=0)) == "2016-09-24T18:25:17Z"
    assert rec.center_lat == pytest.approx(-26.4058, abs=1e-3)
    assert rec.center_lon == pytest.approx(-70.4036, abs=1e-3)
    assert rec.cloud_cover == 0.0
    assert rec.gsd_m == pytest.approx(2.8)
    assert rec.view_angle == pytest.approx(10.7513, abs=1e-3)


# Real GA/ASA Landsat 7 MTL quoted in a public test module (L71092085_08520100315_MTL.txt from
# LS7_ETM_OTH_P51_GALPGS01_092_085_20100315): the GDAL-era keys (ACQUISITION_DATE,
# SCENE_CENTER_SCAN_TIME, PRODUCT_*_CORNER_*) on a geographic ``EQR`` grid, so the cell sizes
# are degrees (0.00025), not metres.
L7_EQR_MTL = """GROUP = L1_METADATA_FILE
  GROUP = PRODUCT_METADATA
    PRODUCT_TYPE = "L1T"
    SPACECRAFT_ID = "Landsat7"
    SENSOR_ID = "ETM+"
    ACQUISITION_DATE = 2010-03-15
    SCENE_CENTER_SCAN_TIME = 23:55:11.6634891Z
    WRS_PATH = 92
    STARTING_ROW = 85
    PRODUCT_UL_CORNER_LAT = -35.0700000
    PRODUCT_UL_CORNER_LON = 144.8700000
    PRODUCT_UR_CORNER_LAT = -35.0700000
    PRODUCT_UR_CORNER_LON = 147.5900000
    PRODUCT_LL_CORNER_LAT = -37.0000000
    PRODUCT_LL_CORNER_LON = 144.8700000
    PRODUCT_LR_CORNER_LAT = -37.0000000
    PRODUCT_LR_CORNER_LON = 147.5900000
  END_GROUP = PRODUCT_METADATA
  GROUP = PRODUCT_PARAMETERS
    SUN_AZIMUTH = 53.7730377
    SUN_ELEVATION = 41.5610274
  END_GROUP = PRODUCT_PARAMETERS
  GROUP = PROJECTION_PARAMETERS
    REFERENCE_DATUM = "WGS84"
    GRID_CELL_SIZE_PAN = 0.0001250
    GRID_CELL_SIZE_THM = 0.0005000
    GRID_CELL_SIZE_REF = 0.0002500
    MAP_PROJECTION = "EQR"
  END_GROUP = PROJECTION_PARAMETERS
END_GROUP = L1_METADATA_FILE
END
"""


def test_landsat_mtl_on_a_degree_grid_reports_the_nominal_gsd(tmp_path: Path) -> None:
    rec = _read_one(tmp_path, "L71092085_08520100315_MTL.txt", L7_EQR_MTL)
    assert rec.platform == "landsat-7"
    assert format_datetime(rec.datetime) == "2010-03-15T23:55:11.663489Z"
    assert rec.center_lat == pytest.approx(-36.035)
    assert rec.center_lon == pytest.approx(146.23)
    assert rec.cloud_cover is None
    assert rec.gsd_m == 30.0
    assert rec.extra["grid_cell_size_degrees"] == pytest.approx(0.00025)
    assert rec.epsg is None


def test_landsat_mtl_metre_grid_is_unchanged(tmp_path: Path) -> None:
    text = L7_EQR_MTL.replace("0.0002500", "25.000").replace('"EQR"', '"UTM"')
    rec = _read_one(tmp_path, "L7_ortho_MTL.txt", text)
    assert rec.gsd_m == 25.0
    assert "grid_cell_size_degrees" not in rec.extra


# SPOT Scene level-1A ``METADATA.DIM`` (DIMAP 1.1) as delivered for SPOT 1-5: no map grid and no
# resolution element; only the camera mode (SENSOR_CODE J = SPOT 5 HRG multispectral, 10 m).
# Values from the SPOT 5 HRG scene quoted in a public reader's source (IMAGING 2005-12-08
# 07:23:55, HRG1), corners shortened.
SPOT5_DIM = """<?xml version="1.0" encoding="ISO-8859-1"?>
<Dimap_Document name="METADATA.DIM">
  <Metadata_Id>
    <METADATA_FORMAT version="1.1">DIMAP</METADATA_FORMAT>
    <METADATA_PROFILE>SPOTSCENE_1A</METADATA_PROFILE>
  </Metadata_Id>
  <Dataset_Frame>
    <Vertex><FRAME_LON>36.361553</FRAME_LON><FRAME_LAT>-2.648484</FRAME_LAT></Vertex>
    <Vertex><FRAME_LON>36.919306</FRAME_LON><FRAME_LAT>-2.759546</FRAME_LAT></Vertex>
    <Vertex><FRAME_LON>36.800789</FRAME_LON><FRAME_LAT>-3.310264</FRAME_LAT></Vertex>
    <Vertex><FRAME_LON>36.242641</FRAME_LON><FRAME_LAT>-3.198874</FRAME_LAT></Vertex>
    <Scene_Center><FRAME_LON>36.581050</FRAME_LON><FRAME_LAT>-2.979316</FRAME_LAT></Scene_Center>
  </Dataset_Frame>
  <Dataset_Sources><Source_Information><Scene_Source>
    <IMAGING_DATE>2005-12-08</IMAGING_DATE>
    <IMAGING_TIME>07:23:55</IMAGING_TIME>
    <MISSION>SPOT</MISSION>
    <MISSION_INDEX>5</MISSION_INDEX>
    <INSTRUMENT>HRG</INSTRUMENT>
    <INSTRUMENT_INDEX>1</INSTRUMENT_INDEX>
    <SENSOR_CODE>{code}</SENSOR_CODE>
    <SUN_AZIMUTH>117.4</SUN_AZIMUTH>
    <SUN_ELEVATION>61.1</SUN_ELEVATION>
  </Scene_Source></Source_Information></Dataset_Sources>
  <Data_Processing><PROCESSING_LEVEL>1A</PROCESSING_LEVEL></Data_Processing>
</Dimap_Document>
"""


@pytest.mark.parametrize(("code", "gsd"), [("J", 10.0), ("A", 5.0), ("Q", None)])
def test_spot5_scene_dimap_without_grid_uses_the_camera_mode(
    tmp_path: Path, code: str, gsd: float | None
) -> None:
    rec = _read_one(tmp_path, "METADATA.DIM", SPOT5_DIM.format(code=code))
    assert rec.platform == "spot-5"
    assert format_datetime(rec.datetime) == "2005-12-08T07:23:55Z"
    assert rec.center_lat == pytest.approx(-2.979316)
    assert rec.center_lon == pytest.approx(36.58105)
    assert rec.gsd_m == gsd


# Planet Data API SkySatScene item JSON: provider ``skysat`` and a satellite serial that names the
# satellite, like the SkySat STAC items of the shared samples (platform ``SSC1`` -> skysat-c1).
SKYSAT_JSON = """{
  "type": "Feature",
  "id": "20200423_180426_ssc4d2_0009",
  "geometry": {"type": "Polygon", "coordinates": [[[-97.75, 30.27], [-97.70, 30.27],
    [-97.70, 30.23], [-97.75, 30.23], [-97.75, 30.27]]]},
  "properties": {
    "acquired": "2020-04-23T18:04:26.25Z",
    "item_type": "SkySatScene",
    "provider": "skysat",
    "satellite_id": "SSC4",
    "cloud_cover": 0.05,
    "gsd": 0.86,
    "sun_elevation": 60.1
  }
}
"""


def test_planet_json_skysat_names_the_satellite(tmp_path: Path) -> None:
    rec = _read_one(tmp_path, "20200423_180426_ssc4d2_0009_metadata.json", SKYSAT_JSON)
    assert rec.format == "planet_json"
    assert rec.platform == "skysat-c4"
    assert rec.cloud_cover == pytest.approx(5.0)
    assert rec.gsd_m == pytest.approx(0.86)


def test_zy3_unit_spellings_share_one_platform_id() -> None:
    from terrahash.metadata.platforms import normalize_platform

    assert normalize_platform("ZY3-1") == normalize_platform("ZY301") == "zy-3-01"
    assert normalize_platform("ZY3-2") == "zy-3-02"


def test_platform_ids_are_stable_under_renormalisation() -> None:
    # Readers may return an id they already normalised (Planet SkySat serials); the record
    # builder normalises again, which must change nothing.
    from terrahash.metadata.platforms import _ALIASES, normalize_platform

    for stac_id in set(_ALIASES.values()) | {"skysat-c4", "meteor-m-2", "pleiades-neo-4"}:
        assert normalize_platform(stac_id) == stac_id
