"""The embedded index: one directory with codes, a SQLite catalog, the RSHST tree, a manifest.

Layout::

    INDEX_DIR/manifest.json          format, bits, model provenance, current generation
    INDEX_DIR/g000007/codes.npy      packed uint8 codes (n, bits/8), memory-mapped on open
    INDEX_DIR/g000007/seqs.npy       insertion number of each row (ascending)
    INDEX_DIR/g000007/catalog.sqlite items, labels, R-tree of footprint bboxes
    INDEX_DIR/g000007/tree.npz       the semantic tree

Every write builds a complete new generation in ``gNNNNNN.tmp``, renames it, and then
atomically replaces ``manifest.json``. A crash at any point leaves the manifest naming the
previous generation, which is never touched, so readers always see a whole index.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from terrahash.index.backend import LabelLike, RecordLike, SearchResult
from terrahash.index.catalog import Catalog, CatalogRow, record_bbox
from terrahash.index.codes import as_words, check_codes, check_search_args
from terrahash.index.columns import FilterColumns
from terrahash.index.errors import CorruptIndexError, HashIndexError
from terrahash.index.filters import Filters, normalize_filters
from terrahash.index.flat import FlatScanner
from terrahash.taxonomy import label_path
from terrahash.index.tree import SemanticTree

FORMAT = "terrahash-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: Rebuild the tree (rather than route inserts) once this fraction of items is new.
REBUILD_FRACTION = 0.5


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, array)
        fh.flush()
        os.fsync(fh.fileno())


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to a temp file, fsync, and rename over ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def normalize_record(record: RecordLike, item_id: str) -> dict[str, Any] | None:
    """SceneRecord or dict -> the validated flat JSON dict the catalog stores."""
    if record is None:
        return None
    from terrahash.metadata.record import SceneRecord

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


class EmbeddedIndex:
    """An index directory opened for reading and writing (single writer at a time)."""

    def __init__(self, root: Path, manifest: dict[str, Any]) -> None:
        self.root = root
        self.manifest = manifest
        self.bits = int(manifest["bits"])
        self._load_generation()

    # -- lifecycle ----------------------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path, bits: int, **meta: Any) -> EmbeddedIndex:
        """Create an empty index at ``root`` (which must not hold anything else)."""
        root = Path(root)
        if bits <= 0 or bits % 8:
            raise ValueError(f"bits must be a positive multiple of 8, got {bits}")
        if (root / MANIFEST).exists():
            raise HashIndexError(f"{root}: error: an index already exists here (open it, or remove it first)")
        if root.exists() and any(root.iterdir()):
            raise HashIndexError(f"{root}: error: folder is not empty and is not an index")
        root.mkdir(parents=True, exist_ok=True)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "bits": bits,
            "count": 0,
            "generation": None,
            "next_seq": 0,
            "created": _now(),
            "updated": _now(),
            "model": None,
            "code_kind": None,
            "template_version": None,
            "tree": None,
        }
        manifest.update(meta)
        nbytes = bits // 8
        gen = cls._write_generation(
            root,
            manifest,
            None,
            np.zeros((0, nbytes), np.uint8),
            np.zeros(0, np.int64),
            None,
            lambda cat: None,
        )
        manifest["generation"] = gen
        write_json_atomic(root / MANIFEST, manifest)
        return cls(root, manifest)

    @classmethod
    def open(cls, root: str | Path) -> EmbeddedIndex:
        """Open an existing index, checking that its files agree with each other."""
        root = Path(root)
        path = root / MANIFEST
        if not root.is_dir():
            raise HashIndexError(f"{root}: error: no such index folder")
        if not path.is_file():
            raise CorruptIndexError(f"{root}: error: not a TerraHash index (no {MANIFEST})")
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CorruptIndexError(f"{path}: error: manifest is not valid JSON ({exc})") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise CorruptIndexError(f"{path}: error: not a TerraHash index manifest")
        if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
            raise CorruptIndexError(
                f"{path}: error: index format {manifest['format_version']} is newer than this "
                f"TerraHash reads ({FORMAT_VERSION}); upgrade terrahash"
            )
        for key in ("bits", "generation", "count", "next_seq"):
            if key not in manifest:
                raise CorruptIndexError(f"{path}: error: manifest lacks {key!r}")
        return cls(root, manifest)

    def close(self) -> None:
        self.catalog.close()

    def __len__(self) -> int:
        return int(self.seqs.shape[0])

    @property
    def _gen_dir(self) -> Path:
        return self.root / str(self.manifest["generation"])

    def _load_generation(self) -> None:
        gen = self._gen_dir
        where = f"{self.root}: error:"
        try:
            self.codes = np.load(gen / "codes.npy", mmap_mode="r")
            self.seqs = np.load(gen / "seqs.npy")
        except (OSError, ValueError) as exc:
            raise CorruptIndexError(f"{where} generation {gen.name} is unreadable ({exc})") from exc
        nbytes, count = self.bits // 8, int(self.manifest["count"])
        if self.codes.dtype != np.uint8 or self.codes.ndim != 2 or self.codes.shape[1] != nbytes:
            raise CorruptIndexError(
                f"{where} codes.npy holds {self.codes.dtype} {self.codes.shape}, "
                f"but the manifest says {self.bits}-bit codes"
            )
        if self.codes.shape[0] != count or self.seqs.shape[0] != count:
            raise CorruptIndexError(
                f"{where} manifest says {count} items but codes.npy has {self.codes.shape[0]} "
                f"and seqs.npy {self.seqs.shape[0]}"
            )
        if not (gen / "catalog.sqlite").is_file():
            raise CorruptIndexError(f"{where} catalog.sqlite is missing from {gen.name}")
        try:
            self.catalog = Catalog(gen / "catalog.sqlite", readonly=True)
            n_rows = self.catalog.conn.execute("SELECT count(*) FROM items").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise CorruptIndexError(f"{where} catalog.sqlite is not a readable database ({exc})") from exc
        if n_rows != count:
            raise CorruptIndexError(f"{where} catalog has {n_rows} items, codes have {count}")
        self.flat = FlatScanner(self.codes)
        columns = gen / "columns.npz"
        self.columns = (
            FilterColumns.load(columns) if columns.is_file() else FilterColumns.from_catalog(self.catalog)
        )
        self.tree = SemanticTree.load(gen / "tree.npz") if (gen / "tree.npz").is_file() else None
        if self.tree is not None and self.tree.size != count:
            raise CorruptIndexError(f"{where} tree holds {self.tree.size} items, codes have {count}")

    @staticmethod
    def _write_generation(
        root: Path,
        manifest: dict[str, Any],
        base_catalog: Path | None,
        codes: np.ndarray,
        seqs: np.ndarray,
        tree: SemanticTree | None,
        edit_catalog: Any,
    ) -> str:
        """Write a complete generation beside the current one; returns its name."""
        for stale in root.glob("g*.tmp"):  # left by a crashed writer
            shutil.rmtree(stale, ignore_errors=True)
        current = manifest.get("generation")
        number = int(str(current)[1:]) + 1 if current else 1
        name = f"g{number:06d}"
        tmp = root / f"{name}.tmp"
        tmp.mkdir()
        if base_catalog is not None:
            src = sqlite3.connect(f"file:{base_catalog}?mode=ro", uri=True)
            dst = sqlite3.connect(tmp / "catalog.sqlite")
            src.backup(dst)
            src.close()
            dst.close()
        catalog = Catalog(tmp / "catalog.sqlite")
        edit_catalog(catalog)
        FilterColumns.from_catalog(catalog).save(tmp / "columns.npz")
        catalog.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        catalog.close()
        with open(tmp / "catalog.sqlite", "rb+") as fh:
            os.fsync(fh.fileno())
        _save_npy(tmp / "codes.npy", np.ascontiguousarray(codes, dtype=np.uint8))
        _save_npy(tmp / "seqs.npy", seqs.astype(np.int64))
        if tree is not None:
            tree.save(tmp / "tree.npz")
        _fsync_dir(tmp)
        os.rename(tmp, root / name)
        _fsync_dir(root)
        return name

    def _commit(
        self,
        codes: np.ndarray,
        seqs: np.ndarray,
        tree: SemanticTree | None,
        edit_catalog: Any,
        base: bool = True,
        **manifest_fields: Any,
    ) -> None:
        manifest = dict(self.manifest)
        manifest.update(manifest_fields)
        old = self._gen_dir
        name = self._write_generation(
            self.root,
            manifest,
            old / "catalog.sqlite" if base else None,
            codes,
            seqs,
            tree,
            edit_catalog,
        )
        manifest.update(
            generation=name,
            count=int(seqs.shape[0]),
            updated=_now(),
            tree=tree.stats() if tree is not None else None,
        )
        write_json_atomic(self.root / MANIFEST, manifest)
        self.catalog.close()
        self.manifest = manifest
        self._load_generation()
        for stale in self.root.glob("g[0-9]*"):
            if stale.name != name and stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)

    # -- writes -------------------------------------------------------------------------
    def add(
        self,
        ids: Sequence[str],
        codes: np.ndarray,
        records: Sequence[RecordLike] | None = None,
        labels: Sequence[LabelLike] | None = None,
        paths: Sequence[str | None] | None = None,
        replace: bool = False,
        **manifest_fields: Any,
    ) -> None:
        """Upsert items. With ``replace=True`` the new generation holds only these items."""
        codes = check_codes(codes, self.bits)
        ids = [str(i) for i in ids]
        n = len(ids)
        for name, seq in (
            ("codes", codes),
            ("records", records),
            ("labels", labels),
            ("paths", paths),
        ):
            if seq is not None and len(seq) != n:
                raise ValueError(f"{name}: expected {n} entries (one per id), got {len(seq)}")
        if len(set(ids)) != n:
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ValueError(f"ids: {dup!r} appears more than once in one add()")
        recs = [normalize_record(r, i) for r, i in zip(records, ids, strict=True)] if records else [None] * n
        labs = [normalize_labels(lab, i) for lab, i in zip(labels, ids, strict=True)] if labels else [()] * n
        pths = [str(p) if p is not None else None for p in paths] if paths else [None] * n
        next_seq = int(self.manifest["next_seq"]) if not replace else 0
        old_codes = np.zeros((0, codes.shape[1]), np.uint8) if replace else np.asarray(self.codes)
        old_seqs = np.zeros(0, np.int64) if replace else self.seqs
        existing = {} if replace else self.catalog.seqs_of(ids)
        new_seqs, is_new = np.empty(n, np.int64), np.zeros(n, bool)
        for i, item_id in enumerate(ids):
            if item_id in existing:
                new_seqs[i] = existing[item_id]
            else:
                new_seqs[i], is_new[i] = next_seq, True
                next_seq += 1
        all_codes = np.concatenate([old_codes, codes[is_new]])
        all_seqs = np.concatenate([old_seqs, new_seqs[is_new]])
        updated_rows = np.searchsorted(old_seqs, new_seqs[~is_new])
        all_codes[updated_rows] = codes[~is_new]
        rows = [
            CatalogRow(int(s), i, p, lab, r)
            for s, i, p, lab, r in zip(new_seqs, ids, pths, labs, recs, strict=True)
        ]
        boxes = [record_bbox(r) for r in recs]
        tree = self._updated_tree(all_codes, len(old_seqs), updated_rows, is_new, labs, replace)

        def edit(catalog: Catalog) -> None:
            catalog.upsert(rows, boxes, existing=new_seqs[~is_new].tolist())

        self._commit(all_codes, all_seqs, tree, edit, base=not replace, next_seq=next_seq, **manifest_fields)

    def _updated_tree(
        self,
        codes: np.ndarray,
        n_old: int,
        updated_rows: np.ndarray,
        is_new: np.ndarray,
        labs: list[tuple[str, ...]],
        replace: bool,
    ) -> SemanticTree:
        n_new = int(is_new.sum())
        if replace or self.tree is None or n_new + updated_rows.size > REBUILD_FRACTION * max(n_old, 1):
            primary = [] if replace else [lab for _, lab in self.catalog.primary_labels()]
            for row, lab in zip(
                updated_rows,
                [lab for lab, new in zip(labs, is_new, strict=True) if not new],
                strict=True,
            ):
                primary[int(row)] = lab[0] if lab else None
            primary += [lab[0] if lab else None for lab, new in zip(labs, is_new, strict=True) if new]
            return SemanticTree.build(codes, primary, label_path)
        tree = SemanticTree.load(self._gen_dir / "tree.npz")
        if updated_rows.size:
            keep = np.arange(n_old, dtype=np.int64)
            keep[updated_rows] = -1
            tree.remap(keep)
        moved = np.concatenate([updated_rows, np.arange(n_old, n_old + n_new)]).astype(np.int64)
        moved_labels = [lab for lab, new in zip(labs, is_new, strict=True) if not new]
        moved_labels += [lab for lab, new in zip(labs, is_new, strict=True) if new]
        tree.insert(codes[moved], moved, [lab[0] if lab else None for lab in moved_labels], label_path)
        return tree

    def remove(self, ids: Sequence[str]) -> int:
        """Delete items by id; unknown ids are ignored. Returns how many were removed."""
        found = self.catalog.seqs_of([str(i) for i in ids])
        if not found:
            return 0
        gone = np.searchsorted(self.seqs, np.fromiter(found.values(), np.int64))
        keep = np.ones(len(self), bool)
        keep[gone] = False
        mapping = np.full(len(self), -1, np.int64)
        mapping[keep] = np.arange(int(keep.sum()))
        tree = SemanticTree.load(self._gen_dir / "tree.npz") if self.tree is not None else None
        if tree is not None:
            tree.remap(mapping)
        seqs = list(found.values())
        self._commit(np.asarray(self.codes)[keep], self.seqs[keep], tree, lambda c: c.delete(seqs))
        return len(found)

    def update_manifest(self, **fields: Any) -> None:
        self.manifest.update(fields)
        write_json_atomic(self.root / MANIFEST, self.manifest)

    # -- reads --------------------------------------------------------------------------
    def search(
        self,
        codes: np.ndarray,
        k: int = 10,
        filters: Filters | Mapping[str, Any] | None = None,
        exact: bool = True,
        nprobe: int | None = None,
    ) -> SearchResult:
        """Top-k (see ``terrahash.Index.search``), with per-query scanned counts."""
        start = time.perf_counter()
        queries, k = check_search_args(codes, self.bits, k, nprobe)
        flt = normalize_filters(filters)
        if not flt.empty:
            allowed = self.columns.rows(flt)
            if flt.labels:  # labels are many-to-many: ask SQLite's label index
                labelled = Filters(labels=flt.labels)
                seqs = np.asarray(self.catalog.matching(labelled), np.int64)
                labelled_rows = np.zeros(len(self), dtype=bool)
                labelled_rows[np.searchsorted(self.seqs, seqs)] = True
                allowed = allowed[labelled_rows[allowed]]
            results = self.flat.search_rows(queries, k, allowed)
            scanned, method = [int(allowed.size)] * len(queries), "filtered"
        elif exact or self.tree is None:
            dist, rows = self.flat.search(queries, k)
            results = [(d[r >= 0], r[r >= 0]) for d, r in zip(dist, rows, strict=True)]
            scanned, method = [len(self)] * len(queries), "flat"
        else:
            words = as_words(np.asarray(self.codes))
            out = [self.tree.search_one(words, q, k, exact=False, nprobe=nprobe) for q in as_words(queries)]
            results = [(d, r) for d, r, _ in out]
            scanned, method = [s for _, _, s in out], "tree"
        ids = [self.catalog.ids(self.seqs[r]) for _, r in results]
        took = (time.perf_counter() - start) * 1000.0
        return SearchResult(ids, [[int(x) for x in d] for d, _ in results], scanned, took, {"method": method})

    def search_tree(
        self, codes: np.ndarray, k: int = 10, exact: bool = True, nprobe: int | None = None
    ) -> SearchResult:
        """RSHST search (exact or approximate), bypassing the flat scan; for benchmarks and tests."""
        start = time.perf_counter()
        queries = check_codes(codes, self.bits, "query codes")
        if self.tree is None:
            raise HashIndexError(f"{self.root}: error: this index has no tree")
        words = as_words(np.asarray(self.codes))
        out = [self.tree.search_one(words, q, k, exact=exact, nprobe=nprobe) for q in as_words(queries)]
        ids = [self.catalog.ids(self.seqs[r]) for _, r, _ in out]
        return SearchResult(
            ids,
            [[int(x) for x in d] for d, _, _ in out],
            [s for _, _, s in out],
            (time.perf_counter() - start) * 1000.0,
            {"method": "tree"},
        )

    def get(self, ids: Sequence[str]) -> list[CatalogRow | None]:
        found = self.catalog.seqs_of(list(ids))
        rows = self.catalog.rows(list(found.values()))
        return [rows.get(found[i]) if i in found else None for i in ids]

    def codes_of(self, ids: Sequence[str]) -> np.ndarray:
        found = self.catalog.seqs_of(list(ids))
        missing = [i for i in ids if i not in found]
        if missing:
            raise HashIndexError(f"{self.root}: error: no item with id {missing[0]!r} in this index")
        rows = np.searchsorted(self.seqs, np.asarray([found[i] for i in ids], np.int64))
        return np.asarray(self.codes[rows])

    def info(self) -> dict[str, Any]:
        out = dict(self.manifest)
        out["path"] = str(self.root)
        out["catalog"] = self.catalog.summary()
        out["tree"] = self.tree.stats() if self.tree is not None else None
        sizes = {p.name: p.stat().st_size for p in self._gen_dir.iterdir()}
        out["bytes"] = sizes
        out["bytes_per_item"] = round(sum(sizes.values()) / len(self), 1) if len(self) else None
        return out
