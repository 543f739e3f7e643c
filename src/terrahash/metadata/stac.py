"""Record -> STAC Item (pystac), with the eo, view and proj extensions where fields exist."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pystac
from pystac.extensions.eo import EOExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.view import ViewExtension

from terrahash.metadata.record import SceneRecord, format_datetime

#: Our STAC field prefix (as ``eo:`` is the eo extension's).
PREFIX = "terrahash:"
_PLACEHOLDER = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def item_dict(record: SceneRecord | None, item_id: str, labels: Sequence[str] = ()) -> dict[str, Any]:
    """The STAC Item dict of one catalog entry (no links, no assets): ``record_to_stac`` plus
    ``terrahash:label``/``terrahash:labels``.

    Records without any date still become Items: ``datetime`` is ``null`` (unknown), which
    STAC readers report rather than TerraHash inventing a date.
    """
    record = record or SceneRecord()
    dateless = record.datetime is None and (record.start_datetime is None or record.end_datetime is None)
    if dateless:
        record = record.model_copy(update={"datetime": _PLACEHOLDER})
    item = record_to_stac(record, item_id=item_id).to_dict(include_self_link=False)
    props = item["properties"]
    if dateless:
        props["datetime"] = None
    if labels:
        props[f"{PREFIX}label"] = labels[0]
        props[f"{PREFIX}labels"] = list(labels)
    return item


def record_to_stac(record: SceneRecord, item_id: str | None = None) -> pystac.Item:
    """A STAC Item for ``record``; STAC names (``gsd``, ``eo:cloud_cover``) replace ours.

    Records without a datetime get ``start_datetime``/``end_datetime`` when known, as the
    spec requires one or the other.
    """
    geometry = record.footprint
    bbox = list(record.bbox) if record.bbox is not None else None
    if geometry is None and record.center_lat is not None and record.center_lon is not None:
        geometry = {"type": "Point", "coordinates": [record.center_lon, record.center_lat]}
    props: dict[str, Any] = {}
    start, end = record.start_datetime, record.end_datetime
    if record.datetime is None:
        if start is None or end is None:
            raise ValueError("a STAC Item needs a datetime or a start/end interval; the record has none")
        props["start_datetime"] = format_datetime(start)
        props["end_datetime"] = format_datetime(end)
    elif start is not None and end is not None:
        props["start_datetime"] = format_datetime(start)
        props["end_datetime"] = format_datetime(end)
    item = pystac.Item(
        id=item_id or record.id or "unknown",
        geometry=geometry,
        bbox=bbox,
        datetime=record.datetime,
        properties=props,
    )
    common = item.common_metadata
    if record.platform:
        common.platform = record.platform
    if record.instrument:
        common.instruments = [record.instrument.lower()]
    if record.gsd_m is not None:
        common.gsd = record.gsd_m
    if record.processing_level:
        item.properties["processing:level"] = record.processing_level
    if record.cloud_cover is not None:
        eo = EOExtension.ext(item, add_if_missing=True)
        eo.cloud_cover = record.cloud_cover
    if any(v is not None for v in (record.sun_elevation, record.sun_azimuth, record.view_angle)):
        view = ViewExtension.ext(item, add_if_missing=True)
        if record.sun_elevation is not None:
            view.sun_elevation = record.sun_elevation
        if record.sun_azimuth is not None:
            view.sun_azimuth = record.sun_azimuth % 360.0
        if record.view_angle is not None:
            view.off_nadir = abs(record.view_angle)
    if record.epsg is not None:
        proj = ProjectionExtension.ext(item, add_if_missing=True)
        proj.epsg = record.epsg
    item.properties["terrahash:format"] = record.format
    for kind in ("nominal", "derived"):  # values the file does not state
        if marked := sorted(k for k, v in record.provenance.items() if v == kind):
            item.properties[f"terrahash:{kind}"] = marked
    if record.source:
        item.properties["terrahash:source"] = record.source
    if record.bands:
        item.properties["terrahash:bands"] = list(record.bands)
    return item
