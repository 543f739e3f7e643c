"""Crash-safe files of an index folder: the atomic manifest and whole generation folders.

Layout::

    INDEX_DIR/manifest.json          format, bits, model provenance, current generation
    INDEX_DIR/g000007/codes.npy      packed uint8 codes (n, bits/8), memory-mapped on open
    INDEX_DIR/g000007/seqs.npy       insertion number of each row (ascending)
    INDEX_DIR/g000007/catalog.sqlite items, labels, R-tree of footprint bboxes
    INDEX_DIR/g000007/columns.npz    columnar copy of the filter fields
    INDEX_DIR/g000007/tree.npz       the semantic tree
    INDEX_DIR/g000007/embeddings.npy int8 re-ranking embeddings (n, D), memory-mapped; only
                                     when the manifest's ``embedding_dim`` is set (format 2)

Every write builds a complete new generation in ``gNNNNNN.tmp``, renames it, and then
atomically replaces ``manifest.json``. A crash at any point leaves the manifest naming the
previous generation, which is never touched, so readers always see a whole index. A write
that fails (a full disk: ``ENOSPC``, a file size limit: ``EFBIG``) removes its half-written
folder and raises ``HashIndexError`` naming the cause; the previous generation stays current.

The manifest's ``checksums`` record the size and SHA-256 of every file of the generation
it names (``{"generation": "g000007", "files": {"codes.npy": {"bytes": .., "sha256": ..}}}``),
so a damaged file is detected on open (``generation.verify_files``). The generation name is
part of the record because a writer that predates checksums copies unknown manifest keys
into its next manifest: a record of another generation means "no checksums recorded".

Format versions: 1 had no embeddings; 2 adds ``embeddings.npy`` and ``embedding_dim``. A
version 1 index opens and searches by Hamming distance alone; its next write is version 2
(the migration: nothing to convert, the new generation simply carries the new file). A
version 1 reader refuses a version 2 index, since its writes would drop the embeddings.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from terrahash.index.embedded.catalog import Catalog
from terrahash.index.embedded.columns import FilterColumns
from terrahash.index.errors import CorruptIndexError, HashIndexError
from terrahash.index.manifest import FORMAT
from terrahash.index.tree import SemanticTree

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
#: Edits a generation's catalog while it is being written.
CatalogEdit = Callable[[Catalog], None]


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` and fsync, but writing the data through Python's file object: on a full
    disk that raises ``OSError`` with its errno, where NumPy's own writer says only
    ``N requested and M written``."""
    array = np.ascontiguousarray(array)
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, np.lib.format.header_data_from_array_1_0(array))
        fh.write(array.reshape(-1).data.cast("B"))
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
    fsync_dir(path.parent)


def read_manifest(root: Path) -> dict[str, Any]:
    """The manifest of the index folder ``root``, checked for format, version and keys."""
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
    return manifest


def prepare_root(root: Path) -> None:
    """Make ``root`` ready for a new index: absent or empty, never someone else's files."""
    if (root / MANIFEST).exists():
        raise HashIndexError(f"{root}: error: an index already exists here (open it, or remove it first)")
    if root.exists() and any(root.iterdir()):
        raise HashIndexError(f"{root}: error: folder is not empty and is not an index")
    root.mkdir(parents=True, exist_ok=True)


def _copy_catalog(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (read in blocks, never all at once)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def checksums_of(gen: Path) -> dict[str, Any]:
    """The manifest's ``checksums`` record of generation folder ``gen`` (every file in it)."""
    files = {
        p.name: {"bytes": p.stat().st_size, "sha256": file_sha256(p)}
        for p in sorted(gen.iterdir()) if p.is_file()
    }
    return {"generation": gen.name.removesuffix(".tmp"), "files": files}


@dataclass(frozen=True)
class Written:
    """A generation folder on disk, not yet named by the manifest."""

    name: str
    #: The manifest's ``checksums`` record for it (see ``checksums_of``).
    checksums: dict[str, Any]


def write_generation(
    root: Path,
    current: str | None,
    codes: np.ndarray,
    seqs: np.ndarray,
    tree: SemanticTree | None,
    edit_catalog: CatalogEdit,
    base_catalog: Path | None = None,
    embeddings: np.ndarray | None = None,
) -> Written:
    """Write a complete generation beside ``current`` (a copy of ``base_catalog`` edited by
    ``edit_catalog``, the codes, the embeddings if any, the tree). Nothing is visible until
    the caller writes a manifest naming it; a failed write leaves no folder behind and raises
    ``HashIndexError`` saying why (no space left, file too large, ...)."""
    for stale in root.glob("g*.tmp"):  # left by a crashed writer
        shutil.rmtree(stale, ignore_errors=True)
    name = f"g{int(current[1:]) + 1 if current else 1:06d}"
    tmp = root / f"{name}.tmp"
    try:
        tmp.mkdir()
        _write_files(tmp, codes, seqs, tree, edit_catalog, base_catalog, embeddings)
        checksums = checksums_of(tmp)
        os.rename(tmp, root / name)
        fsync_dir(root)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if not isinstance(exc, OSError | sqlite3.Error):
            raise
        kept = f"; the index still holds generation {current}" if current else ""
        raise HashIndexError(f"{root}: error: cannot write generation {name}: {_why(exc)}{kept}") from exc
    return Written(name, checksums)


def _why(exc: OSError | sqlite3.Error) -> str:
    """What failed, in words: a full disk reads ``no space left on device`` whichever layer saw it."""
    if isinstance(exc, sqlite3.Error):
        full = getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL"
        return "no space left on device (catalog: database or disk is full)" if full else f"catalog: {exc}"
    if exc.errno is None and exc.filename:  # a writer that reports no errno
        return f"{exc.args[0]} ({exc.filename})"
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno == errno.ENOSPC:
        return f"no space left on device{where}"
    if exc.errno == errno.EFBIG:
        return f"no space: file size limit reached{where}"
    return f"{exc.strerror or exc}{where}"


def _write_files(
    tmp: Path,
    codes: np.ndarray,
    seqs: np.ndarray,
    tree: SemanticTree | None,
    edit_catalog: CatalogEdit,
    base_catalog: Path | None,
    embeddings: np.ndarray | None,
) -> None:
    """Fill the new generation folder ``tmp`` and fsync it; an ``OSError`` names its file."""
    steps: list[tuple[str, Callable[[], None]]] = [
        ("catalog.sqlite", lambda: _write_catalog(tmp, edit_catalog, base_catalog)),
        ("codes.npy", lambda: save_npy(tmp / "codes.npy", np.ascontiguousarray(codes, dtype=np.uint8))),
        ("seqs.npy", lambda: save_npy(tmp / "seqs.npy", seqs.astype(np.int64))),
    ]
    if embeddings is not None:
        steps.append(("embeddings.npy", lambda: save_npy(
            tmp / "embeddings.npy", np.ascontiguousarray(embeddings, dtype=np.int8))))
    if tree is not None:
        steps.append(("tree.npz", lambda: tree.save(tmp / "tree.npz")))
    for name, step in steps:
        with _naming(tmp / name):
            step()
    fsync_dir(tmp)


@contextlib.contextmanager
def _naming(path: Path) -> Iterator[None]:
    """Put ``path`` on an ``OSError`` that names no file (a failed ``write()`` does not)."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(path)
        raise


def _write_catalog(tmp: Path, edit_catalog: CatalogEdit, base_catalog: Path | None) -> None:
    """The generation's catalog (a copy of ``base_catalog`` edited) and its filter columns."""
    if base_catalog is not None:
        _copy_catalog(base_catalog, tmp / "catalog.sqlite")
    catalog = Catalog(tmp / "catalog.sqlite")
    try:
        edit_catalog(catalog)
        with _naming(tmp / "columns.npz"):
            FilterColumns.from_catalog(catalog).save(tmp / "columns.npz")
        catalog.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        catalog.close()
    with open(tmp / "catalog.sqlite", "rb+") as fh:
        os.fsync(fh.fileno())


def prune_generations(root: Path, keep: str) -> None:
    """Delete every generation folder but ``keep`` (after the manifest names it)."""
    for stale in root.glob("g[0-9]*"):
        if stale.name != keep and stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
