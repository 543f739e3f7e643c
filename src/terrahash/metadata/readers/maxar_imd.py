"""Maxar / DigitalGlobe ``.IMD`` (ODL-like ``key = value;`` with ``BEGIN_GROUP``/``END_GROUP``)."""

from __future__ import annotations

import re
from typing import ClassVar

from terrahash.metadata.document import Document
from terrahash.metadata.readers._maxar_common import TOP, MaxarImdReaderBase, Tree

_LINE = re.compile(r"^\s*([A-Za-z_][\w]*)\s*=(.*)$")  # value stripped in code: no backtracking


class MaxarImdReader(MaxarImdReaderBase):
    """Text with ``BEGIN_GROUP = IMAGE_1`` and ``satId``."""

    name: ClassVar[str] = "maxar_imd"
    description: ClassVar[str] = "Maxar/DigitalGlobe .IMD image metadata (WV01-03, GE01, QB02)"

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        if doc.is_raster or doc.looks_xml or doc.looks_json:
            return False
        head = doc.text[:200_000]
        return re.search(r"^[ \t]*BEGIN_GROUP\s*=\s*IMAGE_\d", head, re.M) is not None and "satId" in head

    def tree(self, doc: Document) -> Tree:
        tree: Tree = {TOP: {}}
        group = TOP
        for line in doc.text.splitlines():
            m = _LINE.match(line)
            if not m:
                continue
            key, value = m.group(1), m.group(2).strip().removesuffix(";").strip().strip('"')
            if key == "BEGIN_GROUP":
                group = value
                tree.setdefault(group, {})
            elif key == "END_GROUP":
                group = TOP
            elif value and not value.startswith("("):
                tree[group].setdefault(key.lower(), value)
        return tree
