"""One query type for every front end: image, image + metadata, metadata, text or indexed id.

The CLI, the Python API and the HTTP service all build a ``Query`` and encode it here, so a
query means the same everywhere and is always encoded by the model the index was built with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from terrahash.data import load_rgb
from terrahash.errors import TerraHashError
from terrahash.index import Index
from terrahash.metadata import SceneRecord, read_metadata
from terrahash.model import HashModel

QueryKind = Literal["image", "image+metadata", "metadata", "text", "id"]


class QueryError(TerraHashError):
    """A query that cannot be encoded (no input, two inputs, unreadable file)."""


class ItemNotFoundError(TerraHashError, KeyError):
    """No item with that id in the index's catalog."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Query:
    """Exactly one of: ``image`` (optionally with ``metadata``), ``metadata``, ``text``, ``id``.

    ``image`` is a file or decoded RGB pixels (H, W, 3) ``uint8``; ``metadata`` is a vendor
    metadata file or an already read ``SceneRecord``.
    """

    image: str | Path | np.ndarray | None = None
    metadata: str | Path | SceneRecord | None = None
    text: str | None = None
    id: str | None = None

    @property
    def kind(self) -> QueryKind:
        """What was given: ``image``, ``image+metadata``, ``metadata``, ``text`` or ``id``."""
        if self.id is not None:
            return "id"
        if self.image is not None:
            return "image+metadata" if self.metadata is not None else "image"
        if self.metadata is not None:
            return "metadata"
        return "text"

    def validate(self) -> Query:
        """``self`` when it is one well-formed query, else ``QueryError`` saying what to give."""
        given = [name for name, value in (("image", self.image), ("text", self.text), ("id", self.id))
                 if value is not None]
        if len(given) > 1:
            raise QueryError(f"error: give one query, not {' and '.join(given)}")
        if not given and self.metadata is None:
            raise QueryError("error: give a query: an image (with optional metadata), metadata, "
                             "text or an indexed id")
        if self.id is not None and self.metadata is not None:
            raise QueryError("error: metadata cannot be combined with an id query")
        if self.text is not None and not self.text.strip():
            raise QueryError("error: the text query is empty")
        return self


def read_record(source: str | Path | SceneRecord) -> SceneRecord:
    """The record of a query's metadata: the first record of a metadata file."""
    if isinstance(source, SceneRecord):
        return source
    records = read_metadata(source)
    if not records:
        raise QueryError(f"{source}: error: no record in this metadata file")
    return records[0]


def encode_query(query: Query, index: Index, model: HashModel | None) -> np.ndarray:
    """Packed (1, bits/8) code of ``query``: stored for an id, else encoded by ``model``.

    ``model`` may be ``None`` only for id queries (they need no model).
    """
    return encode_query_and_vector(query, index, model, None)[0]


def encode_query_and_vector(
    query: Query, index: Index, model: HashModel | None, source: str | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """``encode_query``'s code and, with a ``source`` (``HashModel.VECTOR_SOURCES``), the query's
    re-ranking vector (1, D), made in the same pass as the code. An id query takes the item's
    stored embedding (dequantised; ``None`` where it has none, whatever ``source``)."""
    codes, vectors = encode_queries_and_vectors([query], index, model, source, source is not None)
    return codes, None if vectors[0] is None else vectors[0][None, :]


def encode_queries_and_vectors(
    queries: Sequence[Query], index: Index, model: HashModel | None, source: str | None,
    id_vectors: bool,
) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """Packed codes (n, bits/8) of many queries and a re-ranking vector (D,) or ``None`` each.

    What ``encode_query_and_vector`` gives each query, for less work: the images (with or
    without a record) go through the model in one pass, metadata and text in another, and
    the ids' codes are read from the store together. ``source`` names the vector of encoded
    queries (``None``: none); ``id_vectors`` reads the stored embeddings of id queries.
    ``model`` may be ``None`` only when every query is an id query.
    """
    for query in queries:
        query.validate()
    codes = np.zeros((len(queries), index.bits // 8), dtype=np.uint8)
    vectors: list[np.ndarray | None] = [None] * len(queries)
    by_id = [i for i, q in enumerate(queries) if q.id is not None]
    by_image = [i for i, q in enumerate(queries) if q.id is None and q.image is not None]
    by_text = [i for i, q in enumerate(queries) if q.id is None and q.image is None]
    if by_id:
        ids = [str(queries[i].id) for i in by_id]
        missing = [item_id for item_id, row in zip(ids, index.get(ids), strict=True) if row is None]
        if missing:
            raise ItemNotFoundError(f"no item {missing[0]!r} in the index")
        codes[by_id] = np.asarray(index.codes_of(ids), dtype=np.uint8).reshape(len(ids), -1)
        stored = index.embeddings_of(ids) if id_vectors else None
        if stored is not None:
            for i, row in zip(by_id, stored, strict=True):
                vectors[i] = row if row.any() else None
    for rows, encode in ((by_image, _encode_images), (by_text, _encode_texts)):
        if not rows:
            continue
        if model is None:
            raise QueryError(f"error: a {queries[rows[0]].kind} query needs the index's model")
        found, found_vectors = encode([queries[i] for i in rows], model, source)
        codes[rows] = found
        if found_vectors is not None:
            for i, vector in zip(rows, found_vectors, strict=True):
                vectors[i] = vector
    return codes, vectors


def _encode_images(
    queries: Sequence[Query], model: HashModel, source: str | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Image queries (with or without metadata) in one model pass."""
    pixels = [q.image if isinstance(q.image, np.ndarray) else load_rgb(q.image, model.image_size)
              for q in queries if q.image is not None]
    records = [read_record(q.metadata) if q.metadata is not None else None for q in queries]
    given = records if any(r is not None for r in records) else None
    if source is None:
        return model.encode_images(pixels, records=given), None
    return model.encode_images_and_vectors(pixels, records=given, source=source)


def _encode_texts(
    queries: Sequence[Query], model: HashModel, source: str | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Metadata and text queries in one pass of the text encoder."""
    items = [read_record(q.metadata) if q.metadata is not None else str(q.text) for q in queries]
    if source is None:
        return model.encode_text(items), None
    return model.encode_text_and_vectors(items, source=source)
