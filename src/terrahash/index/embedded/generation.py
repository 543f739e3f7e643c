"""One generation of an index folder, opened for reading: codes, catalog, filter columns, tree.

Opening checks that the files agree with each other and with the manifest, so a damaged
index fails here with a message naming the file, never later with a wrong answer. Where the
manifest records checksums (indexes written since they were added), every file's size is
checked, and the SHA-256 of the arrays that are memory-mapped as raw bytes (codes, seqs,
embeddings: nothing else would notice a flipped bit in them). The catalog is SQLite (its
pages are checked as they are read) and the ``.npz`` files are zip members with a CRC.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from terrahash.index.embedded.catalog import Catalog
from terrahash.index.embedded.columns import FilterColumns
from terrahash.index.embedded.idtable import IdLookup
from terrahash.index.embedded.storage import file_sha256
from terrahash.index.errors import CorruptIndexError
from terrahash.index.flat import FlatScanner
from terrahash.index.tree import SemanticTree


@dataclass
class Generation:
    """The files of one generation; rows are in insertion (``seq``) order."""

    path: Path
    #: Packed codes (n, bits/8), memory-mapped.
    codes: np.ndarray
    #: Insertion number of each row, ascending.
    seqs: np.ndarray
    catalog: Catalog
    columns: FilterColumns
    tree: SemanticTree | None
    flat: FlatScanner
    #: Stored ``int8`` embeddings (n, D), memory-mapped; ``None`` when the index has none.
    embeddings: np.ndarray | None = None
    #: Row position -> id (SQLite at first, in memory for a generation searched many times).
    id_lookup: IdLookup | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.seqs.shape[0])

    @classmethod
    def load(cls, root: Path, manifest: dict[str, Any]) -> Generation:
        """Open the generation the manifest names, or ``CorruptIndexError`` naming the fault."""
        gen = root / str(manifest["generation"])
        where = f"{root}: error:"
        bits, count = int(manifest["bits"]), int(manifest["count"])
        verify_files(gen, manifest.get("checksums"), where)
        try:
            codes = np.load(gen / "codes.npy", mmap_mode="r")
            seqs = np.load(gen / "seqs.npy")
        except (OSError, ValueError) as exc:
            raise CorruptIndexError(f"{where} generation {gen.name} is unreadable ({exc})") from exc
        if codes.dtype != np.uint8 or codes.ndim != 2 or codes.shape[1] != bits // 8:
            raise CorruptIndexError(
                f"{where} codes.npy holds {codes.dtype} {codes.shape}, but the manifest says {bits}-bit codes"
            )
        if codes.shape[0] != count or seqs.shape[0] != count:
            raise CorruptIndexError(
                f"{where} manifest says {count} items but codes.npy has {codes.shape[0]} "
                f"and seqs.npy {seqs.shape[0]}"
            )
        embeddings = _open_embeddings(gen, where, count, manifest.get("embedding_dim"))
        catalog = _open_catalog(gen, where, count)
        columns = gen / "columns.npz"
        tree = SemanticTree.load(gen / "tree.npz") if (gen / "tree.npz").is_file() else None
        if tree is not None and tree.size != count:
            catalog.close()
            raise CorruptIndexError(f"{where} tree holds {tree.size} items, codes have {count}")
        return cls(
            gen,
            codes,
            seqs,
            catalog,
            FilterColumns.load(columns) if columns.is_file() else FilterColumns.from_catalog(catalog),
            tree,
            FlatScanner(codes),
            embeddings,
        )

    def rows_of(self, seqs: np.ndarray) -> np.ndarray:
        """Row positions of insertion numbers (all present)."""
        return np.searchsorted(self.seqs, np.asarray(seqs, np.int64))

    def ids(self, rows: np.ndarray) -> list[str]:
        """Ids of row positions, in their order."""
        if self.id_lookup is None:
            self.id_lookup = IdLookup(self.catalog, self.seqs)
        return self.id_lookup(np.asarray(rows, np.int64))

    def editable_tree(self) -> SemanticTree | None:
        """A fresh copy of the tree to modify for the next generation (``None``: no tree)."""
        return SemanticTree.load(self.path / "tree.npz") if self.tree is not None else None


#: Files whose SHA-256 is checked on every open (the rest: their size).
HASHED_ON_OPEN = ("codes.npy", "seqs.npy", "embeddings.npy")


def verify_files(
    gen: Path, checksums: dict[str, Any] | None, where: str, hashed: tuple[str, ...] = HASHED_ON_OPEN
) -> None:
    """Check generation folder ``gen`` against the manifest's ``checksums`` record: every
    recorded file present with its size, and the ``hashed`` ones with their SHA-256. Nothing
    to check when no record is kept for this generation (written before checksums)."""
    if not isinstance(checksums, dict) or checksums.get("generation") != gen.name:
        return
    files = checksums.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, dict) for v in files.values()):
        raise CorruptIndexError(f"{where} the manifest's checksums record is malformed")
    for name, recorded in files.items():
        path = gen / name
        if not path.is_file():
            raise CorruptIndexError(f"{where} {name} is missing from {gen.name}")
        size = path.stat().st_size
        if size != recorded["bytes"]:
            raise CorruptIndexError(
                f"{path}: error: holds {size} bytes, but {recorded['bytes']} were written "
                "(truncated or damaged); rebuild the index or restore it from a backup"
            )
        if name in hashed and file_sha256(path) != recorded["sha256"]:
            raise CorruptIndexError(
                f"{path}: error: checksum mismatch (its SHA-256 differs from the one the manifest "
                "recorded): the file is damaged; rebuild the index or restore it from a backup"
            )


def _open_embeddings(gen: Path, where: str, count: int, dim: int | None) -> np.ndarray | None:
    """The memory-mapped embeddings the manifest announces (``None`` where it announces none)."""
    if dim is None:
        return None
    try:
        embeddings = np.load(gen / "embeddings.npy", mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise CorruptIndexError(f"{where} embeddings.npy of {gen.name} is unreadable ({exc})") from exc
    if embeddings.dtype != np.int8 or embeddings.shape != (count, int(dim)):
        raise CorruptIndexError(
            f"{where} embeddings.npy holds {embeddings.dtype} {embeddings.shape}, but the manifest "
            f"says {count} items with {dim}-dimensional int8 embeddings"
        )
    return embeddings


def _open_catalog(gen: Path, where: str, count: int) -> Catalog:
    if not (gen / "catalog.sqlite").is_file():
        raise CorruptIndexError(f"{where} catalog.sqlite is missing from {gen.name}")
    try:
        catalog = Catalog(gen / "catalog.sqlite", readonly=True)
        n_rows = catalog.conn.execute("SELECT count(*) FROM items").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise CorruptIndexError(f"{where} catalog.sqlite is not a readable database ({exc})") from exc
    if n_rows != count:
        catalog.close()
        raise CorruptIndexError(f"{where} catalog has {n_rows} items, codes have {count}")
    return catalog
