"""An index as stac-geoparquet and back: the interchange format for codes that leave TerraHash.

One row per item, in insertion order (the order ties are ranked in): the item's STAC fields
as ``stac-geoparquet`` lays them out (WKB ``geometry`` with GeoParquet ``geo`` metadata, a
``bbox`` struct, properties as columns), plus

* ``terrahash:code``: the packed code, ``fixed_size_binary(bits / 8)``, MSB first;
* ``terrahash:embedding``: the stored ``int8`` re-ranking vector (``null``: none), with the
  STAC embeddings extension's ``emb:dimensions``/``emb:type``/``data_type`` in its properties;
* ``terrahash:record``: the catalog's record JSON, so an import loses nothing STAC cannot hold.

The Parquet key-value metadata ``terrahash`` holds what an import checks (code length, model
fingerprint, code kind, embedding source and length) and the provenance the ``Searcher``
reads from a manifest. Importing rebuilds the items in the same order with the same codes and
vectors, so every search answers as before, in either backend.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from stac_geoparquet.arrow import parse_stac_items_to_arrow

# the geo/stac-geoparquet file metadata; ``to_parquet`` would write it but leaves no room for ours
from stac_geoparquet.arrow._to_parquet import create_parquet_metadata

from terrahash.index.api import Index, Location, index_exists
from terrahash.index.embeddings import (
    EMBEDDING_SCALE,
    QUANTIZATION,
    dequantize_embeddings,
    has_embedding,
    quantize_embeddings,
)
from terrahash.index.errors import HashIndexError, IndexMismatchError
from terrahash.index.items import CatalogRow
from terrahash.index.locations import is_postgres_uri
from terrahash.index.manifest import now
from terrahash.metadata.record import SceneRecord
from terrahash.metadata.stac import PREFIX, item_dict

#: Parquet key-value metadata key of the TerraHash facts.
META_KEY = "terrahash"
#: ``format`` in that metadata.
FILE_FORMAT = "terrahash-stac-geoparquet"
FILE_VERSION = 1
CODE = f"{PREFIX}code"
EMBEDDING = f"{PREFIX}embedding"
RECORD = f"{PREFIX}record"
LABELS = f"{PREFIX}labels"
#: The item's image, as an asset (its href is the path the index stores).
IMAGE_ASSET = "image"
EMBEDDINGS_EXTENSION = "https://stac-extensions.github.io/embeddings/v0.0.1/schema.json"
#: Manifest fields an export carries, so an imported index finds its model and vector source.
CARRIED = ("model", "code_kind", "template_version", "embedding_source", "embedding_kind", "dataset")
#: GeoParquet version written (1.1: the ``bbox`` covering lets readers prune row groups).
GEOPARQUET_VERSION: Literal["1.1.0"] = "1.1.0"
#: Items converted and written at a time.
BATCH = 4096


@dataclass(frozen=True)
class ExportedItems:
    """What a file holds for an index: its facts and its items, in insertion order."""

    meta: dict[str, Any]
    ids: list[str]
    codes: np.ndarray
    #: Stored ``int8`` vectors (n, D), zero rows where an item has none; ``None``: no vectors.
    embeddings: np.ndarray | None
    records: list[dict[str, Any] | None]
    labels: list[list[str]]
    paths: list[str | None]

    @property
    def bits(self) -> int:
        return int(self.meta["bits"])


def export_index(index: Index, out: str | os.PathLike[str]) -> int:
    """Write every item of ``index`` to the stac-geoparquet file ``out``; returns the count.

    Raises:
        HashIndexError: ``out`` cannot be written.
    """
    ids = index.ids()
    dim = index.manifest.get("embedding_dim")
    meta = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "bits": index.bits,
        "items": len(ids),
        "exported": now(),
        "code": {"column": CODE, "bytes": index.bits // 8, "packing": "bits packed MSB first (FAISS binary)"},
        "embedding": None if dim is None else {
            "column": EMBEDDING, "dtype": "int8", "dim": int(dim), "scale": EMBEDDING_SCALE,
            "quantization": QUANTIZATION,
        },
        "record": {"column": RECORD, "schema": "terrahash SceneRecord JSON"},
        "manifest": {key: index.manifest.get(key) for key in CARRIED},
    }
    if not ids:
        raise HashIndexError(f"{index.where}: error: the index is empty; there is nothing to export")
    table = pa.concat_tables(_tables(index, ids))
    # Parquet cannot store a struct without fields (``assets`` when no item has a path)
    empty = [f.name for f in table.schema if pa.types.is_struct(f.type) and f.type.num_fields == 0]
    table = table.drop_columns(empty)
    table = table.replace_schema_metadata({
        **create_parquet_metadata(table.schema, schema_version=GEOPARQUET_VERSION),
        META_KEY.encode(): json.dumps(meta).encode(),
    })
    try:
        pq.write_table(table, os.fspath(out), compression="zstd")
    except OSError as exc:
        raise HashIndexError(f"{out}: error: cannot write the export: {exc}") from exc
    return len(ids)


def _tables(index: Index, ids: Sequence[str]) -> list[pa.Table]:
    """The file's rows in ``BATCH``-item tables (one schema: absent fields become nulls)."""
    tables = []
    for start in range(0, len(ids), BATCH):
        chunk = list(ids[start : start + BATCH])
        rows = [row for row in index.get(chunk) if row is not None]  # ids() lists stored items only
        stored = index.backend.embeddings_of(chunk)
        vectors = has_embedding(stored) if stored is not None else np.zeros(len(rows), bool)
        dim = int(stored.shape[1]) if stored is not None else None
        items = [_item(row, dim if has else None) for row, has in zip(rows, vectors, strict=True)]
        # stac-geoparquet needs a geometry: items without one get a stand-in, nulled again after
        unplaced = np.array([item["geometry"] is None for item in items])
        for item in (item for item, missing in zip(items, unplaced, strict=True) if missing):
            item["geometry"], item["bbox"] = {"type": "Point", "coordinates": [0.0, 0.0]}, [0.0] * 4
        table = _null_where(parse_stac_items_to_arrow(items).read_all(), ("geometry", "bbox"), unplaced)
        size = index.bits // 8
        table = table.append_column(pa.field(CODE, pa.binary(size), nullable=False),
                                    pa.array([bytes(c) for c in index.codes_of(chunk)], pa.binary(size)))
        if stored is not None:
            flat = pa.array(stored.reshape(-1), pa.int8())
            table = table.append_column(
                EMBEDDING, pa.FixedSizeListArray.from_arrays(flat, stored.shape[1], mask=pa.array(~vectors)))
        table = table.append_column(RECORD, pa.array(
            [json.dumps(r.record) if r.record else None for r in rows], pa.string()))
        tables.append(table)
    schema = pa.unify_schemas([t.schema for t in tables], promote_options="permissive")
    return [_conform(table, schema) for table in tables]


def _item(row: CatalogRow, embedding_dim: int | None) -> dict[str, Any]:
    """One catalog row's STAC Item: its record's fields, labels, image asset and, where it has a
    stored vector, the STAC embeddings extension's fields."""
    record = SceneRecord.from_json_dict(row.record) if row.record else None
    item = item_dict(record, row.id, row.labels)
    if row.path:
        item["assets"] = {IMAGE_ASSET: {"href": row.path, "roles": ["data"]}}
    if embedding_dim is not None:
        item["stac_extensions"] = [*item.get("stac_extensions", []), EMBEDDINGS_EXTENSION]
        item["properties"].update({"emb:type": "chip", "emb:dimensions": embedding_dim, "data_type": "int8"})
    return item


def _null_where(table: pa.Table, columns: Sequence[str], mask: np.ndarray) -> pa.Table:
    """``table`` with ``columns`` set to null in the rows of ``mask``."""
    if not mask.any():
        return table
    for name in columns:
        column = table[name].combine_chunks()
        nulled = pc.if_else(pa.array(mask), pa.nulls(len(table), column.type), column)
        table = table.set_column(table.schema.get_field_index(name), table.schema.field(name), nulled)
    return table


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with every column of ``schema`` (missing ones as nulls), cast to its types."""
    columns = [table[f.name] if f.name in table.column_names else pa.nulls(len(table), f.type)
               for f in schema]
    return pa.Table.from_arrays(columns, schema=schema.remove_metadata()).cast(schema.remove_metadata())


def read_export(path: str | os.PathLike[str]) -> ExportedItems:
    """The items of a file written by ``export_index``.

    Raises:
        HashIndexError: the file is missing, not Parquet, or not a TerraHash export (the
            message names the file and what is wrong).
    """
    where = os.fspath(path)
    try:
        table = pq.read_table(where)
    except FileNotFoundError:
        raise HashIndexError(f"{where}: error: no such file") from None
    except (pa.ArrowException, OSError) as exc:
        raise HashIndexError(f"{where}: error: not a readable Parquet file ({exc})") from exc
    raw = (table.schema.metadata or {}).get(META_KEY.encode())
    if raw is None:
        raise HashIndexError(
            f"{where}: error: not a TerraHash export (no '{META_KEY}' Parquet metadata); "
            "write one with `terrahash index export`"
        )
    meta = json.loads(raw)
    if meta.get("format") != FILE_FORMAT or meta.get("version") != FILE_VERSION:
        raise HashIndexError(
            f"{where}: error: format {meta.get('format')!r} version {meta.get('version')!r}; "
            f"this TerraHash reads {FILE_FORMAT!r} version {FILE_VERSION}"
        )
    for column in ("id", CODE, RECORD):
        if column not in table.column_names:
            raise HashIndexError(f"{where}: error: column {column!r} is missing")
    bits = int(meta["bits"])
    code_col = table[CODE].combine_chunks()
    if code_col.null_count or code_col.type != pa.binary(bits // 8):
        raise HashIndexError(f"{where}: error: {CODE!r} must hold {bits // 8}-byte codes, no nulls")
    codes = np.frombuffer(code_col.buffers()[1], np.uint8, len(code_col) * (bits // 8), code_col.offset
                          * (bits // 8)).reshape(-1, bits // 8).copy()
    return ExportedItems(
        meta=meta,
        ids=[str(v) for v in table["id"].to_pylist()],
        codes=codes,
        embeddings=_embeddings(table, meta, where),
        records=[json.loads(r) if r else None for r in table[RECORD].to_pylist()],
        labels=[list(v or []) for v in table[LABELS].to_pylist()] if LABELS in table.column_names
        else [[] for _ in range(len(table))],
        paths=_paths(table),
    )


def _embeddings(table: pa.Table, meta: dict[str, Any], where: str) -> np.ndarray | None:
    """The ``int8`` vectors, zero rows for nulls; checked to be TerraHash-quantised."""
    spec = meta.get("embedding")
    if not spec:
        return None
    dim = int(spec["dim"])
    if EMBEDDING not in table.column_names:
        raise HashIndexError(f"{where}: error: the metadata promises {EMBEDDING!r} but the column is missing")
    rows = table[EMBEDDING].to_pylist()
    stored = np.zeros((len(rows), dim), np.int8)
    for i, row in enumerate(rows):
        if row is not None:
            if len(row) != dim:
                raise HashIndexError(
                    f"{where}: error: {EMBEDDING!r} row {i} has {len(row)} values, not {dim}"
                )
            stored[i] = row
    if not np.array_equal(quantize_embeddings(dequantize_embeddings(stored)), stored):
        raise HashIndexError(
            f"{where}: error: {EMBEDDING!r} holds vectors not quantised as TerraHash stores them "
            f"(largest component +-{EMBEDDING_SCALE} per row)"
        )
    return stored


def _paths(table: pa.Table) -> list[str | None]:
    if "assets" not in table.column_names:
        return [None] * len(table)
    return [((assets or {}).get(IMAGE_ASSET) or {}).get("href") for assets in table["assets"].to_pylist()]


def import_index(path: str | os.PathLike[str], location: Location, replace: bool = False) -> Index:
    """Load a ``export_index`` file into the index at ``location`` (a folder or a PostgreSQL URI).

    A new index is created with the file's code length and provenance. Into an existing one
    the items are upserted (``replace``: they become its only items), after checking that
    the file's codes and vectors came from the same model and settings. Items keep their
    order, codes and vectors, so exact and re-ranked searches answer as in the exported
    index; the RSHST tree is built afresh (approximate searches agree where the exported
    tree was built in one write, not edited by removals).

    Raises:
        HashIndexError: the file is not a TerraHash export.
        IndexMismatchError: the existing index holds other codes (its message says which fact
            differs).
    """
    items = read_export(path)
    carried = {k: v for k, v in (items.meta.get("manifest") or {}).items() if v is not None}
    vectors = dequantize_embeddings(items.embeddings) if items.embeddings is not None else None
    args = (items.ids, items.codes, items.records, items.labels, items.paths, vectors)
    if not index_exists(location):
        folder = None if is_postgres_uri(location) else Path(location)
        if folder is not None and folder.exists() and any(folder.iterdir()):
            raise HashIndexError(f"{location}: error: folder exists, is not empty and is not an index")
        index = Index.create(location, items.bits, **carried)
        try:
            index.replace_all(*args, **carried)
        except BaseException:
            index.close()
            if folder is not None:  # leave no empty index behind a refused file
                shutil.rmtree(folder, ignore_errors=True)
            raise
        return index
    index = Index.open(location)
    try:
        check_compatible(index, items.meta, os.fspath(path))
        if replace:
            index.replace_all(*args, **carried)
        else:
            index.add(*args)
            index.update_manifest(**carried)
    except BaseException:
        index.close()
        raise
    return index


def check_compatible(index: Index, meta: dict[str, Any], where: str) -> None:
    """Refuse to mix the file's items into ``index`` when they were made differently.

    Raises:
        IndexMismatchError: code length, model fingerprint, code kind, re-ranking vector source
            or vector length differ (a fact either side does not record is not compared).
    """
    manifest = index.manifest
    carried = meta.get("manifest") or {}
    spec = meta.get("embedding") or {}
    facts = [
        ("code length (bits)", meta.get("bits"), index.bits),
        ("model fingerprint", (carried.get("model") or {}).get("fingerprint"),
         (manifest.get("model") or {}).get("fingerprint")),
        ("code kind", carried.get("code_kind"), manifest.get("code_kind")),
        ("embedding source", carried.get("embedding_source"), manifest.get("embedding_source")),
        ("embedding dimensions", spec.get("dim"), manifest.get("embedding_dim")),
    ]
    for name, theirs, ours in facts:
        if theirs is not None and ours is not None and theirs != ours:
            raise IndexMismatchError(
                f"{where}: error: {name} is {theirs!r} in the file but {ours!r} in {index.where}; "
                "import into a new index (another folder or ?schema=NAME) instead"
            )
