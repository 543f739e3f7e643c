"""The service as a STAC API: pystac-client against a running server, and the rules of
stac-api-validator (core, collections, features, item-search) checked one by one.

stac-api-validator itself fetches its JSON schemas from the internet, so its rules are
written out here; schema checks use pystac's bundled core schemas (offline).
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pystac.validation
import pytest
import uvicorn
from pystac_client import Client

from terrahash.data.dataset import SceneItem
from terrahash.index.items import record_bbox, record_interval
from terrahash.service import create_app
from terrahash.service.engine import collection_id
from terrahash.service.stac_api import CONFORMANCE
from tests.service.conftest import build_index, class_codes

COLLECTION = "sample-scenes"
EOLEARN = "TestEOPatch_2015-08-20_r000_c000"
#: Six of the nine eo-learn tile centres (Slovenia), and three of their five dates.
BBOX = (14.555, 45.867, 14.562, 45.874)
DATETIME = "2015-07-20T00:00:00Z/2015-09-01T00:00:00Z"


@pytest.fixture(scope="module")
def stac_index(tmp_path_factory: pytest.TempPathFactory, items: list[SceneItem]) -> Path:
    path = tmp_path_factory.mktemp("stac") / "index"
    return build_index(path, items, class_codes(items), collection=COLLECTION)


@pytest.fixture(scope="module")
def url(stac_index: Path) -> Iterator[str]:
    """The service under uvicorn on a free port, in a thread of this process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(stac_index), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def brute_force(items: list[SceneItem], bbox: tuple[float, ...] | None = None,
                datetime: tuple[dt.datetime, dt.datetime] | None = None) -> list[str]:
    """Ids passing bbox/datetime, by direct comparison with each record, in index order."""
    out = []
    for item in items:
        record = item.record.to_json_dict() if item.record else None
        if bbox is not None:
            box = record_bbox(record)
            if box is None or box[2] < bbox[0] or box[0] > bbox[2] or box[3] < bbox[1] or box[1] > bbox[3]:
                continue
        if datetime is not None:
            start, end = record_interval(record)
            if start is None or end is None or end < datetime[0] or start > datetime[1]:
                continue
        out.append(item.id)
    return out


def in_box_and_time(items: list[SceneItem]) -> list[str]:
    interval = (dt.datetime(2015, 7, 20, tzinfo=dt.UTC), dt.datetime(2015, 9, 1, tzinfo=dt.UTC))
    return brute_force(items, BBOX, interval)


# -- pystac-client ----------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_pystac_client_searches_and_pages(url: str, items: list[SceneItem], method: str) -> None:
    client = Client.open(url)
    assert client.conforms_to("ITEM_SEARCH") and client.conforms_to("COLLECTIONS")
    search = client.search(bbox=BBOX, datetime=DATETIME, collections=[COLLECTION], limit=4,
                           method=method)
    pages = list(search.pages_as_dicts())
    want = in_box_and_time(items)
    assert len(want) > 8 and len(pages) == -(-len(want) // 4) >= 2
    assert all(len(p["features"]) <= 4 and p["numberMatched"] == len(want) for p in pages)
    got = [item.id for item in search.items()]
    assert got == want  # every page, in index order, nothing twice
    assert search.matched() == len(want)
    # An unpaged search finds the same; a filter on another collection finds nothing.
    assert [i.id for i in client.search(bbox=BBOX, datetime=DATETIME, limit=1000,
                                        method=method).items()] == want
    assert list(client.search(collections=["other"], method=method).items()) == []


def test_pystac_client_collections_and_items(url: str, items: list[SceneItem]) -> None:
    client = Client.open(url)
    collections = list(client.get_collections())
    assert [c.id for c in collections] == [COLLECTION]
    collection = client.get_collection(COLLECTION)
    (west, south, east, north), = collection.extent.spatial.bboxes
    assert west <= BBOX[0] + 0.01 and north >= BBOX[3] - 0.01 and south < north
    start, end = collection.extent.temporal.intervals[0]
    assert start is not None and end is not None and start.year == end.year == 2015
    assert [i.id for i in collection.get_items()] == [it.id for it in items]  # paged, 10 a page
    item = collection.get_item(EOLEARN)
    assert item is not None and item.datetime == dt.datetime(2015, 8, 20, 10, 7, 28, tzinfo=dt.UTC)


# -- the validator's rules --------------------------------------------------------------------
def link(body: dict, rel: str, method: str | None = None) -> dict:
    found = [lk for lk in body["links"]
             if lk["rel"] == rel and (method is None or lk.get("method") == method)]
    assert found, f"no {rel} link"
    return found[0]


def test_landing_page_and_conformance(url: str) -> None:
    landing = httpx.get(url + "/", headers={"Accept": "application/json"})
    assert landing.headers["content-type"].startswith("application/json")
    body = landing.json()
    assert body["type"] == "Catalog" and body["id"] and body["description"] and body["stac_version"]
    assert set(CONFORMANCE) <= set(body["conformsTo"])
    assert httpx.get(link(body, "conformance")["href"]).json()["conformsTo"] == body["conformsTo"]
    for rel in ("self", "root"):
        assert link(body, rel)["href"].rstrip("/") == url
    assert link(body, "data")["href"] == f"{url}/collections"
    for method in ("GET", "POST"):
        assert link(body, "search", method)["href"] == f"{url}/search"
    spec = httpx.get(link(body, "service-desc")["href"])
    assert "openapi" in link(body, "service-desc")["type"]
    assert {"/", "/conformance", "/collections", "/collections/{collection_id}/items", "/search"} <= set(
        spec.json()["paths"])
    assert httpx.get(link(body, "service-doc")["href"]).status_code == 200
    assert link(body, "child")["href"] == f"{url}/collections/{COLLECTION}"


def test_collections_follow_the_schema(url: str) -> None:
    listing = httpx.get(f"{url}/collections").json()
    assert link(listing, "self")["href"] == f"{url}/collections" and link(listing, "root")
    for collection in listing["collections"]:
        pystac.validation.validate_dict(collection)  # core schema, bundled with pystac
        assert collection["license"] and collection["extent"]["temporal"]["interval"]
        one = httpx.get(link(collection, "self")["href"]).json()
        assert one == collection
        assert link(one, "items")["href"] == f"{url}/collections/{COLLECTION}/items"
        assert link(one, "root")["href"].rstrip("/") == url
    assert httpx.get(f"{url}/collections/nope").status_code == 404
    assert httpx.get(f"{url}/collections/nope/items").status_code == 404


def test_features_items_and_links(url: str, items: list[SceneItem]) -> None:
    page = httpx.get(f"{url}/collections/{COLLECTION}/items", params={"limit": 5})
    assert page.status_code == 200 and page.headers["content-type"].startswith("application/geo+json")
    body = page.json()
    assert body["type"] == "FeatureCollection" and body["numberReturned"] == 5
    assert body["numberMatched"] == len(items)
    assert link(body, "self") and link(body, "collection")
    second = httpx.get(link(body, "next")["href"]).json()
    assert [f["id"] for f in body["features"] + second["features"]] == [it.id for it in items[:10]]
    filtered = httpx.get(f"{url}/collections/{COLLECTION}/items",
                         params={"bbox": ",".join(map(str, BBOX)), "datetime": DATETIME, "limit": 100})
    assert [f["id"] for f in filtered.json()["features"]] == in_box_and_time(items)
    item = httpx.get(f"{url}/collections/{COLLECTION}/items/{EOLEARN}").json()
    pystac.validation.validate_dict({**item, "stac_extensions": []})  # core Item schema
    assert item["collection"] == COLLECTION
    assert httpx.get(link(item, "self")["href"]).json()["id"] == EOLEARN
    assert httpx.get(link(item, "collection")["href"]).json()["id"] == COLLECTION
    assert httpx.get(link(item, "parent")["href"]).json()["id"] == COLLECTION
    assert httpx.get(link(item, "root")["href"]).json()["type"] == "Catalog"
    assert httpx.get(f"{url}/collections/{COLLECTION}/items/no_such_item").status_code == 404


def test_search_get_and_post_agree(url: str, items: list[SceneItem]) -> None:
    cases = [
        ({"bbox": ",".join(map(str, BBOX))}, {"bbox": list(BBOX)}),
        ({"datetime": DATETIME}, {"datetime": DATETIME}),
        ({"ids": f"agricultural00,{EOLEARN}"}, {"ids": ["agricultural00", EOLEARN]}),
        ({"collections": COLLECTION, "bbox": ",".join(map(str, BBOX)), "datetime": DATETIME},
         {"collections": [COLLECTION], "bbox": list(BBOX), "datetime": DATETIME}),
    ]
    for query, body in cases:
        get = httpx.get(f"{url}/search", params={**query, "limit": 200}).json()
        post = httpx.post(f"{url}/search", json={**body, "limit": 200}).json()
        assert [f["id"] for f in get["features"]] == [f["id"] for f in post["features"]], query
        assert get["features"] and all(f["collection"] == COLLECTION for f in get["features"])
        for feature in get["features"]:
            if feature["properties"]["datetime"]:
                pystac.validation.validate_dict({**feature, "stac_extensions": []})
    ids = httpx.get(f"{url}/search", params={"ids": f"{EOLEARN},agricultural00"}).json()
    assert [f["id"] for f in ids["features"]] == [EOLEARN, "agricultural00"]


def test_intersects_equals_the_same_box(url: str, items: list[SceneItem]) -> None:
    w, s, e, n = BBOX
    polygon = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    by_shape = httpx.post(f"{url}/search", json={"intersects": polygon, "limit": 100}).json()
    assert [f["id"] for f in by_shape["features"]] == brute_force(items, BBOX)
    triangle = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [w, n], [w, s]]]}
    fewer = httpx.post(f"{url}/search", json={"intersects": triangle, "limit": 100}).json()
    assert 0 < fewer["numberMatched"] < by_shape["numberMatched"]
    both = httpx.post(f"{url}/search", json={"intersects": polygon, "bbox": list(BBOX)})
    assert both.status_code == 400 and "intersects" in both.json()["detail"]


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1.5"])
def test_limit_bounds(url: str, limit: str, items: list[SceneItem]) -> None:
    for r in (httpx.get(f"{url}/search", params={"limit": limit}),
              httpx.post(f"{url}/search", json={"limit": limit}),
              httpx.get(f"{url}/collections/{COLLECTION}/items", params={"limit": limit})):
        assert r.status_code == 400 and "limit" in r.json()["detail"]
    # Above the maximum, STAC API asks for the maximum rather than an error.
    for big in ("10000", "100000"):
        r = httpx.get(f"{url}/search", params={"limit": big})
        assert r.status_code == 200 and r.json()["numberReturned"] == len(items)


@pytest.mark.parametrize(("name", "value"), [
    ("bbox", "1,2,3"), ("bbox", "0,50,10,40"), ("datetime", "2020-13-01T00:00:00Z"), ("datetime", "../.."),
    # what stac-api-validator sends: not RFC 3339, though Python's ISO parser reads some of them
    ("datetime", "1985-04-12"), ("datetime", "1937-01-01T12:00:27.87+0100"),
    ("datetime", "1985-04-12T23:20:50.Z"), ("datetime", "1985-04-12T23:20:50,52Z"),
    ("token", "x"), ("intersects", '{"type": "Blob"}')])
def test_bad_parameters_are_400(url: str, name: str, value: str) -> None:
    posted = json.loads(value) if name == "intersects" else value
    for r in (httpx.get(f"{url}/search", params={name: value}),
              httpx.post(f"{url}/search", json={name: posted})):
        assert r.status_code == 400 and name in r.json()["detail"], r.text


def test_post_bbox_is_an_array(url: str) -> None:
    r = httpx.post(f"{url}/search", json={"bbox": "100.0, 0.0, 105.0, 1.0"})
    assert r.status_code == 400 and "bbox" in r.json()["detail"]


def test_openapi_media_type(url: str) -> None:
    oai = "application/vnd.oai.openapi+json;version=3.0"
    assert httpx.get(f"{url}/openapi.json", headers={"Accept": oai}).headers["content-type"] == oai
    assert httpx.get(f"{url}/openapi.json").headers["content-type"] == "application/json"


# -- the similarity extension -----------------------------------------------------------------
def follow(url: str, method: str, first: dict) -> list[dict]:
    """Every page of a search, following ``next`` links as a STAC client does."""
    if method == "GET":
        page = httpx.get(f"{url}/search", params=first).json()
    else:
        page = httpx.post(f"{url}/search", json=first).json()
    pages = [page]
    while nxt := [lk for lk in page["links"] if lk["rel"] == "next"]:
        assert nxt[0]["method"] == method
        if method == "GET":
            page = httpx.get(nxt[0]["href"]).json()
        else:
            page = httpx.post(nxt[0]["href"], json=nxt[0]["body"]).json()
        pages.append(page)
    return pages


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_similarity_in_rank_order_and_paged(url: str, method: str) -> None:
    query = {"id": EOLEARN} if method == "GET" else {"similar_to": {"id": EOLEARN}}
    whole = follow(url, method, {**query, "limit": 12, "platform": "sentinel-2a"})[0]
    props = [f["properties"] for f in whole["features"]]
    assert props[0]["terrahash:distance"] == 0 and [p["terrahash:rank"] for p in props] == list(range(1, 13))
    distances = [p["terrahash:distance"] for p in props]
    assert distances == sorted(distances)
    pages = follow(url, method, {**query, "limit": 4, "platform": "sentinel-2a"})
    assert len(pages) == 12  # the 45 sentinel-2a items: 11 full pages and one of 1
    ranked = [f["id"] for p in pages for f in p["features"]]
    assert len(ranked) == 45 and ranked[:12] == [f["id"] for f in whole["features"]]
    assert [f["properties"]["terrahash:rank"] for f in pages[1]["features"]] == [5, 6, 7, 8]


def test_similarity_queries_and_errors(url: str) -> None:
    same = httpx.post(f"{url}/search", json={"id": EOLEARN, "k": 5}).json()
    ext = httpx.post(f"{url}/search", json={"similar_to": {"id": EOLEARN}, "limit": 5}).json()
    assert [f["id"] for f in same["features"]] == [f["id"] for f in ext["features"]]
    other = httpx.post(f"{url}/search", json={"similar_to": {"id": EOLEARN}, "collections": ["other"]})
    assert other.status_code == 200 and other.json()["features"] == []
    # a land cover is answered from the indexed labels; a prompt of metadata words needs the model
    text = httpx.post(f"{url}/search", json={"similar_to": {"text": "sentinel-2a august 2015"}})
    assert text.status_code == 503 and "model run" in text.json()["detail"]  # this index has no model
    for body in ({"similar_to": {}}, {"similar_to": {"id": EOLEARN}, "text": "forest"},
                 {"similar_to": {"id": EOLEARN}, "ids": [EOLEARN]}, {"k": 5}):
        r = httpx.post(f"{url}/search", json=body)
        assert r.status_code == 400, body
    assert httpx.get(f"{url}/search", params={"k": 5}).status_code == 400


def test_collection_name_comes_from_the_manifest() -> None:
    assert collection_id({"collection": "s2 tiles"}, "/x/index") == "s2-tiles"
    assert collection_id({"dataset": "/data/scenes/eolearn_slovenia"}, "/x/index") == "eolearn_slovenia"
    assert collection_id({}, "/x/my-index") == "my-index"


def test_stac_api_validator_passes(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """stac-api-validator's own rules for core, collections, features and item-search, paging
    included. Its JSON schema downloads are refused at once (a dead proxy: the tests never use
    the internet); the schema checks are the pystac ones above."""
    validations = pytest.importorskip("stac_api_validator.validations")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    w, s, e, n = BBOX
    polygon = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    _, errors = validations.validate_api(
        root_url=url, ccs_to_validate=["core", "collections", "features", "item-search"],
        collection=COLLECTION, geometry=json.dumps(polygon), auth_bearer_token=None,
        auth_query_parameter=None, fields_nested_property=None, validate_pagination=True,
        query_config=validations.QueryConfig(*[None] * 13), transaction_collection=None, headers={},
        open_assets_urls=False,
    )
    schema_hosts = ("schemas.stacspec.org", "stac-extensions.github.io")
    assert errors.errors, "expected the schema downloads to be refused"
    real = [msg for _, msg in errors.errors if not any(host in msg for host in schema_hosts)]
    assert real == []
