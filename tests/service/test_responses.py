"""The service's JSON encoder: byte-for-byte the standard library's compact output, valid on NaN."""

from __future__ import annotations

import json
import math
from pathlib import Path

from terrahash.service.responses import FastJSONResponse


def _stdlib(content: object) -> bytes:
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def test_same_bytes_as_the_standard_encoder() -> None:
    body = {
        "type": "FeatureCollection",
        "features": [{"id": "harbor33", "bbox": [-122.41, 37.8, -122.4, 37.81], "properties": {
            "datetime": None, "terrahash:score": 0.123456789, "title": "Zürich – 東京", "n": 3,
            "ok": True, "labels": ("harbor",)}}],
        "numberMatched": 1,
    }
    assert FastJSONResponse(body).body == _stdlib(body)


def test_non_finite_numbers_become_null() -> None:
    raw = FastJSONResponse({"score": math.nan, "far": [math.inf, -math.inf, 1.5]}).body
    assert json.loads(raw) == {"score": None, "far": [None, None, 1.5]}
    assert b"NaN" not in raw and b"Infinity" not in raw


def test_media_type_and_status_carry_through() -> None:
    response = FastJSONResponse({"detail": "no item"}, status_code=404, media_type="application/geo+json")
    assert response.status_code == 404
    assert response.media_type == "application/geo+json"
    assert response.headers["content-length"] == str(len(response.body))


def test_the_app_encodes_every_route_with_it(index_dir: Path) -> None:
    """One encoder for every body: the app's default, which routes returning a dict inherit."""
    from fastapi.testclient import TestClient

    from terrahash.service.app import create_app

    app = create_app(index_dir, warm=False)
    assert app.router.default_response_class is FastJSONResponse

    @app.get("/probe-nan")
    def probe() -> dict[str, float]:  # a dict-returning route, like /health or /conformance
        return {"score": math.nan}

    response = TestClient(app).get("/probe-nan")
    assert response.status_code == 200 and response.json() == {"score": None}
