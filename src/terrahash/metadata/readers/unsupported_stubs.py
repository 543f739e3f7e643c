"""Formats recognised only to be refused with a clear reason (GDAL metadata-reader test stubs).

The only samples of these formats are GDAL autotest stubs: trimmed or synthetic files (the
Resurs-DK1 sample images Kaluga at 19:00, i.e. at night). Without a real product to check
units, time zones and fields against, parsing them would be guessing, so each is recognised
by its content and refused. The RapidEye stub (``re:EarthObservation`` without namespace
declarations) is not well-formed XML and is already refused by ``Document`` as malformed.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document


class UnsupportedStubFormat(MetadataReader):
    """Recognise a format by a content regex and refuse it with ``reason``."""

    #: Pattern that identifies the format in the first 4 KB of text.
    pattern: ClassVar[re.Pattern[str]]
    #: Why it is refused (shown after the format name).
    reason: ClassVar[str] = (
        "only GDAL's trimmed test stubs of this format were available, so its fields, units "
        "and time zone could not be verified"
    )

    @classmethod
    def sniff(cls, doc: Document) -> bool:
        return not doc.is_raster and cls.pattern.search(doc.text[:4096]) is not None

    def read(self, doc: Document) -> list[dict[str, Any]]:
        raise self.refuse(doc, f"GDAL test stub / {self.description} not supported: {self.reason}")


class ErosPassStub(UnsupportedStubFormat):
    name: ClassVar[str] = "gdal_stub_eros_pass"
    description: ClassVar[str] = "EROS-A/B .pass (ImageSat whitespace key value)"
    pattern: ClassVar[re.Pattern[str]] = re.compile(
        r"^satellite\s+EROS\S*\s*$.*^sweep_start_utc\s", re.M | re.S
    )


class Kompsat2TabStub(UnsupportedStubFormat):
    name: ClassVar[str] = "gdal_stub_kompsat2_txt"
    description: ClassVar[str] = "KOMPSAT-2 TAB-separated AUX text"
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"^AUX_SATELLITE_NAME\t", re.M)


class ResursDk1MspStub(UnsupportedStubFormat):
    name: ClassVar[str] = "gdal_stub_resurs_dk1_msp"
    description: ClassVar[str] = "Resurs-DK1 MSP passport (<MSP_ROOT>)"
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"<MSP_ROOT>")
