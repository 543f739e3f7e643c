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
#: How an Item without any date says "unknown" and stays valid STAC (a null ``datetime`` needs
#: both interval ends): the widest interval RFC 3339 can write, flagged by ``terrahash:dateless``.
UNKNOWN_INTERVAL = ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z")


@dataclass(frozen=True)
class CatalogEntry:
    """One indexed item as the service sees it (path stays server-side)."""

    id: str
    labels: tuple[str, ...]
    record: SceneRecord | None


def stac_item(entry: CatalogEntry, base_url: str, distance: int | None = None,
              rank: int | None = None, score: float | None = None,
              collection: str | None = None) -> dict[str, Any]:
    """A STAC Item dict for ``entry`` (``metadata.stac.item_dict``), with thumbnail asset and
    self/more-like-this links; with ``collection``, also its STAC API links (self under the
    collection, parent, root).

    Records without any date still become Items: ``datetime`` is ``null`` (unknown) and the
    interval is every time there is (``UNKNOWN_INTERVAL``), rather than the service inventing a
    date; datetime filters never match such items.
    """
    item = item_dict(entry.record, entry.id, entry.labels)
    props = item["properties"]
    if props.get("datetime") is None and not (props.get("start_datetime") and props.get("end_datetime")):
        props["start_datetime"], props["end_datetime"] = UNKNOWN_INTERVAL
        props[f"{PREFIX}dateless"] = True
    for key in _PRIVATE:
        props.pop(key, None)
    if distance is not None:
        props[f"{PREFIX}distance"] = int(distance)
    if rank is not None:
        props[f"{PREFIX}rank"] = rank
    if score is not None:
        props[f"{PREFIX}score"] = score
    item_url = f"{base_url}items/{quote(entry.id, safe='')}"
    more = {"rel": "related", "title": "more like this", "type": "application/geo+json",
            "href": f"{base_url}search?{urlencode({'id': entry.id})}"}
    if collection is None:
        item["links"] = [{"rel": "self", "href": item_url, "type": "application/geo+json"}, more]
    else:
        item["collection"] = collection
        collection_url = f"{base_url}collections/{quote(collection, safe='')}"
        item["links"] = [
            {"rel": "self", "type": "application/geo+json",
             "href": f"{collection_url}/items/{quote(entry.id, safe='')}"},
            {"rel": "parent", "href": collection_url, "type": "application/json"},
            {"rel": "collection", "href": collection_url, "type": "application/json"},
            {"rel": "root", "href": base_url, "type": "application/json"},
            more,
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
    collection: str | None = None,
    first_rank: int = 1,
) -> dict[str, Any]:
    """The STAC ItemCollection answered by a similarity ``/search``, plus ``took_ms`` and the
    query echo; re-ranked results carry ``terrahash:score``. ``first_rank`` numbers a later page."""
    scores = scores if scores is not None else [None] * len(entries)
    features = [
        stac_item(entry, base_url, distance=d, rank=first_rank + i, score=sc, collection=collection)
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
