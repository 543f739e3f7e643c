"""Maxar / DigitalGlobe image metadata (IMD) as a ``{group: {key: value}}`` tree: the ``.IMD``
ODL text and the ``<isd><IMD>`` XML carry the same names, so both readers only build the tree
(keys lower-cased) and this base maps it.

* ``cloudCover`` is a fraction (0-1); ``-999`` means not assessed;
* GSD: ``meanProductGSD`` (else the map-projected ``productGSD``) for resampled products
  (LV2A, LV3x, ...), ``meanCollectedGSD`` for LV1x; for pan-sharpened and multispectral
  products that is the multispectral band GSD, for pan-only (``bandId=P``) products it is the
  pan GSD, which ``extra`` says;
* time: ``IMAGE_1/firstLineTime`` (UTC); the ortho product's acquisition window
  (``earliestAcqTime``/``latestAcqTime``) becomes start/end;
* corners: the first ``BAND_*`` group's ``UL/UR/LR/LL`` lon/lat (all bands share them).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

from terrahash.metadata.base import MetadataReader
from terrahash.metadata.document import Document
from terrahash.metadata.readers._vendor_common import (
    CORNERS,
    corner_footprint,
    drop_none,
    point_mean,
    valid_points,
)
from terrahash.metadata.values import cloud_percent, parse_datetime, to_float

Tree = dict[str, dict[str, str]]
#: Top-level keys live under this group name.
TOP = ""


class MaxarImdReaderBase(MetadataReader):
    """Maps an IMD tree to record fields; subclasses only build the tree."""

    description: ClassVar[str]

    @abstractmethod
    def tree(self, doc: Document) -> Tree:
        """``{"": top-level keys, "IMAGE_1": {...}, "BAND_B": {...}, ...}``, keys lower-case."""

    def read(self, doc: Document) -> list[dict[str, Any]]:
        tree = self.tree(doc)
        top = tree.get(TOP, {})
        image = next((v for k, v in tree.items() if k.startswith("IMAGE")), None)
        if image is None:
            raise self.refuse(doc, "no IMAGE_1 group (no satellite, time or angles)")
        product = next((v for k, v in tree.items() if k.startswith("MAP_PROJECTED")), {})
        band = next((v for k, v in tree.items() if k.startswith("BAND_")), {})
        corners = valid_points(
            (band.get(f"{c.lower()}lon"), band.get(f"{c.lower()}lat")) for c in CORNERS
        )
        level = top.get("productlevel")
        collected = to_float(image.get("meancollectedgsd"))
        produced = to_float(image.get("meanproductgsd")) or to_float(product.get("productgsd"))
        resampled = bool(level and not level.upper().startswith("LV1"))
        gsd = (produced or collected) if resampled else (collected or produced)
        band_id = top.get("bandid")
        centre = point_mean(corners)
        extra: dict[str, Any] = {}
        if (band_id or "").upper() == "P":
            extra["gsd_note"] = "panchromatic-only product (bandId P): gsd_m is the pan GSD"
        return [{
            "id": top.get("productorderid") or top.get("productcatalogid"),
            "platform": image.get("satid"),
            "instrument": None,  # IMDs name the band mode (bandId), never the instrument
            "processing_level": level,
            "datetime": parse_datetime(image.get("firstlinetime")),
            "start_datetime": parse_datetime(product.get("earliestacqtime")),
            "end_datetime": parse_datetime(product.get("latestacqtime")),
            "footprint": corner_footprint(corners),
            **({"center_lon": centre[0], "center_lat": centre[1]} if centre else {}),
            "gsd_m": gsd,
            "cloud_cover": cloud_percent(image.get("cloudcover"), fraction=True),
            "sun_elevation": to_float(image.get("meansunel")),
            "sun_azimuth": to_float(image.get("meansunaz")),
            "view_angle": to_float(image.get("meanoffnadirviewangle")),
            "bands": [k[5:] for k in tree if k.startswith("BAND_")] or None,
            "extra": drop_none({
                **extra,
                "band_id": band_id,
                "catalog_id": image.get("catid"),
                "product_type": top.get("producttype"),
                "pan_sharpen_algorithm": top.get("pansharpenalgorithm"),
                "cloud_cover_fraction": to_float(image.get("cloudcover")),
                "mean_collected_gsd": collected,
                "mean_product_gsd": produced,
                "mean_sat_el": to_float(image.get("meansatel")),
                "mean_sat_az": to_float(image.get("meansataz")),
            }),
        }]
