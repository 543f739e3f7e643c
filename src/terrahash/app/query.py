"""One query type for every front end: image, image + metadata, metadata, text or indexed id.

The CLI, the Python API and the HTTP service all build a ``Query`` and encode it here, so a
query means the same everywhere and is always encoded by the model the index was built with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from terrahash.app.concepts import Concept, concept_code
from terrahash.app.errors import QueryError
from terrahash.app.models import ModelUnavailableError
from terrahash.app.text_reading import TextReading, read_text
from terrahash.data import load_rgb
from terrahash.errors import TerraHashError
from terrahash.index import Index
from terrahash.metadata import SceneRecord, read_metadata
from terrahash.model import HashModel

QueryKind = Literal["image", "image+metadata", "metadata", "text", "id"]


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

    ``model`` may be ``None`` for id queries and for text naming a land cover in an index
    with labels (``concepts``).
    """
    return prepare_query(query, index, model, None).code


def encode_query_and_vector(
    query: Query, index: Index, model: HashModel | None, source: str | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """``encode_query``'s code and, with a ``source`` (``HashModel.VECTOR_SOURCES``), the query's
    re-ranking vector (1, D), made in the same pass as the code. An id query takes the item's
    stored embedding (dequantised; ``None`` where it has none, whatever ``source``)."""
    prepared = prepare_query(query, index, model, source)
    return prepared.code, prepared.vector


@dataclass(frozen=True)
class PreparedQuery:
    """A query's code (1, bits/8), its re-ranking vector (1, D) or ``None``, and for text how it
    was read and, when it names a land cover, the concept searched."""

    code: np.ndarray
    vector: np.ndarray | None
    reading: TextReading | None = None
    concept: Concept | None = None


def require_model(index: Index, model: HashModel | None, kind: str) -> HashModel:
    """``model``, or the error saying that a ``kind`` query needs the run the index names none of."""
    if model is None:
        raise ModelUnavailableError(
            f"{index.where}: error: a {kind} query needs the model run that built the index, and "
            "it names none (only id queries, and text naming a land cover in an index with labels, "
            "can be answered without one)"
        )
    return model


def prepare_query(
    query: Query, index: Index, model: HashModel | None, source: str | None,
    catalog: dict[str, Any] | None = None,
) -> PreparedQuery:
    """Encode ``query`` (see ``encode_query_and_vector``), reading a text query first.

    Text that names a land cover is searched by the concept's code (``concepts``); other
    text (platform, date words) goes to the text encoder as a prompt. ``catalog`` is the
    index's catalog summary (``index.info()["catalog"]``), read here when not given.
    """
    query.validate()
    if query.id is not None:
        if index.get([query.id])[0] is None:
            raise ItemNotFoundError(f"no item {query.id!r} in the index")
        code = np.asarray(index.codes_of([query.id]), dtype=np.uint8).reshape(1, -1)
        stored = index.embeddings_of([query.id]) if source is not None else None
        return PreparedQuery(code, stored if stored is not None and stored.any() else None)
    reading = None
    if query.text is not None:
        summary = catalog if catalog is not None else index.info()["catalog"]
        labels = list(summary.get("labels") or {})
        reading = read_text(query.text, labels, summary.get("platforms") or {})
        if reading.concept is not None:
            found = concept_code(reading.concept, index, model, labels, source)
            return PreparedQuery(found.code, found.vector, reading, found.concept)
    model = require_model(index, model, query.kind)
    if query.image is not None:
        return PreparedQuery(*encode_image_queries([query], model, source))
    record = read_record(query.metadata) if query.metadata is not None else None
    items = [record if record is not None else str(query.text)]
    if source is None:
        return PreparedQuery(model.encode_text(items), None, reading)
    return PreparedQuery(*model.encode_text_and_vectors(items, source=source), reading)


def encode_image_queries(
    queries: Sequence[Query], model: HashModel, source: str | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Codes (n, bits/8) of image queries (with or without a metadata file) in one model
    pass, and their re-ranking vectors (n, D) with a ``source`` (else ``None``): what
    ``prepare_query`` gives each, for a server answering concurrent requests together."""
    for query in queries:
        query.validate()
        if query.image is None or query.id is not None or query.text is not None:
            raise QueryError(f"error: encode_image_queries takes image queries, got a {query.kind} query")
    pixels = [q.image if isinstance(q.image, np.ndarray) else load_rgb(q.image, model.image_size)
              for q in queries if q.image is not None]
    records = [read_record(q.metadata) if q.metadata is not None else None for q in queries]
    given = records if any(r is not None for r in records) else None
    if given is not None and any(r is None for r in records):
        raise QueryError("error: image queries batched together either all have metadata or none")
    if source is None:
        return model.encode_images(pixels, records=given), None
    return model.encode_images_and_vectors(pixels, records=given, source=source)
