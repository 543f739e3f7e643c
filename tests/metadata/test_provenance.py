"""Values the file does not state are marked in the record (``provenance``) and in STAC."""

from __future__ import annotations

import datetime as dt

import pytest

from terrahash.metadata import SceneRecord, read_metadata
from terrahash.metadata.record import polygon
from terrahash.metadata.stac import record_to_stac
from tests.metadata.expected import METADATA_DIR

SAFE = "sentinel2_safe_manifest"


def _one(folder: str, name: str = "") -> SceneRecord:
    path = next(p for p in sorted((METADATA_DIR / folder).iterdir()) if name in p.name)
    return read_metadata(path)[0]


@pytest.mark.parametrize(("folder", "name", "want"), [
    # a nominal MSI GSD (the manifest states no pixel size), the centre from the footprint
    (SAFE, "", {"gsd_m": "nominal", "center_lat": "derived", "center_lon": "derived"}),
    ("modis_ecs_xml", "", {"gsd_m": "nominal", "center_lat": "derived", "center_lon": "derived"}),
    # the scene time is the midpoint of the stated imaging window
    ("vrss_xml", "", {"datetime": "derived"}),
    # stated GSD, stated centre, stated time: nothing marked
    ("cresda_xml", "", {}),
    ("landsat_mtl", "LC08_L2SP_047027", {"center_lat": "derived", "center_lon": "derived"}),
])
def test_real_files_mark_what_they_do_not_state(folder: str, name: str, want: dict[str, str]) -> None:
    record = _one(folder, name)
    assert record.provenance == want
    for field in want:
        assert getattr(record, field) is not None
    assert type(record.gsd_m) in (float, type(None))  # the marker types do not leak


def test_stated_values_are_unmarked_and_stac_lists_the_marked_ones() -> None:
    stated = SceneRecord(center_lat=1.0, center_lon=2.0, datetime=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert stated.provenance == {}
    derived = SceneRecord(footprint=polygon([(0, 0), (2, 0), (2, 2), (0, 2)]),
                          datetime=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert derived.provenance == {"center_lat": "derived", "center_lon": "derived"}
    props = record_to_stac(_one("modis_ecs_xml"), "m").properties
    assert props["terrahash:nominal"] == ["gsd_m"]
    assert props["terrahash:derived"] == ["center_lat", "center_lon"]
    assert SceneRecord.from_json_dict(derived.to_json_dict()) == derived  # round trip
    with pytest.raises(ValueError, match="provenance 'gsd_m': 'guessed'"):
        SceneRecord(provenance={"gsd_m": "guessed"})
