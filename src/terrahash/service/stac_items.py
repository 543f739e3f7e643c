"""Catalog entries and search results -> STAC Items and an ItemCollection (plain dicts).

The record's STAC form comes from ``terrahash.metadata.stac.record_to_stac``, so the API,
``terrahash meta --stac`` and any STAC tooling agree on field names. Server-side file paths
are never exposed: thumbnails are linked by id, through the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from terrahash.metadata import SceneRecord
from terrahash.metadata.stac import PREFIX, item_dict

#: Properties dropped from the served Items: they name files on the server.
_PRIVATE = (f"{PREFIX}source",)


@dataclass(frozen=True)
class CatalogEntry:
    """One indexed item as the service sees it (path stays server-side)."""

    id: str
    labels: tuple[str, ...]
    record: SceneRecord | None


def stac_item(entry: CatalogEntry, base_url: str, distance: int | None = None,
              rank: int | None = None, score: float | None = None) -> dict[str, Any]:
    """A STAC Item dict for ``entry`` (``metadata.stac.item_dict``, dateless records with a
    ``null`` datetime), with thumbnail asset and self/more-like-this links."""
    item = item_dict(entry.record, entry.id, entry.labels)
    props = item["properties"]
    for key in _PRIVATE:
        props.pop(key, None)
    if distance is not None:
        props[f"{PREFIX}distance"] = int(distance)
    if rank is not None:
        props[f"{PREFIX}rank"] = rank
    if score is not None:
        props[f"{PREFIX}score"] = score
    item_url = f"{base_url}items/{quote(entry.id, safe='')}"
    item["links"] = [
        {"rel": "self", "href": item_url, "type": "application/geo+json"},
        {"rel": "related", "title": "more like this", "type": "application/geo+json",
         "href": f"{base_url}search?{urlencode({'id': entry.id})}"},
    ]
    item["assets"] = {
        "thumbnail": {"href": f"{item_url}/thumbnail", "roles": ["thumbnail"],
                      "title": "Thumbnail (PNG or JPEG)"},
    }
    return item


def item_collection(
    entries: Sequence[CatalogEntry],
    distances: Sequence[int],
    base_url: str,
    took_ms: float,
    query: dict[str, Any],
    scanned: int | None = None,
    scores: Sequence[float | None] | None = None,
) -> dict[str, Any]:
    """The STAC ItemCollection answered by ``/search``, plus ``took_ms`` and the query echo;
    re-ranked results carry ``terrahash:score``."""
    scores = scores if scores is not None else [None] * len(entries)
    features = [
        stac_item(entry, base_url, distance=d, rank=i + 1, score=sc)
        for i, (entry, d, sc) in enumerate(zip(entries, distances, scores, strict=True))
    ]
    body: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": features,
        "numberReturned": len(features),
        "took_ms": round(took_ms, 3),
        f"{PREFIX}query": query,
    }
    if scanned is not None:
        body[f"{PREFIX}scanned"] = int(scanned)
    return body
