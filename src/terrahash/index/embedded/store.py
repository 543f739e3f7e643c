"""``EmbeddedIndex``: an index folder's verbs; files, catalog, writes and plans live beside it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from terrahash.codes import check_codes
from terrahash.index.backend import SearchRequest, SearchResult, Selection
from terrahash.index.embedded.catalog import Catalog
from terrahash.index.embedded.columns import FilterColumns
from terrahash.index.embedded.generation import Generation
from terrahash.index.embedded.planner import allowed_rows, plan_candidates, plan_search, tree_search
from terrahash.index.embedded.storage import (
    FORMAT_VERSION,
    MANIFEST,
    prepare_root,
    prune_generations,
    read_manifest,
    write_generation,
    write_json_atomic,
)
from terrahash.index.embedded.writes import Write, removal, upsert
from terrahash.index.embeddings import embedding_dim_after, embedding_summary, has_embedding
from terrahash.index.errors import HashIndexError
from terrahash.index.filters import Filters
from terrahash.index.flat import FlatScanner
from terrahash.index.items import CatalogRow, ItemBatch
from terrahash.index.manifest import new_manifest, now
from terrahash.index.rerank import Candidates
from terrahash.index.tree import SemanticTree


class EmbeddedIndex:
    """An index folder opened for reading and writing (single writer at a time)."""

    def __init__(self, root: Path, manifest: dict[str, Any]) -> None:
        self.root = root
        self.where = str(root)
        self.manifest = manifest
        self.bits = int(manifest["bits"])
        self.gen = Generation.load(root, manifest)

    # -- lifecycle ----------------------------------------------------------------------
    @classmethod
    def create(cls, location: str | os.PathLike[str], bits: int, **meta: Any) -> EmbeddedIndex:
        """Create an empty index at ``location`` (a folder that must not hold anything else)."""
        root = Path(location)
        manifest = new_manifest(
            bits, format_version=FORMAT_VERSION, count=0, generation=None, next_seq=0, embedding_dim=None
        )
        manifest.update(meta)
        prepare_root(root)
        empty, no_seqs = np.zeros((0, bits // 8), np.uint8), np.zeros(0, np.int64)
        written = write_generation(root, None, empty, no_seqs, None, lambda _: None)
        manifest.update(generation=written.name, checksums=written.checksums)
        write_json_atomic(root / MANIFEST, manifest)
        return cls(root, manifest)

    @classmethod
    def open(cls, location: str | os.PathLike[str]) -> EmbeddedIndex:
        """Open an existing index, checking that its files agree with each other."""
        root = Path(location)
        return cls(root, read_manifest(root))

    @classmethod
    def exists(cls, location: str | os.PathLike[str]) -> bool:
        """Whether ``location`` is an index folder (has a manifest)."""
        return (Path(location) / MANIFEST).is_file()

    def close(self) -> None:
        self.gen.catalog.close()

    def __len__(self) -> int:
        return len(self.gen)

    # the current generation's parts, for benchmarks and tests that look inside
    @property
    def codes(self) -> np.ndarray:
        return self.gen.codes

    @property
    def seqs(self) -> np.ndarray:
        return self.gen.seqs

    @property
    def catalog(self) -> Catalog:
        return self.gen.catalog

    @property
    def columns(self) -> FilterColumns:
        return self.gen.columns

    @property
    def tree(self) -> SemanticTree | None:
        return self.gen.tree

    @property
    def flat(self) -> FlatScanner:
        return self.gen.flat

    # -- writes -------------------------------------------------------------------------
    def _commit(self, write: Write, **manifest_fields: Any) -> None:
        """Write the next generation, then switch the manifest to it (the atomic step). The new
        generation is always of the current format: writing migrates an older index."""
        manifest = {**self.manifest, **write.manifest, **manifest_fields}
        base = self.gen.path / "catalog.sqlite" if write.keep_catalog else None
        written = write_generation(
            self.root, self.manifest["generation"], write.codes, write.seqs, write.tree, write.edit, base,
            write.embeddings,
        )
        name = written.name
        manifest.update(
            format_version=FORMAT_VERSION,
            embedded_items=int(has_embedding(write.embeddings).sum()) if write.embeddings is not None else 0,
            generation=name,
            checksums=written.checksums,
            count=int(write.seqs.shape[0]),
            updated=now(),
            tree=write.tree.stats() if write.tree is not None else None,
        )
        write_json_atomic(self.root / MANIFEST, manifest)
        self.gen.catalog.close()
        self.manifest = manifest
        self.gen = Generation.load(self.root, manifest)
        prune_generations(self.root, name)

    def add(self, batch: ItemBatch, replace: bool = False, **manifest: Any) -> None:
        """Upsert items. With ``replace=True`` the new generation holds only these items."""
        next_seq = int(self.manifest["next_seq"])
        dim = embedding_dim_after(self.manifest.get("embedding_dim"), batch.embeddings, replace, self.where)
        self._commit(upsert(self.gen, next_seq, batch, replace, dim), **manifest)

    def remove(self, ids: Sequence[str]) -> int:
        """Delete items by id; unknown ids are ignored. Returns how many were removed."""
        found = self.gen.catalog.seqs_of([str(i) for i in ids])
        if found:
            self._commit(removal(self.gen, found))
        return len(found)

    def update_manifest(self, **fields: Any) -> None:
        self.manifest.update(fields)
        write_json_atomic(self.root / MANIFEST, self.manifest)

    # -- reads --------------------------------------------------------------------------
    def search(self, request: SearchRequest) -> SearchResult:
        """Top-k (see ``terrahash.Index.search``), with per-query scanned counts."""
        return plan_search(self.gen, request)

    def candidates(self, request: SearchRequest, size: int) -> list[Candidates]:
        """Re-ranking shortlists (see ``IndexBackend.candidates``)."""
        return plan_candidates(self.gen, request, size)

    def select(self, filters: Filters, offset: int, limit: int) -> Selection:
        """A page of the passing items (see ``IndexBackend.select``); rows are in seq order."""
        allowed = allowed_rows(self.gen, filters)
        return Selection(self.gen.ids(allowed[offset:offset + limit]), int(allowed.size))

    def search_tree(
        self, codes: np.ndarray, k: int = 10, exact: bool = True, nprobe: int | None = None
    ) -> SearchResult:
        """RSHST search (exact or approximate), bypassing the flat scan; for benchmarks and tests."""
        queries = check_codes(codes, self.bits, "query codes")
        if self.gen.tree is None:
            raise HashIndexError(f"{self.root}: error: this index has no tree")
        return tree_search(self.gen, queries, k, exact, nprobe)

    def get(self, ids: Sequence[str]) -> list[CatalogRow | None]:
        found = self.gen.catalog.seqs_of(list(ids))
        rows = self.gen.catalog.rows(list(found.values()))
        return [rows.get(found[i]) if i in found else None for i in ids]

    def ids(self) -> list[str]:
        return self.gen.catalog.ids(self.gen.seqs.tolist())

    def _rows(self, ids: Sequence[str]) -> np.ndarray:
        """Row positions of existing ids (``HashIndexError`` naming the first unknown one)."""
        found = self.gen.catalog.seqs_of(list(ids))
        missing = [i for i in ids if i not in found]
        if missing:
            raise HashIndexError(f"{self.root}: error: no item with id {missing[0]!r} in this index")
        return self.gen.rows_of(np.asarray([found[i] for i in ids], np.int64))

    def codes_of(self, ids: Sequence[str]) -> np.ndarray:
        return np.asarray(self.gen.codes[self._rows(ids)])

    def embeddings_of(self, ids: Sequence[str]) -> np.ndarray | None:
        rows = self._rows(ids)
        return np.asarray(self.gen.embeddings[rows]) if self.gen.embeddings is not None else None

    def footprints(self) -> tuple[list[str], np.ndarray]:
        return self.gen.catalog.footprints()

    def info(self) -> dict[str, Any]:
        sizes = {p.name: p.stat().st_size for p in self.gen.path.iterdir()}
        return {
            **self.manifest,
            "path": str(self.root),
            "catalog": self.gen.catalog.summary(),
            "tree": self.gen.tree.stats() if self.gen.tree is not None else None,
            "embeddings": embedding_summary(
                self.manifest.get("embedding_dim"), int(self.manifest.get("embedded_items", 0))
            ),
            "bytes": sizes,
            "bytes_per_item": round(sum(sizes.values()) / len(self), 1) if len(self) else None,
        }

    def __repr__(self) -> str:
        return f"EmbeddedIndex({self.where!r}, bits={self.bits})"
