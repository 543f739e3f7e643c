"""HTTP API over an index of real items with hand-made class codes (no model run)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from terrahash.data.dataset import SceneItem
from terrahash.index import Index
from terrahash.service import create_app
from terrahash.service.params import MAX_K
from tests.service.conftest import class_codes

EOLEARN = "TestEOPatch_2015-08-20_r000_c000"


@pytest.fixture(scope="module")
def client(index_dir: Path) -> TestClient:
    return TestClient(create_app(index_dir, max_body_bytes=200_000), raise_server_exceptions=False)


def ids_of(body: dict) -> list[str]:
    return [f["id"] for f in body["features"]]


def png_bytes(size: tuple[int, int] = (32, 32)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (40, 120, 60)).save(buf, format="PNG")
    return buf.getvalue()


def test_health(client: TestClient, items: list[SceneItem]) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["items"] == len(items)
    assert body["bits"] == 64
    assert body["model_run"] is None
    assert "sentinel-2a" in body["platforms"]
    assert "forest" in body["labels"]


def test_search_by_id_returns_item_collection(client: TestClient, items: list[SceneItem]) -> None:
    r = client.get("/search", params={"id": EOLEARN, "k": 10})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    body = r.json()
    assert body["type"] == "FeatureCollection"
    assert body["numberReturned"] == len(body["features"]) == 10
    assert body["took_ms"] >= 0
    first = body["features"][0]
    assert first["id"] == EOLEARN and first["properties"]["terrahash:distance"] == 0
    distances = [f["properties"]["terrahash:distance"] for f in body["features"]]
    assert distances == sorted(distances)
    # Codes were made per class, so the nearest neighbours share the query's label.
    label = next(it.label for it in items if it.id == EOLEARN)
    assert all(f["properties"]["terrahash:label"] == label for f in body["features"][:3])
    assert first["stac_version"] and first["properties"]["datetime"] == "2015-08-20T10:07:28Z"
    assert first["assets"]["thumbnail"]["href"].endswith(f"/items/{EOLEARN}/thumbnail")
    assert "terrahash:source" not in first["properties"]  # no server paths leak


def test_json_search_by_id_equals_get(client: TestClient) -> None:
    a = client.get("/search", params={"id": EOLEARN, "k": 7}).json()
    b = client.post("/search", json={"id": EOLEARN, "k": 7}).json()
    assert ids_of(a) == ids_of(b)


def test_multipart_search_by_id(client: TestClient) -> None:
    r = client.post("/search", data={"id": EOLEARN, "k": "3"}, files={"unused": ("x", b"")})
    assert r.status_code == 200, r.text
    assert len(r.json()["features"]) == 3


def test_get_item_and_thumbnail(client: TestClient, items: list[SceneItem]) -> None:
    ucm = next(it for it in items if it.id == "agricultural00")
    item = client.get("/items/agricultural00").json()
    assert item["type"] == "Feature" and item["id"] == "agricultural00"
    assert item["properties"]["gsd"] == pytest.approx(0.3048)
    assert item["properties"]["datetime"] is None  # unknown, not invented
    thumb = client.get("/items/agricultural00/thumbnail")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert thumb.content == ucm.path.read_bytes()
    png = client.get(f"/items/{EOLEARN}/thumbnail")
    assert png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size == (32, 32)


@pytest.mark.parametrize(
    ("params", "check"),
    [
        ({"datetime": "2015-08-20T00:00:00Z/2015-08-21T00:00:00Z"},
         lambda f: f["properties"]["datetime"].startswith("2015-08-20")),
        ({"datetime": "../2015-08-25"}, lambda f: f["properties"]["datetime"] < "2015-08-25"),
        ({"datetime": "2015-08-25/.."}, lambda f: f["properties"]["datetime"] >= "2015-08-25"),
        ({"datetime": "2015-08-30"}, lambda f: f["properties"]["datetime"].startswith("2015-08-30")),
        ({"bbox": "14.55,45.87,14.556,45.88"}, lambda f: 14.55 <= f["bbox"][0] <= 14.556),
        ({"platform": "Sentinel-2A"}, lambda f: f["properties"]["platform"] == "sentinel-2a"),
        ({"gsd_max": "1"}, lambda f: f["properties"]["gsd"] <= 1),
        ({"gsd_min": "5", "gsd_max": "20"}, lambda f: 5 <= f["properties"]["gsd"] <= 20),
        ({"cloud_max": "50"}, lambda f: f["properties"]["eo:cloud_cover"] <= 50),
        ({"label": "beach"}, lambda f: f["properties"]["terrahash:label"] == "beach"),
    ],
)
def test_filters(client: TestClient, items: list[SceneItem], params: dict, check) -> None:
    body = client.get("/search", params={"id": EOLEARN, "k": 200, **params}).json()
    assert body["features"], f"filter {params} left nothing"
    assert all(check(f) for f in body["features"])
    unfiltered = client.get("/search", params={"id": EOLEARN, "k": 200}).json()
    assert len(body["features"]) < len(unfiltered["features"])
    # The filtered ranking is the unfiltered one restricted to the matching ids.
    kept = set(ids_of(body))
    assert ids_of(body) == [i for i in ids_of(unfiltered) if i in kept]


def test_filters_in_multipart_and_json_agree(client: TestClient) -> None:
    q = {"id": EOLEARN, "k": 50, "datetime": "2015-08-25/..", "platform": ["sentinel-2a"]}
    get = client.get("/search", params=q).json()
    js = client.post("/search", json=q).json()
    form = client.post("/search", data={k: str(v) if not isinstance(v, list) else v
                                        for k, v in q.items()},
                       files={"unused": ("x", b"")}).json()
    assert ids_of(get) == ids_of(js) == ids_of(form) and get["features"]


def test_platform_list_forms(client: TestClient) -> None:
    comma = client.get("/search", params={"id": EOLEARN, "k": 100, "platform": "landsat-8,sentinel-2a"})
    repeated = client.get("/search", params=[("id", EOLEARN), ("k", "100"),
                                             ("platform", "landsat-8"), ("platform", "sentinel-2a")])
    none = client.get("/search", params={"id": EOLEARN, "k": 100, "platform": "landsat-8"})
    assert ids_of(comma.json()) == ids_of(repeated.json()) and len(ids_of(comma.json())) == 45
    assert none.json()["features"] == []


# -- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [0, -1, MAX_K + 1])
def test_k_bounds(client: TestClient, k: int) -> None:
    for r in (client.get("/search", params={"id": EOLEARN, "k": k}),
              client.post("/search", json={"id": EOLEARN, "k": k}),
              client.post("/search", data={"id": EOLEARN, "k": str(k)}, files={"u": ("x", b"")})):
        assert r.status_code == 422, r.text
        assert isinstance(r.json()["detail"], list)


def test_k_max_allowed(client: TestClient, items: list[SceneItem]) -> None:
    r = client.get("/search", params={"id": EOLEARN, "k": MAX_K})
    assert r.status_code == 200 and len(r.json()["features"]) == len(items)


@pytest.mark.parametrize(
    "value",
    ["2020-13-01", "yesterday", "2020-01-01T00:00:00", "../..", "2021-01-01/2020-01-01",
     "2020-01-01/2020-02-01/2020-03-01"],
)
def test_bad_datetime_interval(client: TestClient, value: str) -> None:
    r = client.get("/search", params={"id": EOLEARN, "datetime": value})
    assert r.status_code == 400
    assert r.json()["detail"].startswith("datetime")


@pytest.mark.parametrize("value", ["1,2,3", "a,b,c,d", "0,50,10,40", "0,-91,1,1", "200,0,201,1"])
def test_bad_bbox(client: TestClient, value: str) -> None:
    r = client.get("/search", params={"id": EOLEARN, "bbox": value})
    assert r.status_code == 400 and "bbox" in r.json()["detail"]


@pytest.mark.parametrize(
    "item_id", ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "/etc/passwd", "a\\b", "x" * 300]
)
def test_traversal_ids_refused(client: TestClient, item_id: str) -> None:
    for path in (f"/items/{item_id}", f"/items/{item_id}/thumbnail"):
        r = client.get(path)
        assert r.status_code in (400, 404), (path, r.status_code)
        assert "detail" in r.json()
        assert b"root:" not in r.content
    assert client.get("/search", params={"id": "../../etc/passwd"}).status_code == 400


def test_unknown_id_is_404(client: TestClient) -> None:
    for r in (client.get("/items/no_such_item"), client.get("/items/no_such_item/thumbnail"),
              client.get("/search", params={"id": "no_such_item"})):
        assert r.status_code == 404 and "no_such_item" in r.json()["detail"]


def test_body_limit_413(client: TestClient) -> None:
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * 300_000
    r = client.post("/search", files={"image": ("big.png", big, "image/png")})
    assert r.status_code == 413
    assert "limit" in r.json()["detail"]


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` (a bomb's header; pixels never come)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [9000, 20_000, 100_000])
def test_decompression_bomb_refused(client: TestClient, side: int) -> None:
    # 9000^2 is over our limit but under Pillow's 2x bomb error; the others raise in Pillow.
    r = client.post("/search", files={"image": ("bomb.png", png_header_only(side, side), "image/png")})
    assert r.status_code == 413
    assert "bomb.png" in r.json()["detail"]


@pytest.mark.parametrize(
    ("name", "data"),
    [("x.png", b"GIF89a" + b"\0" * 64), ("x.png", b"%PDF-1.4 hello"), ("x.png", b""),
     ("x.jpg", b"\xff\xd8\xff\xe0 truncated")],
)
def test_bad_image_type(client: TestClient, name: str, data: bytes) -> None:
    r = client.post("/search", files={"image": (name, data, "image/png")})
    assert r.status_code == 400
    assert name in r.json()["detail"]


def test_xxe_metadata_refused(client: TestClient, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xxe = (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
           "<r><a>&x;</a></r>").encode()
    laughs = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
              b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>')
    for payload in (xxe, laughs):
        r = client.post("/search", files={"metadata": ("meta.xml", payload, "text/xml")})
        assert r.status_code == 400, r.text
        assert "meta.xml" in r.json()["detail"] and "TOP-SECRET" not in r.text


def test_unreadable_metadata(client: TestClient) -> None:
    r = client.post("/search", files={"metadata": ("m.txt", b"hello world", "text/plain")})
    assert r.status_code == 400 and "m.txt" in r.json()["detail"]


def test_query_kind_errors(client: TestClient) -> None:
    assert client.post("/search", json={"k": 5}).status_code == 400
    assert client.post("/search", json={"text": "x", "id": EOLEARN}).status_code == 400
    assert client.post("/search", json={"text": "x", "bogus": 1}).status_code == 422
    r = client.post("/search", data={"text": "x", "id": EOLEARN}, files={"u": ("x", b"")})
    assert r.status_code == 400
    r = client.post("/search", content=b"k=5", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    r = client.post("/search", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_model_queries_need_a_model_run(client: TestClient) -> None:
    r = client.post("/search", files={"image": ("q.png", png_bytes(), "image/png")})
    assert r.status_code == 503 and "model run" in r.json()["detail"]
    assert client.post("/search", json={"text": "sentinel-2a august 2015"}).status_code == 503
    # a land cover needs no model: the majority code of the indexed items labelled under it
    r = client.post("/search", json={"text": "forest", "k": 5})
    assert r.status_code == 200, r.text
    assert r.json()["terrahash:query"]["concept"]["source"] == "items"
    assert all("forest" in f["properties"]["terrahash:labels"] for f in r.json()["features"])


def test_errors_are_json_never_tracebacks(client: TestClient) -> None:
    for r in (client.get("/nope"), client.put("/search"), client.get("/search", params={"limit": "x"})):
        assert r.headers["content-type"] == "application/json"
        assert "detail" in r.json() and "Traceback" not in r.text


def test_openapi_and_docs(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/health", "/search", "/items/{item_id}", "/items/{item_id}/thumbnail",
                 "/admin/reload"):
        assert path in spec["paths"], path
    content = spec["paths"]["/search"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= set(content)
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/search" in docs.text
    assert "cdn" not in docs.text.lower() and "http://" not in docs.text and "https://" not in docs.text


def test_web_page_and_static_assets(client: TestClient) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    for page in (client.get("/map"), client.get("/", headers=browser)):
        assert page.status_code == 200 and "static/vendor/leaflet/leaflet.js" in page.text
        assert page.headers["content-type"].startswith("text/html")
        assert "http" not in page.text  # no CDN
    # Everyone else (STAC clients, curl) gets the STAC API landing page.
    for accept in ("*/*", "application/json", "text/html;q=0.5,application/json"):
        assert client.get("/", headers={"Accept": accept}).json()["type"] == "Catalog", accept
    for asset in ("static/app.js", "static/app.css", "static/vendor/leaflet/leaflet.js",
                  "static/vendor/leaflet/leaflet.css", "static/vendor/leaflet/LICENSE"):
        assert client.get(f"/{asset}").status_code == 200, asset
    assert client.get("/static/../engine.py").status_code == 404


def test_cors_off_by_default_and_configurable(index_dir: Path) -> None:
    off = TestClient(create_app(index_dir, warm=False))
    r = off.get("/health", headers={"Origin": "http://example.org"})
    assert "access-control-allow-origin" not in r.headers
    on = TestClient(create_app(index_dir, warm=False, cors_origins=["http://example.org"]))
    r = on.get("/health", headers={"Origin": "http://example.org"})
    assert r.headers["access-control-allow-origin"] == "http://example.org"
    r = on.get("/health", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_admin_reload_and_token(index_dir: Path) -> None:
    app = create_app(index_dir, warm=False, admin_token="s3cret")
    before = app.state.holder.current
    for host in ("203.0.113.9", "127.0.0.1"):  # with a token, loopback needs it too
        client = TestClient(app, client=(host, 50000))
        assert client.post("/admin/reload").status_code == 401
        wrong = client.post("/admin/reload", headers={"Authorization": "Bearer s3cre"})
        assert wrong.status_code == 401 and "admin token required" in wrong.json()["detail"]
    r = TestClient(app, client=("203.0.113.9", 50000)).post(
        "/admin/reload", headers={"Authorization": "Bearer s3cret"})
    assert r.status_code == 200 and r.json()["reloads"] == 1
    assert app.state.holder.current is not before


@pytest.mark.parametrize(("host", "status"), [
    ("127.0.0.1", 200), ("::1", 200), ("::ffff:127.0.0.1", 200), ("127.8.9.10", 200),
    ("203.0.113.9", 403), ("2001:db8::1", 403), ("::ffff:10.0.0.1", 403), ("testclient", 403),
])
def test_admin_without_a_token_is_loopback_only(index_dir: Path, host: str, status: int) -> None:
    app = create_app(index_dir, warm=False)
    r = TestClient(app, client=(host, 50000)).post("/admin/reload")
    assert r.status_code == status, r.text
    if status == 403:
        assert "loopback" in r.json()["detail"] and app.state.holder.reloads == 0
    else:
        assert app.state.holder.reloads == 1


def test_missing_index_is_a_clear_error(tmp_path: Path) -> None:
    from terrahash.errors import TerraHashError

    with pytest.raises(TerraHashError, match=str(tmp_path / "nothing")):
        create_app(tmp_path / "nothing")


def test_body_limit_413_without_content_length(client: TestClient) -> None:
    """A chunked body (no Content-Length) is counted as it streams in."""

    def chunks():  # noqa: ANN202 - generator
        boundary = b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.png\"\r\n\r\n"
        yield boundary
        for _ in range(40):
            yield b"\0" * 10_000

    r = client.post("/search", content=chunks(),
                    headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 413 and "limit" in r.json()["detail"]


@pytest.fixture(scope="module")
def rerank_client(tmp_path_factory: pytest.TempPathFactory, items: list[SceneItem]) -> TestClient:
    """The same items with stored embeddings too (no model: id queries re-rank by their own)."""
    path = tmp_path_factory.mktemp("svc_rerank") / "index"
    vectors = np.random.default_rng(5).normal(size=(len(items), 16))
    with Index.create(path, bits=64) as index:
        index.add([it.id for it in items], class_codes(items), records=[it.record for it in items],
                  labels=[list(it.labels) for it in items], embeddings=vectors)
    return TestClient(create_app(path), raise_server_exceptions=False)


def test_rerank_parameter_and_scores(rerank_client: TestClient) -> None:
    def search(method: str, **params: object) -> dict:
        if method == "get":
            r = rerank_client.get("/search", params={"id": EOLEARN, "k": 12, **params})
        elif method == "json":
            r = rerank_client.post("/search", json={"id": EOLEARN, "k": 12, **params})
        else:
            r = rerank_client.post("/search", data={"id": EOLEARN, "k": "12", **{k: str(v).lower()
                                   for k, v in params.items()}}, files={"unused": ("x", b"")})
        assert r.status_code == 200, r.text
        return r.json()

    on = search("get")
    props = [f["properties"] for f in on["features"]]
    assert on["terrahash:query"]["rerank"] is True and ids_of(on)[0] == EOLEARN
    assert props[0]["terrahash:score"] == 1.0  # its own stored vector
    scores = [p["terrahash:score"] for p in props]
    assert scores == sorted(scores, reverse=True)
    off = search("get", rerank="false")
    assert off["terrahash:query"]["rerank"] is False
    assert all("terrahash:score" not in f["properties"] for f in off["features"])
    distances = [f["properties"]["terrahash:distance"] for f in off["features"]]
    assert distances == sorted(distances) and ids_of(off) != ids_of(on)
    for method in ("json", "form"):
        assert ids_of(search(method)) == ids_of(on)
        assert ids_of(search(method, rerank=False)) == ids_of(off)
