"""The map page's endpoints: the offline basemap, the archive's coverage and "why this match"."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from terrahash.data import default_data_dir, load_dataset
from terrahash.data.dataset import SceneItem
from terrahash.index import Index
from terrahash.service import create_app
from terrahash.service.basemap import topology_features
from terrahash.service.coverage import CELL_ITEMS, Coverage
from tests.service.conftest import build_index, class_codes

EOLEARN = "TestEOPatch_2015-08-20_r000_c000"
#: The same place 20 days earlier, and the patch 32 pixels (320 m at 10 m) east of EOLEARN.
EARLIER = "TestEOPatch_2015-07-31_r000_c000"
EAST = "TestEOPatch_2015-08-20_r000_c032"


def _located(items: list[SceneItem]) -> list[SceneItem]:
    return [it for it in items if it.record is not None and it.record.center_lat is not None]


@pytest.fixture(scope="module")
def map_items(items: list[SceneItem]) -> list[SceneItem]:
    """eo-learn points (Slovenia), BigEarthNet boxes (Europe), UC Merced without coordinates."""
    return items + list(load_dataset(default_data_dir() / "scenes" / "bigearthnet_s2_examples"))


@pytest.fixture(scope="module")
def map_index(tmp_path_factory: pytest.TempPathFactory, map_items: list[SceneItem]) -> Path:
    return build_index(tmp_path_factory.mktemp("mapapi") / "index", map_items, class_codes(map_items))


@pytest.fixture(scope="module")
def client(map_index: Path) -> Iterator[TestClient]:
    with TestClient(create_app(map_index)) as c:
        yield c


def _inside(lon: float, lat: float, ring: list[list[float]]) -> bool:
    """Ray casting: is (lon, lat) inside the closed ring?"""
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _rings(geometry: dict[str, Any]) -> list[list[list[float]]]:
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    return [polygon[0] for polygon in polygons]


def test_basemap_is_natural_earth_countries_with_caching(client: TestClient) -> None:
    r = client.get("/basemap/countries.geojson")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    assert "max-age" in r.headers["cache-control"]
    countries = {f["properties"]["name"]: f["geometry"] for f in r.json()["features"]}
    assert len(countries) >= 170
    ljubljana, vienna = (14.5058, 46.0569), (16.3738, 48.2082)
    assert any(_inside(*ljubljana, ring) for ring in _rings(countries["Slovenia"]))
    assert not any(_inside(*vienna, ring) for ring in _rings(countries["Slovenia"]))
    assert any(_inside(*vienna, ring) for ring in _rings(countries["Austria"]))
    for geometry in countries.values():
        assert all(ring[0] == ring[-1] and len(ring) >= 4 for ring in _rings(geometry))
    again = client.get("/basemap/countries.geojson", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_topojson_decoding_of_quantised_and_reversed_arcs() -> None:
    topology = {
        "transform": {"scale": [0.5, 0.25], "translate": [10.0, 40.0]},
        # arc 0: (0,0) -> (4,0) -> (4,4); arc 1: (4,4) -> (0,4); arc 2 (reused reversed): (0,0) -> (0,4)
        "arcs": [[[0, 0], [4, 0], [0, 4]], [[4, 4], [-4, 0]], [[0, 0], [0, 4]]],
        "objects": {"shapes": {"type": "GeometryCollection", "geometries": [
            {"type": "Polygon", "arcs": [[0, 1, ~2]], "id": "7", "properties": {"name": "square"}},
            {"type": "MultiPolygon", "arcs": [[[0, 1, ~2]]], "properties": {"name": "multi"}},
        ]}},
    }
    features = topology_features(topology, "shapes")["features"]
    square = [[10.0, 40.0], [12.0, 40.0], [12.0, 41.0], [10.0, 41.0], [10.0, 40.0]]
    assert features[0]["geometry"] == {"type": "Polygon", "coordinates": [square]}
    assert features[0]["id"] == "7" and features[0]["properties"] == {"name": "square"}
    assert features[1]["geometry"] == {"type": "MultiPolygon", "coordinates": [[square]]}


def test_index_footprints_are_the_located_items(map_index: Path, map_items: list[SceneItem]) -> None:
    with Index.open(map_index) as index:
        ids, boxes = index.footprints()
    located = {it.id: it.record for it in _located(map_items)}
    assert sorted(ids) == sorted(located) and boxes.shape == (len(located), 4)
    for item_id, (w, s, e, n) in zip(ids, boxes, strict=True):
        record = located[item_id]
        assert record is not None and record.center_lon is not None and record.center_lat is not None
        assert w - 1e-4 <= record.center_lon <= e + 1e-4 and s - 1e-4 <= record.center_lat <= n + 1e-4


def test_coverage_clusters_dense_cells_and_lists_sparse_footprints(
    client: TestClient, map_items: list[SceneItem]
) -> None:
    located = _located(map_items)
    body = client.get("/coverage").json()
    assert body["total"] == body["matched"] == len(located) and body["items"] == len(map_items)
    clusters = [f["properties"]["count"] for f in body["features"] if "count" in f["properties"]]
    singles = [f for f in body["features"] if "id" in f["properties"]]
    assert body["clustered"] and sum(clusters) + len(singles) == len(located)
    assert all(c > CELL_ITEMS for c in clusters)
    w, s, e, n = body["extent"]
    assert all(w <= it.record.center_lon <= e and s <= it.record.center_lat <= n  # type: ignore[union-attr, operator]
               for it in located)

    # zoomed in on Ireland: the two BigEarthNet boxes there are footprints of their own
    ireland = client.get("/coverage", params={"bbox": "-11,51,-5,55.5"}).json()
    assert not ireland["clustered"] and ireland["matched"] == 2
    assert {f["geometry"]["type"] for f in ireland["features"]} == {"Polygon"}

    # the Slovenian patches: 9 places x 5 dates; a cluster per place lists its 5 ids
    slovenia = client.get("/coverage", params={"bbox": "14.54,45.86,14.57,45.89"}).json()
    assert slovenia["matched"] == 45
    listed = [i for f in slovenia["features"] for i in f["properties"].get("ids", [])]
    assert sorted(listed) == sorted(it.id for it in located if it.id.startswith("TestEOPatch"))

    everything_clustered = client.get("/coverage", params={"limit": 1}).json()
    assert all("count" in f["properties"] for f in everything_clustered["features"])
    pacific = client.get("/coverage", params={"bbox": "170,-10,-170,10"}).json()
    assert pacific["matched"] == 0 and pacific["features"] == []


@pytest.mark.parametrize("bbox", ["14,45", "a,b,c,d", "10,50,20,40", "200,0,210,10"])
def test_coverage_bad_bbox_is_400(client: TestClient, bbox: str) -> None:
    r = client.get("/coverage", params={"bbox": bbox})
    assert r.status_code == 400 and "bbox" in r.json()["detail"]


def test_coverage_of_an_index_without_coordinates(tmp_path: Path, items: list[SceneItem]) -> None:
    ucm = [it for it in items if it not in _located(items)]
    with TestClient(create_app(build_index(tmp_path / "ucm", ucm, class_codes(ucm)))) as c:
        body = c.get("/coverage").json()
    assert body == {"type": "FeatureCollection", "total": 0, "matched": 0, "extent": None,
                    "clustered": False, "features": [], "items": len(ucm)}


def test_explain_agrees_with_the_search(client: TestClient, map_items: list[SceneItem]) -> None:
    when = {it.id: it.record.datetime for it in map_items if it.record is not None}
    found = client.get("/search", params={"id": EOLEARN, "k": 60, "rerank": "false"}).json()["features"]
    distances = {f["id"]: f["properties"]["terrahash:distance"] for f in found}
    why = client.get("/explain", params={"id": EOLEARN, "item": EARLIER}).json()
    assert why["distance"] == distances[EARLIER] and why["bits"] == 64
    assert why["taxonomy"]["same_class"] and why["taxonomy"]["shared_path"][-1]["name"] == "forest"
    meta = why["metadata"]
    assert meta["platform"] == {"query": "sentinel-2a", "result": "sentinel-2a", "same": True}
    query_time, result_time = when[EOLEARN], when[EARLIER]
    assert query_time is not None and result_time is not None
    assert meta["days_apart"] == round((query_time - result_time).total_seconds() / 86400, 2)
    assert 20 <= meta["days_apart"] < 20.1  # 2015-08-20 vs 2015-07-31
    assert meta["gsd_m"]["same"] is True and meta["centre_distance_km"] == pytest.approx(0.0, abs=0.01)

    east = client.get("/explain", params={"id": EOLEARN, "item": EAST}).json()
    assert east["metadata"]["centre_distance_km"] == pytest.approx(0.32, abs=0.01)
    assert east["metadata"]["days_apart"] == 0


def test_explain_across_classes_and_without_a_query(client: TestClient) -> None:
    why = client.get("/explain", params={"id": EOLEARN, "item": "agricultural00"}).json()
    tax = why["taxonomy"]
    assert not tax["same_class"] and tax["shared_depth"] == 0
    assert [n["id"] for n in tax["shared_path"]] == ["root"]
    assert tax["result_path"][1]["name"] == "Agricultural areas"
    assert why["metadata"]["centre_distance_km"] is None and why["metadata"]["platform"]["same"] is None
    alone = client.get("/explain", params={"item": EOLEARN}).json()
    assert alone["query"] is None and alone["distance"] is None and alone["taxonomy"]["query_path"] is None
    assert alone["metadata"]["platform"]["result"] == "sentinel-2a"
    assert alone["taxonomy"]["result_path"][-1]["name"] == "forest"


@pytest.mark.parametrize(("params", "status"), [
    ({"item": "no-such-item"}, 404),
    ({"item": EOLEARN, "id": "no-such-item"}, 404),
    ({"item": "../etc/passwd"}, 400),
    ({}, 422),
])
def test_explain_errors(client: TestClient, params: dict[str, str], status: int) -> None:
    r = client.get("/explain", params=params)
    assert r.status_code == status and "detail" in r.json()


def test_coverage_object_grid_is_stable_and_complete() -> None:
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(-30, 40, 2000), rng.uniform(30, 70, 2000)
    boxes = np.stack([lon, lat, lon + 0.1, lat + 0.1], axis=1)
    cover = Coverage([f"i{k}" for k in range(2000)], boxes)
    body = cover.geojson((-30.0, 30.0, 40.0, 70.0))
    counts = [f["properties"].get("count", 1) for f in body["features"]]
    assert body["clustered"] and sum(counts) == 2000 and len(body["features"]) < 200
    for f in body["features"]:
        if "cell" in f["properties"]:
            cw, cs, ce, cn = f["properties"]["cell"]
            x, y = f["geometry"]["coordinates"]
            assert cw <= x <= ce and cs <= y <= cn and math.isclose(ce - cw, 10.0)


def test_coverage_finds_footprints_across_the_antimeridian_from_either_side() -> None:
    """A footprint across 180 degrees is stored unwrapped (east past 180); a viewport on either
    side of the line, or across it, meets it, as a brute-force test on the sphere says."""
    from terrahash.index.items import record_bbox

    fiji = record_bbox({"footprint": {"type": "Polygon", "coordinates": [[
        [179.5, -17.0], [-179.5, -17.0], [-179.5, -16.0], [179.5, -16.0], [179.5, -17.0]]]}})
    assert fiji is not None and fiji[2] > 180  # as both catalogs store it
    away = (10.0, -17.0, 11.0, -16.0)
    cover = Coverage(["fiji", "away"], np.array([fiji, away], dtype=np.float64))

    def on_sphere(view: tuple[float, float, float, float]) -> set[str]:
        lons = np.arange(-180.0, 180.0, 0.05)  # points of the view's longitude span
        inside = (lons >= view[0]) & (lons <= view[2]) if view[0] <= view[2] else (
            (lons >= view[0]) | (lons <= view[2]))
        out = set()
        for name, (w, s, e, n) in (("fiji", fiji), ("away", away)):
            covered = ((lons >= w) & (lons <= e)) | ((lons + 360 >= w) & (lons + 360 <= e))
            if (inside & covered).any() and s <= view[3] and n >= view[1]:
                out.add(name)
        return out

    for view in [(-179.9, -20.0, -175.0, -10.0), (175.0, -20.0, 179.9, -10.0), (170.0, -20.0, -170.0, -10.0),
                 (0.0, -20.0, 20.0, -10.0), (-170.0, -20.0, 170.0, -10.0), (-179.9, 0.0, -175.0, 10.0)]:
        got = {f["id"] for f in cover.geojson(view)["features"]}
        assert got == on_sphere(view), view
