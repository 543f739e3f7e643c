"""``read_metadata``: load the built-in readers, sniff a file's format by content, read it.

A reader declares what it is (``name``, ``description``), says from a file's *content*
whether it is its format (``sniff``) and maps fields (``read`` returns dicts of record
fields). Everything else (decoding, safe parsing, UTC, centre from footprint, record
validation, error wording) happens here once.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from terrahash.errors import MetadataError
from terrahash.metadata import readers
from terrahash.metadata.base import MetadataReader, registered
from terrahash.metadata.document import Document
from terrahash.metadata.platforms import normalize_platform
from terrahash.metadata.record import SceneRecord
from terrahash.metadata.values import plain_value, provenance_of


def _load_builtin_readers() -> None:
    for info in pkgutil.iter_modules(readers.__path__):
        if info.name.startswith("_"):  # private helpers shared by a family of readers
            continue
        importlib.import_module(f"{readers.__name__}.{info.name}")


def list_readers() -> list[type[MetadataReader]]:
    """Registered readers in sniffing order."""
    _load_builtin_readers()
    return sorted(registered().values(), key=lambda r: (r.priority, r.name))


def get_reader(name: str) -> type[MetadataReader]:
    """A reader class by its format name."""
    _load_builtin_readers()
    known_readers = registered()
    try:
        return known_readers[name]
    except KeyError as exc:
        known = ", ".join(sorted(known_readers))
        raise KeyError(f"unknown metadata format {name!r}; known: {known}") from exc


def sniff(doc: Document) -> type[MetadataReader]:
    """The reader for ``doc``, chosen from its content only."""
    if not doc.is_raster and doc.looks_xml:
        doc.xml  # noqa: B018 - parse first: unsafe or malformed XML is refused before sniffing
    for reader in list_readers():
        try:
            if reader.sniff(doc):
                return reader
        except MetadataError:
            if doc.is_raster:  # a text sniffer touched ``doc.text`` of a raster: not its format
                continue
            raise
        except Exception:  # noqa: BLE001 - a sniffer must never decide by crashing
            continue
    if doc.is_raster:
        raise doc.error("raster format not recognised")
    hint = doc.root_tag
    detail = f" (XML root <{hint}>)" if hint else ""
    raise doc.error(f"unknown metadata format{detail}; see 'terrahash meta --list-formats'")


def build_record(fields: dict[str, Any], doc: Document, reader: str) -> SceneRecord:
    """Validate reader output into a record, normalising the platform name."""
    fields = dict(fields)
    fields.setdefault("source", doc.path)
    fields["format"] = reader
    if fields.get("platform") is not None:
        fields["platform"] = normalize_platform(fields["platform"])
    fields = {k: v for k, v in fields.items() if not (k == "extra" and not v)}
    if marks := provenance_of(fields):
        fields["provenance"] = {**marks, **(fields.get("provenance") or {})}
        fields = {k: plain_value(v) for k, v in fields.items()}
    try:
        return SceneRecord(**fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        # ``from None``: the message names every problem, and printing the pydantic error
        # would repr the input, which for a hostile file (a YAML alias bomb) never ends.
        raise doc.error(f"{reader}: invalid values: {problems}") from None


def read_metadata(path: str | Path, data: bytes | None = None) -> list[SceneRecord]:
    """Every scene record in one metadata file (a STAC item list gives several).

    Raises:
        MetadataError: naming the file and what is wrong with it.
    """
    doc = Document(path, data)
    reader_cls = sniff(doc)
    reader = reader_cls()
    try:
        fields_list = reader.read(doc)
    except MetadataError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, OverflowError) as exc:
        raise doc.error(f"{reader_cls.name}: could not read the file: {exc}") from exc
    if not fields_list:
        raise doc.error(f"{reader_cls.name}: no scene found in the file")
    return [build_record(f, doc, reader_cls.name) for f in fields_list]
