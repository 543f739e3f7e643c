"""Why a result matched a query: code distance, shared taxonomy path, metadata agreement.

The map page's "why this match" view asks for it. Code distance is what ranked the result;
the taxonomy path and the metadata say whether the match makes sense to a person: the same
land-cover branch, the same sensor, a close date, a similar resolution, a nearby place.
A query without a catalog row (an uploaded image, a text) has nothing to compare with, so
only the result's side is filled in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from terrahash.codes import hamming_distances
from terrahash.index import CatalogRow
from terrahash.index.items import record_bbox, record_interval
from terrahash.taxonomy import TaxonomyError, default_taxonomy

#: Mean Earth radius (IUGG), km: centre distances are great-circle distances on this sphere.
EARTH_RADIUS_KM = 6371.0088


def explain_match(result: CatalogRow, result_code: np.ndarray, query: CatalogRow | None = None,
                  query_code: np.ndarray | None = None) -> dict[str, Any]:
    """The explanation of ``result`` for ``query`` (an indexed item, or ``None``).

    Args:
        result: the matched item's catalog row.
        result_code: its packed code (uint8, bits/8).
        query: the query item's catalog row, when the query is an indexed item.
        query_code: the query's packed code (with ``query``).

    Returns:
        A JSON-ready dict: ``distance`` (Hamming, ``None`` without a query code), ``bits``,
        ``taxonomy`` (both paths, the shared path and its depth) and ``metadata`` (platform,
        days apart, GSDs, cloud cover and the distance between centres in km).
    """
    distance = None if query_code is None else int(
        hamming_distances(query_code.reshape(1, -1), result_code.reshape(1, -1))[0, 0])
    return {
        "item": result.id,
        "query": query.id if query is not None else None,
        "distance": distance,
        "bits": int(result_code.shape[-1]) * 8,
        "taxonomy": _taxonomy(result.labels, query.labels if query is not None else ()),
        "metadata": _metadata(result.record, query.record if query is not None else None),
    }


def _label_path(labels: Sequence[str]) -> list[dict[str, str]] | None:
    """Root-to-leaf path of an item's first label the taxonomy knows (``None``: none known)."""
    tree = default_taxonomy()
    for label in labels:
        try:
            return [{"id": node, "name": tree.node(node).name} for node in tree.path(label)]
        except TaxonomyError:
            continue
    return None


def _taxonomy(result_labels: Sequence[str], query_labels: Sequence[str]) -> dict[str, Any]:
    result_path = _label_path(result_labels)
    query_path = _label_path(query_labels)
    shared: list[dict[str, str]] = []
    if result_path is not None and query_path is not None:
        for a, b in zip(query_path, result_path, strict=False):
            if a["id"] != b["id"]:
                break
            shared.append(a)
    return {
        "query_labels": list(query_labels),
        "result_labels": list(result_labels),
        "query_path": query_path,
        "result_path": result_path,
        "shared_path": shared,
        # depth of the deepest shared node (root 0), as Taxonomy.lca_depth counts it
        "shared_depth": len(shared) - 1 if shared else None,
        "same_class": bool(result_path and query_path and result_path[-1] == query_path[-1]),
    }


def _metadata(result: dict[str, Any] | None, query: dict[str, Any] | None) -> dict[str, Any]:
    result, query = result or {}, query or {}
    r_start, _ = record_interval(result)
    q_start, _ = record_interval(query)
    days = abs((r_start - q_start).total_seconds()) / 86400 if r_start and q_start else None
    return {
        "platform": _pair(query.get("platform"), result.get("platform")),
        "datetime": _pair(q_start.isoformat() if q_start else None, r_start.isoformat() if r_start else None),
        "days_apart": round(days, 2) if days is not None else None,
        "gsd_m": _pair(query.get("gsd_m"), result.get("gsd_m")),
        "cloud_cover": _pair(query.get("cloud_cover"), result.get("cloud_cover")),
        "centre_distance_km": _centre_distance(query, result),
    }


def _pair(query: Any, result: Any) -> dict[str, Any]:
    """Both values and whether they agree (``None`` when either is unknown)."""
    same = None if query is None or result is None else query == result
    return {"query": query, "result": result, "same": same}


def _centre(record: dict[str, Any]) -> tuple[float, float] | None:
    box = record_bbox(record)
    return None if box is None else ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def _centre_distance(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """Great-circle distance between the centres of two records' footprints, km."""
    pa, pb = _centre(a), _centre(b)
    if pa is None or pb is None:
        return None
    (lon1, lat1), (lon2, lat2) = (tuple(math.radians(v) for v in p) for p in (pa, pb))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return round(2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h))), 3)
