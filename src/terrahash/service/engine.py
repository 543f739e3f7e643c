"""The loaded index and its model, and the holder that swaps them atomically on reload.

A request takes ``holder.current`` once and uses that engine to the end, so a reload (POST
``/admin/reload`` or SIGHUP) never changes the index under a running search: the new engine
is fully opened first, then one reference assignment publishes it; the old one is closed by
the garbage collector when its last request lets go of it.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from terrahash import __version__
from terrahash.app import ItemNotFoundError, ModelUnavailableError, Query, Searcher
from terrahash.app.explain import explain_match
from terrahash.index import Filters
from terrahash.metadata import SceneRecord
from terrahash.metadata.record import format_datetime
from terrahash.service.coverage import Coverage
from terrahash.service.params import SearchParams
from terrahash.service.stac_items import CatalogEntry

#: The service's names for the application layer's errors (HTTP 404 and 503).
NotFoundError = ItemNotFoundError
ServiceUnavailableError = ModelUnavailableError


@dataclass(frozen=True)
class Outcome:
    """Ranked results of one query, as catalog entries for STAC Items."""

    entries: list[CatalogEntry]
    distances: list[int]
    took_ms: float
    scanned: int | None = None
    #: Re-ranking scores (``None`` where not re-scored), as ``Hit.score``.
    scores: list[float | None] | None = None
    #: The land cover a text query was searched as (``Concept.to_json``), if it named one.
    concept: dict[str, Any] | None = None


class Engine:
    """An opened index plus the model that made its codes (a ``Searcher``); thread-safe."""

    def __init__(self, index_dir: Path, read_only: bool = True) -> None:
        self.index_dir = index_dir
        self.searcher = Searcher.open(index_dir)
        self.index = self.searcher.index
        self.read_only = read_only
        self.loaded_at = time.time()
        self.model_run = self.searcher.model_run
        self._summary = dict(self.index.info().get("catalog") or {})  # platforms/labels for the page
        self.collection_id = collection_id(self.index.manifest, self.index.where)
        self._coverage: Coverage | None = None
        self._coverage_lock = threading.Lock()

    @property
    def summary(self) -> dict[str, Any]:
        """The catalog summary (time range, footprint hull, platforms, labels) at load time."""
        return self._summary

    def warm_up(self) -> None:
        """Load the model now (the server does so at start-up, not on the first query)."""
        self.searcher.warm_up()

    def search(self, query: Query, params: SearchParams) -> Outcome:
        """Top-``k`` entries for ``query`` under ``params``' filters, nearest first."""
        return self.search_many([query], params)[0]

    def search_many(self, queries: Sequence[Query], params: SearchParams) -> list[Outcome]:
        """``search`` for several queries with the same ``params``: image queries in one model
        pass and one scan (``Searcher.search_many``); raises for all when any query fails."""
        outcomes = self.searcher.search_many(queries, k=params.k, filters=params.filters,
                                             exact=params.exact, nprobe=params.nprobe,
                                             rerank=params.rerank)
        return [Outcome([_entry(h.id, h.labels, h.record) for h in o.hits], o.distances, o.took_ms,
                        o.scanned, o.scores, o.concept.to_json() if o.concept is not None else None)
                for o in outcomes]

    def select(self, filters: Filters, offset: int, limit: int) -> tuple[list[CatalogEntry], int]:
        """A page of the items passing ``filters`` (metadata alone, index order) and the count
        of all that pass, through the index's own filter plans (``Index.select``)."""
        selection = self.index.select(filters, offset, limit)
        return self.entries(selection.ids), selection.matched

    def entries(self, ids: Sequence[str]) -> list[CatalogEntry]:
        """Entries of the ids that exist, in the order given (unknown ids are skipped)."""
        rows = self.searcher.rows(ids)
        return [_entry(i, rows[i].labels, rows[i].record) for i in ids if i in rows]

    def entry(self, item_id: str) -> CatalogEntry:
        """The entry for ``item_id`` or ``NotFoundError``."""
        row = self.searcher.row(item_id)
        return _entry(row.id, row.labels, row.record)

    def image_path(self, item_id: str) -> Path:
        """The catalog's image path for ``item_id`` (the only paths thumbnails are read from)."""
        row = self.searcher.row(item_id)
        if not row.path:
            raise NotFoundError(f"item {item_id!r} has no image in the catalog")
        return Path(row.path)

    def coverage(self) -> Coverage:
        """Every item's footprint, read once per engine (a reload reads the new index's)."""
        with self._coverage_lock:
            if self._coverage is None:
                ids, boxes = self.index.footprints()
                self._coverage = Coverage(ids, boxes)
            return self._coverage

    def explain(self, item_id: str, query_id: str | None = None) -> dict[str, Any]:
        """Why ``item_id`` matches the indexed item ``query_id`` (its own side alone without one)."""
        result = self.searcher.row(item_id)
        query = self.searcher.row(query_id) if query_id is not None else None
        ids = [item_id] if query_id is None else [item_id, query_id]
        codes = self.index.codes_of(ids)
        return explain_match(result, codes[0], query, codes[1] if query_id is not None else None)

    def health(self) -> dict[str, Any]:
        """What ``GET /health`` reports."""
        summary = self._summary
        return {
            "status": "ok",
            "version": __version__,
            "items": len(self.index),
            "bits": int(self.index.bits),
            "model_run": str(self.model_run) if self.model_run else None,
            "model_loaded": self.searcher.model_loaded,
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
            engine.searcher.share_model(previous.searcher)  # same run: keep the loaded weights
            engine.warm_up()
            self.current = engine  # the atomic swap; in-flight requests keep `previous`
            self.reloads += 1
            return engine


def collection_id(manifest: dict[str, Any], where: str) -> str:
    """The STAC collection an index serves: ``collection`` in its manifest, else the name of the
    dataset folder it was built from (``terrahash index build`` records it), else its own name."""
    name = manifest.get("collection") or Path(str(manifest.get("dataset") or where)).name
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", str(name)).strip("-.") or "terrahash"


def _entry(item_id: str, labels: Sequence[str], record: dict[str, Any] | None) -> CatalogEntry:
    return CatalogEntry(item_id, tuple(labels), SceneRecord.from_json_dict(record) if record else None)
