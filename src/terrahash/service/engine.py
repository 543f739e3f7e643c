"""The loaded index and its model, and the holder that swaps them atomically on reload.

A request takes ``holder.current`` once and uses that engine to the end, so a reload (POST
``/admin/reload`` or SIGHUP) never changes the index under a running search: the new engine
is fully opened first, then one reference assignment publishes it; the old one is closed by
the garbage collector when its last request lets go of it.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from terrahash import __version__
from terrahash.errors import TerraHashError
from terrahash.metadata import SceneRecord
from terrahash.metadata.record import format_datetime
from terrahash.service.params import SearchParams
from terrahash.service.stac_items import CatalogEntry


class NotFoundError(TerraHashError):
    """No item with that id in the index's catalog (HTTP 404)."""


class ServiceUnavailableError(TerraHashError):
    """The index has no model to encode this kind of query with (HTTP 503)."""


@dataclass(frozen=True)
class Query:
    """One query: an image (optionally with its record), a record, a text or an indexed id."""

    image: np.ndarray | None = None
    record: SceneRecord | None = None
    text: str | None = None
    item_id: str | None = None

    @property
    def kind(self) -> str:
        """``image``, ``image+metadata``, ``metadata``, ``text`` or ``id``."""
        if self.image is not None:
            return "image+metadata" if self.record is not None else "image"
        if self.record is not None:
            return "metadata"
        return "text" if self.text is not None else "id"


@dataclass(frozen=True)
class Outcome:
    """Ranked results of one query."""

    entries: list[CatalogEntry]
    distances: list[int]
    took_ms: float
    scanned: int | None = None


class Engine:
    """An opened index plus the model that made its codes; safe to share between threads."""

    def __init__(self, index_dir: Path, read_only: bool = True) -> None:
        self.index_dir = index_dir
        self.index = _open_index(index_dir)
        self.read_only = read_only
        self.loaded_at = time.time()
        self.model_run = _model_run(self.index)
        self._model: Any = None
        self._model_lock = threading.Lock()
        self._summary = _summary(self.index)  # once: distinct platforms/labels for the page

    # -- model, loaded once per engine on first use ---------------------------------------
    @property
    def model(self) -> Any:
        """The model run named in the index manifest (503 when the index names none)."""
        if self._model is None:
            with self._model_lock:
                if self._model is None:
                    if self.model_run is None:
                        raise ServiceUnavailableError(
                            f"{self.index_dir}: the index names no model run, so only id "
                            "queries (GET /search?id=...) can be answered"
                        )
                    from terrahash.app.query import load_index_model

                    # Checks the run's fingerprint against the index manifest.
                    self._model = load_index_model(self.index)
        return self._model

    def warm_up(self) -> None:
        """Load the model now (the server does so at start-up, not on the first query)."""
        if self.model_run is not None:
            _ = self.model

    # -- queries ---------------------------------------------------------------------------
    def encode(self, query: Query) -> np.ndarray:
        """Packed codes (1, K/8) for ``query``."""
        if query.item_id is not None:
            return self.codes_of(query.item_id)
        if query.image is not None:
            records = [query.record] if query.record is not None else None
            return np.asarray(self.model.encode_images([query.image], records=records))
        if query.record is not None:
            return np.asarray(self.model.encode_text([query.record]))
        return np.asarray(self.model.encode_text([query.text]))

    def search(self, query: Query, params: SearchParams) -> Outcome:
        """Top-``k`` entries for ``query`` under ``params``' filters, nearest first."""
        t0 = time.perf_counter()
        codes = self.encode(query)
        ids, distances, scanned = _search(self.index, codes, params)
        entries = self.entries(ids)
        took = (time.perf_counter() - t0) * 1000.0
        return Outcome([entries[i] for i in ids], distances, took, scanned)

    # -- catalog ---------------------------------------------------------------------------
    def entries(self, ids: Sequence[str]) -> dict[str, CatalogEntry]:
        """Catalog entries by id (ids not in the catalog are left out)."""
        out: dict[str, CatalogEntry] = {}
        for row in _rows(self.index, ids):
            record = SceneRecord.from_json_dict(row.record) if row.record else None
            out[row.id] = CatalogEntry(row.id, tuple(row.labels), record)
        return out

    def entry(self, item_id: str) -> CatalogEntry:
        """The entry for ``item_id`` or ``NotFoundError``."""
        found = self.entries([item_id])
        if item_id not in found:
            raise NotFoundError(f"no item {item_id!r} in the index")
        return found[item_id]

    def image_path(self, item_id: str) -> Path:
        """The catalog's image path for ``item_id`` (the only paths thumbnails are read from)."""
        rows = _rows(self.index, [item_id])
        if not rows:
            raise NotFoundError(f"no item {item_id!r} in the index")
        if not rows[0].path:
            raise NotFoundError(f"item {item_id!r} has no image in the catalog")
        return Path(rows[0].path)

    def codes_of(self, item_id: str) -> np.ndarray:
        """The stored code of an indexed item, as a (1, K/8) query."""
        return _codes_of(self.index, item_id)

    def health(self) -> dict[str, Any]:
        """What ``GET /health`` reports."""
        summary = self._summary
        return {
            "status": "ok",
            "version": __version__,
            "items": len(self.index),
            "bits": int(self.index.bits),
            "model_run": str(self.model_run) if self.model_run else None,
            "model_loaded": self._model is not None,
            "index": str(self.index_dir),
            "loaded_at": format_datetime(dt.datetime.fromtimestamp(self.loaded_at, dt.UTC)),
            "read_only": self.read_only,
            "platforms": sorted(p for p in summary.get("platforms", {}) if p != "(none)"),
            "labels": sorted(summary.get("labels", {})),
        }


class EngineHolder:
    """Holds the current engine; ``reload`` builds a new one and swaps the reference."""

    def __init__(self, index_dir: Path, read_only: bool = True, warm: bool = False) -> None:
        self.index_dir = index_dir
        self.read_only = read_only
        self._reload_lock = threading.Lock()
        self.reloads = 0
        self.current = self._load(warm)

    def _load(self, warm: bool) -> Engine:
        engine = Engine(self.index_dir, read_only=self.read_only)
        if warm:
            engine.warm_up()
        return engine

    def reload(self) -> Engine:
        """Open the index again (and its model) and publish it; reloads never overlap."""
        with self._reload_lock:
            previous = self.current
            engine = Engine(self.index_dir, read_only=self.read_only)
            if engine.model_run is not None and engine.model_run == previous.model_run:
                engine._model = previous._model  # same run: keep the loaded weights
            engine.warm_up()
            self.current = engine  # the atomic swap; in-flight requests keep `previous`
            self.reloads += 1
            return engine


# -- the few places that touch the index API beyond Index.open/search/len ------------------
def _open_index(index_dir: Path) -> Any:
    from terrahash.index import Index

    return Index.open(index_dir)


def _filters(params: SearchParams) -> Any:
    from terrahash.index.filters import Filters

    return Filters(
        bbox=params.bbox, start=params.start, end=params.end,
        platforms=params.platforms or None, gsd_min=params.gsd_min, gsd_max=params.gsd_max,
        cloud_max=params.cloud_max, labels=params.labels or None,
    )


def _search(index: Any, codes: np.ndarray,
            params: SearchParams) -> tuple[list[str], list[int], int | None]:
    """``Index.query``: ``search`` plus how many codes were scanned."""
    result = index.query(codes, k=params.k, filters=_filters(params), exact=params.exact,
                         nprobe=params.nprobe)
    return ([str(i) for i in result.ids[0]], [int(d) for d in result.distances[0]],
            int(result.scanned[0]))


def _rows(index: Any, ids: Sequence[str]) -> list[Any]:
    return [row for row in index.get(list(ids)) if row is not None]


def _codes_of(index: Any, item_id: str) -> np.ndarray:
    if not _rows(index, [item_id]):
        raise NotFoundError(f"no item {item_id!r} in the index")
    return np.asarray(index.codes_of([item_id]), dtype=np.uint8).reshape(1, -1)


def _summary(index: Any) -> dict[str, Any]:
    info = index.info()
    return dict(info.get("catalog") or {})


def _model_run(index: Any) -> Path | None:
    """The model run directory the index's codes came from (manifest key ``model``)."""
    model = index.manifest.get("model")
    if isinstance(model, dict):
        model = model.get("run") or model.get("path") or model.get("run_dir")
    return Path(model) if model else None
