"""One metadata file in memory: bytes decoded once, parsed lazily and safely.

Readers never open files themselves; they look at a ``Document``. Decoding handles the
traps the archive is full of (BOMs, NUL padding, declared Windows-1251 or GB2312) and
XML is parsed with entities, DTDs and network access off, so an XXE or billion-laughs
file is refused before any reader sees it.
"""

from __future__ import annotations

import codecs
import json
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as DefusedET
from defusedxml import DefusedXmlException
from lxml import etree

from terrahash.errors import MetadataError
from terrahash.metadata.bounds import oversized

#: Largest metadata file accepted (Maxar full XML with tables is ~1 MB; STAC lists a few MB).
MAX_METADATA_BYTES = 64 * 1024 * 1024

_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9_.:\-]+)[\"']")
_XML_DECL_TEXT = re.compile(r"^\s*<\?xml[^>]*\?>")
_RASTER_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+", b"\x00\x00\x00\x0cjP  ", b"\xffO\xffQ")


class Document:
    """A metadata file's bytes with lazily decoded text and parsed views."""

    def __init__(self, path: str | Path, data: bytes | None = None) -> None:
        self.path = str(path)
        #: Whether the bytes came from ``path`` (else the caller's ``data``: an upload, a test).
        #: Only then may a reader open ``path`` itself: with given bytes it names no local file.
        self.from_disk = data is None
        if data is None:
            try:
                size = Path(path).stat().st_size
                if size > MAX_METADATA_BYTES and not self._looks_raster_path(path):
                    raise MetadataError(path, f"file is {size} bytes, larger than any metadata file")
                with open(path, "rb") as fh:
                    data = fh.read(4096) if self._looks_raster_path(path) else fh.read()
            except FileNotFoundError as exc:
                raise MetadataError(path, "no such file") from exc
            except IsADirectoryError as exc:
                raise MetadataError(path, "is a directory, not a metadata file") from exc
            except PermissionError as exc:
                raise MetadataError(path, "permission denied") from exc
        self.data = data

    @staticmethod
    def _looks_raster_path(path: str | Path) -> bool:
        try:
            with open(path, "rb") as fh:
                head = fh.read(16)
        except OSError:
            return False
        return head.startswith(_RASTER_MAGIC)

    def error(self, message: str) -> MetadataError:
        """A ``MetadataError`` naming this file."""
        return MetadataError(self.path, message)

    # -- classification ------------------------------------------------------------------
    @property
    def is_raster(self) -> bool:
        """TIFF / BigTIFF / JPEG 2000 magic bytes."""
        return self.data.startswith(_RASTER_MAGIC)

    @cached_property
    def text(self) -> str:
        """Decoded text: BOM and NUL padding removed, declared encoding honoured."""
        data = self.data
        if not data.strip(b"\x00 \t\r\n"):
            raise self.error("file is empty")
        if self.is_raster:
            raise self.error("is a raster image, not a text metadata file")
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            try:
                return data.decode("utf-16").lstrip("\ufeff")
            except UnicodeDecodeError as exc:
                raise self.error(f"invalid UTF-16 text at byte {exc.start}") from exc
        if data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8):]
        data = data.rstrip(b"\x00")  # fixed-size records padded with NULs (old Landsat MTL)
        if b"\x00" in data:
            raise self.error("binary file (contains NUL bytes), not a metadata document")
        declared = _XML_DECL.match(data[:512])
        codec = declared.group(1).decode("ascii") if declared else "utf-8"
        how = f"the XML prolog declares {codec}" if declared else "no encoding is declared"
        try:
            codecs.lookup(codec)
            text = data.decode(codec)
        except LookupError as exc:  # no such codec, or not a text encoding (rot13, base64, zlib)
            raise self.error(f"unknown encoding {codec!r} declared in the XML prolog") from exc
        except UnicodeDecodeError as exc:
            raise self.error(
                f"not valid {codec} text at byte {exc.start} ({how}); wrong encoding or binary data"
            ) from exc
        except UnicodeError as exc:  # codecs such as punycode fail without a byte position
            raise self.error(f"not valid {codec} text ({how}): {exc}") from exc
        bad = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\t\r\n\f")
        if bad > 8:
            raise self.error("binary file (control characters), not a metadata document")
        return text

    @property
    def stripped(self) -> str:
        return self.text.lstrip()

    @property
    def looks_xml(self) -> bool:
        return self.stripped.startswith("<")

    @property
    def looks_json(self) -> bool:
        return self.stripped[:1] in ("{", "[")

    # -- parsed views ---------------------------------------------------------------------
    @cached_property
    def xml(self) -> etree._Element:
        """Root element with namespaces stripped to local names (attributes too)."""
        text = _XML_DECL_TEXT.sub("", self.text, count=1)
        try:
            DefusedET.fromstring(text, forbid_dtd=False, forbid_entities=True, forbid_external=True)
        except DefusedXmlException as exc:
            raise self.error(
                f"XML refused: {type(exc).__name__} (entity declarations and external references "
                "are not allowed in metadata)"
            ) from exc
        except DefusedET.ParseError as exc:
            raise self.error(f"malformed XML: {exc}") from exc
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
            remove_comments=True, remove_pis=True,
        )
        try:
            root = etree.fromstring(text, parser)
        except etree.XMLSyntaxError as exc:
            raise self.error(f"malformed XML: {exc}") from exc
        for el in root.iter():
            if isinstance(el.tag, str):
                el.tag = etree.QName(el).localname
                for key in list(el.attrib):
                    if key.startswith("{"):
                        el.attrib[etree.QName(key).localname] = el.attrib.pop(key)
        etree.cleanup_namespaces(root)
        return root

    @cached_property
    def json(self) -> Any:
        try:
            return json.loads(self.text)
        except json.JSONDecodeError as exc:
            raise self.error(f"malformed JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
        except RecursionError as exc:
            raise self.error("malformed JSON: nested too deeply") from exc
        except ValueError as exc:  # a number of thousands of digits (Python's int conversion limit)
            raise self.error(f"malformed JSON: {exc}") from exc

    @cached_property
    def yaml(self) -> Any:
        import yaml

        # libyaml when present: fast, and it refuses deep nesting with a YAMLError (the pure
        # Python loader spends seconds recursing into ``[[[[...`` before a RecursionError).
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            data = yaml.load(self.text, Loader=loader)
        except yaml.YAMLError as exc:
            raise self.error(f"malformed YAML: {_yaml_problem(exc)}") from exc
        except RecursionError as exc:
            raise self.error("malformed YAML: nested too deeply") from exc
        except ValueError as exc:  # a number of thousands of digits (Python's int conversion limit)
            raise self.error(f"malformed YAML: {exc}") from exc
        # Without aliases a document cannot hold more values than it has characters; past that,
        # anchors multiply them (a YAML billion laughs), and every later walk or str() hangs.
        if problem := oversized(data, max_depth=10_000, max_values=max(len(self.text), 1000)):
            raise self.error(f"YAML refused: the document {problem} (alias expansion)")
        return data

    @property
    def root_tag(self) -> str | None:
        """Local name of the XML root, or ``None`` for non-XML (cheap: no full parse)."""
        if not self.looks_xml:
            return None
        match = re.search(r"<(?![?!])(?:[\w.-]+:)?([\w.-]+)", self.text)
        return match.group(1) if match else None


def _yaml_problem(exc: Exception) -> str:
    """A YAML error on one line (PyYAML's own text spans several): problem, place, context."""
    problem = getattr(exc, "problem", None)
    if not problem:
        return " ".join(str(exc).split())
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    context = getattr(exc, "context", None)
    return f"{problem}{where}" + (f" ({context})" if context else "")
