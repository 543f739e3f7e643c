"""The record model: units fixed at the boundary, round trips, STAC out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from terrahash.metadata.platforms import normalize_platform
from terrahash.metadata.record import SceneRecord, footprint_center, polygon
from terrahash.metadata.stac import record_to_stac

REQUIRED_KEYS = {
    "source", "format", "id", "platform", "instrument", "processing_level", "datetime", "center_lat",
    "center_lon", "footprint", "gsd_m", "cloud_cover", "sun_elevation", "sun_azimuth", "view_angle", "bands",
}


def _record(**kw) -> SceneRecord:
    base = dict(
        source="x.xml", format="test", id="S1", platform="gf-2",
        datetime=datetime(2020, 5, 11, 1, 3, 20, tzinfo=timezone(timedelta(hours=8))),
        footprint=polygon([(-91.2, 17.4), (-90.8, 17.4), (-90.8, 17.8), (-91.2, 17.8)]),
        gsd_m=3.24, cloud_cover=12.0, sun_elevation=70.0, sun_azimuth=100.0,
    )
    base.update(kw)
    return SceneRecord(**base)


def test_json_view_has_the_contract_keys_and_utc_z() -> None:
    data = _record().to_json_dict()
    assert set(data) >= REQUIRED_KEYS
    assert data["datetime"] == "2020-05-10T17:03:20Z"
    assert data["center_lon"] == pytest.approx(-91.0) and data["center_lat"] == pytest.approx(17.6)


def test_round_trip_is_lossless() -> None:
    rec = _record(extra={"wrs_path": 12}, bands=["B1", "B2"])
    assert SceneRecord.from_json_dict(rec.to_json_dict()) == rec


@pytest.mark.parametrize(
    "field,value",
    [("cloud_cover", 101.0), ("cloud_cover", -1.0), ("center_lat", 91.0), ("sun_elevation", 95.0)],
)
def test_out_of_range_values_are_rejected(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        _record(**{field: value, "center_lon": 0.0} if field == "center_lat" else {field: value})


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        _record(datetime=datetime(2020, 1, 1))


def test_footprint_must_be_lon_lat() -> None:
    with pytest.raises(ValidationError, match="lon/lat"):
        _record(footprint=polygon([(500000.0, 4000000.0), (500100.0, 4000000.0), (500100.0, 4000100.0)]))


def test_antimeridian_centre() -> None:
    lon, lat = footprint_center(polygon([(179.5, -16.0), (-179.5, -16.0), (-179.5, -17.0), (179.5, -17.0)]))
    assert abs(abs(lon) - 180.0) < 1e-9 and lat == pytest.approx(-16.5)


@pytest.mark.parametrize(
    "raw,number,expected",
    [
        ("LANDSAT_8", None, "landsat-8"), ("Sentinel-2A", None, "sentinel-2a"), ("GF2", None, "gf-2"),
        ("CBERS", "4A", "cbers-4a"), ("SPOT", "7", "spot-7"), ("PHR", "1A", "pleiades-1a"),
        ("WV02", None, "worldview-2"), ("PlanetScope", None, "planetscope"), ("GE01", None, "geoeye-1"),
        ("Канопус-В №5", None, "kanopus-v-5"), ("KOMPSAT-3A", None, "kompsat-3a"),
        ("CAS500-1", None, "cas500-1"),
        (None, None, None), ("  ", None, None),
    ],
)
def test_platform_normalisation(raw: str | None, number: str | None, expected: str | None) -> None:
    assert normalize_platform(raw, number) == expected


def test_stac_item_is_valid_and_uses_stac_names() -> None:
    pytest.importorskip("jsonschema")
    item = record_to_stac(_record(epsg=32615, view_angle=-5.0))
    data = item.to_dict()
    props = data["properties"]
    assert props["datetime"] == "2020-05-10T17:03:20Z"
    assert props["platform"] == "gf-2" and props["gsd"] == 3.24
    assert props["eo:cloud_cover"] == 12.0 and props["view:sun_elevation"] == 70.0
    assert props["proj:code"] == "EPSG:32615" or props.get("proj:epsg") == 32615
    assert data["bbox"] == pytest.approx([-91.2, 17.4, -90.8, 17.8])
    assert any("eo" in ext for ext in data["stac_extensions"])


def test_stac_needs_a_time() -> None:
    with pytest.raises(ValueError, match="datetime"):
        record_to_stac(_record(datetime=None))


def test_datetime_is_normalised_to_utc() -> None:
    rec = _record(datetime=datetime(2020, 1, 1, 12, tzinfo=UTC))
    assert rec.datetime.tzinfo == UTC
