"""Landsat MTL as XML (``*_MTL.xml``, Collection 2): tag names are the ODL keys, no namespace."""

from __future__ import annotations

from typing import Any, ClassVar

from lxml import etree

from terrahash.metadata.document import Document
from terrahash.metadata.readers._landsat_common import MTL_ROOTS, LandsatMtlReader
from terrahash.metadata.values import tag


def _element_tree(element: etree._Element) -> dict[str, Any] | str:
    children = [child for child in element if tag(child)]
    if not children:
        return (element.text or "").strip()
    out: dict[str, Any] = {}
    for child in children:
        out.setdefault(tag(child), _element_tree(child))
    return out


class LandsatMtlXmlReader(LandsatMtlReader):
    """``<LANDSAT_METADATA_FILE>`` XML."""

    name: ClassVar[str] = "landsat_mtl_xml"
    description: ClassVar[str] = "Landsat MTL, XML (Collection 2)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        return not doc.is_raster and doc.root_tag in MTL_ROOTS

    def tree(self, doc: Document) -> dict[str, Any]:
        return {tag(doc.xml): _element_tree(doc.xml)}
