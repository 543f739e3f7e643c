"""The map page's offline basemap: Natural Earth 1:110m country outlines as GeoJSON.

The outlines ship with the package (``static/vendor/world-atlas``, the TopoJSON build of the
npm package ``world-atlas``), so the page needs no tile server and no network. TopoJSON keeps
each shared border once, as quantised delta-coded arcs; this module turns it back into
GeoJSON polygons once per process.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

#: The vendored TopoJSON (Natural Earth admin-0 countries, 1:110m).
COUNTRIES_TOPOJSON = Path(__file__).parent / "static" / "vendor" / "world-atlas" / "countries-110m.json"

Ring = list[list[float]]


@lru_cache(maxsize=1)
def countries_geojson() -> tuple[bytes, str]:
    """The countries as a GeoJSON FeatureCollection (UTF-8 bytes) and a strong ETag for it."""
    topology = json.loads(COUNTRIES_TOPOJSON.read_text(encoding="utf-8"))
    collection = topology_features(topology, "countries")
    body = json.dumps(collection, separators=(",", ":")).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def topology_features(topology: dict[str, Any], name: str) -> dict[str, Any]:
    """The TopoJSON object ``name`` (a GeometryCollection of polygons) as GeoJSON features."""
    arcs = _decode_arcs(topology["arcs"], topology.get("transform"))
    features = []
    for geometry in topology["objects"][name]["geometries"]:
        kind = geometry["type"]
        if kind == "Polygon":
            coordinates: Any = [_ring(ring, arcs) for ring in geometry["arcs"]]
        elif kind == "MultiPolygon":
            coordinates = [[_ring(ring, arcs) for ring in polygon] for polygon in geometry["arcs"]]
        else:
            continue  # the countries object holds polygons only; anything else is not drawn
        features.append({"type": "Feature", "id": geometry.get("id"),
                         "properties": dict(geometry.get("properties") or {}),
                         "geometry": {"type": kind, "coordinates": coordinates}})
    return {"type": "FeatureCollection", "features": features}


def _decode_arcs(arcs: list[list[list[float]]], transform: dict[str, Any] | None) -> list[Ring]:
    """Absolute lon/lat positions of every arc (quantised arcs are delta-coded integers)."""
    if transform is None:
        return [[[float(x), float(y)] for x, y, *_ in arc] for arc in arcs]
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    decoded = []
    for arc in arcs:
        x = y = 0.0
        points = []
        for dx, dy, *_ in arc:
            x += dx
            y += dy
            points.append([round(x * sx + tx, 6), round(y * sy + ty, 6)])
        decoded.append(points)
    return decoded


def _ring(indexes: list[int], arcs: list[Ring]) -> Ring:
    """A closed ring from arc indexes (``~i``, i.e. ``-i - 1``, is arc ``i`` reversed); each arc
    after the first starts where the previous one ended, so its first point is dropped."""
    ring: Ring = []
    for index in indexes:
        points = arcs[index] if index >= 0 else arcs[~index][::-1]
        ring.extend(points if not ring else points[1:])
    return ring
