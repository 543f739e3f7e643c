"""Items as every backend stores them: validated batches, catalog rows and record fields.

Both stores read the typed filter fields (interval, footprint bbox) out of a record here, so
the embedded and PostgreSQL backends apply the same filter semantics (the parity tests rely
on it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from terrahash.codes import check_codes
from terrahash.index.embeddings import check_embeddings, quantize_embeddings
from terrahash.index.errors import HashIndexError
from terrahash.metadata.record import SceneRecord, footprint_bbox

#: What ``add`` accepts per item as its record: a ``SceneRecord``, its JSON dict, or nothing.
RecordLike = SceneRecord | Mapping[str, Any] | None
#: What ``add`` accepts per item as its labels: one label, several, or none.
LabelLike = str | Sequence[str] | None
#: A lon/lat box: (west, south, east, north).
BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class CatalogRow:
    """What the catalog stores for one item (the ``record`` is the normalised JSON dict)."""

    seq: int
    id: str
    path: str | None
    labels: tuple[str, ...]
    record: dict[str, Any] | None

    @property
    def label(self) -> str | None:
        return self.labels[0] if self.labels else None


@dataclass(frozen=True)
class ItemBatch:
    """One ``add()``'s items, validated once: string ids, checked codes, normalised fields."""

    ids: list[str]
    codes: np.ndarray
    records: list[dict[str, Any] | None]
    labels: list[tuple[str, ...]]
    paths: list[str | None]
    #: Quantised ``int8`` embeddings (n, D) (see ``index.embeddings``), or ``None``.
    embeddings: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(
        cls,
        bits: int,
        ids: Sequence[str],
        codes: np.ndarray,
        records: Sequence[RecordLike] | None = None,
        labels: Sequence[LabelLike] | None = None,
        paths: Sequence[str | None] | None = None,
        embeddings: np.ndarray | None = None,
    ) -> ItemBatch:
        """Check lengths, duplicate ids, code and embedding shapes; normalise records and labels;
        quantise float embeddings to ``int8``."""
        checked = check_codes(codes, bits)
        names = [str(i) for i in ids]
        n = len(names)
        for name, seq in (("codes", checked), ("records", records), ("labels", labels), ("paths", paths)):
            if seq is not None and len(seq) != n:
                raise ValueError(f"{name}: expected {n} entries (one per id), got {len(seq)}")
        seen: set[str] = set()
        for item_id in names:
            if item_id in seen:
                raise ValueError(f"ids: {item_id!r} appears more than once in one add()")
            seen.add(item_id)
        return cls(
            names,
            checked,
            [normalize_record(r, i) for r, i in zip(records, names, strict=True)] if records else [None] * n,
            [normalize_labels(lab, i) for lab, i in zip(labels, names, strict=True)] if labels else [()] * n,
            [str(p) if p is not None else None for p in paths] if paths else [None] * n,
            quantize_embeddings(check_embeddings(embeddings, n)) if embeddings is not None else None,
        )


def normalize_record(record: RecordLike, item_id: str) -> dict[str, Any] | None:
    """SceneRecord or dict -> the validated flat JSON dict the catalogs store."""
    if record is None:
        return None
    if isinstance(record, SceneRecord):
        return record.to_json_dict()
    if isinstance(record, Mapping):
        try:
            return SceneRecord.from_json_dict(dict(record)).to_json_dict()
        except ValueError as exc:
            raise HashIndexError(f"record of item {item_id!r} is invalid: {exc}") from exc
    raise HashIndexError(
        f"record of item {item_id!r}: expected a SceneRecord or a dict, got {type(record).__name__}"
    )


def normalize_labels(label: LabelLike, item_id: str) -> tuple[str, ...]:
    """A label, a list of labels or None -> a tuple of labels."""
    if label is None:
        return ()
    if isinstance(label, str):
        return (label,) if label else ()
    if isinstance(label, Sequence) and all(isinstance(x, str) for x in label):
        return tuple(x for x in label if x)
    raise HashIndexError(f"labels of item {item_id!r}: expected a string or list of strings, got {label!r}")


def utc_time(text: str | None) -> dt.datetime | None:
    """A record's ISO timestamp as an aware UTC datetime (``None`` stays ``None``)."""
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def record_interval(record: dict[str, Any] | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The acquisition interval of a record dict; either end falls back to ``datetime``, then
    to the other end (an instant is a zero-length interval)."""
    if not record:
        return None, None
    when = utc_time(record.get("datetime"))
    start = utc_time(record.get("start_datetime")) or when
    end = utc_time(record.get("end_datetime")) or when
    return start or end, end or start


def record_bbox(record: dict[str, Any] | None) -> BBox | None:
    """(west, south, east, north) of the footprint (or the centre point) of a record dict, as
    the catalogs store it: ``east >= west``, and ``east`` past 180 (by up to 360) where the
    footprint crosses the antimeridian (see ``filters.lon_ranges`` for the matching test)."""
    if not record:
        return None
    footprint = record.get("footprint")
    if footprint and any(footprint.get("coordinates") or []):
        west, south, east, north = footprint_bbox(footprint)
        return (west, south, east + 360.0 if east < west else east, north)
    lat, lon = record.get("center_lat"), record.get("center_lon")
    if lat is not None and lon is not None:
        return (lon, lat, lon, lat)
    return None


def catalog_summary(
    count: int,
    time_range: tuple[dt.datetime | None, dt.datetime | None],
    gsd_range: tuple[float | None, float | None],
    platforms: dict[str, int],
    labels: dict[str, int],
    with_footprint: int,
    bbox: Sequence[float | None] | None = None,
) -> dict[str, Any]:
    """The ``catalog`` part of ``info()``, the same keys for every backend; ``bbox`` is the
    (west, south, east, north) hull of the footprints (``None`` without any)."""
    hull = [float(v) for v in bbox or () if v is not None]
    return {
        "items": count,
        "time_range": [t.isoformat() if t is not None else None for t in time_range],
        "gsd_range": list(gsd_range),
        "platforms": platforms,
        "labels": labels,
        "with_footprint": with_footprint,
        "bbox": hull if len(hull) == 4 else None,
    }
