"""A static STAC catalog or ItemCollection as an archive: each Item's local image is one scene.

Archives catalogued in STAC already say which file is the image and what was acquired when,
so ``terrahash scan`` takes the Item's image asset as the scene's raster and its properties
(through the ``stac_item`` metadata reader, the same mapping as any STAC sidecar) as the
scene's record. Only local files are read: a remote href is refused naming the Item's file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pystac

from terrahash.errors import DatasetError, TerraHashError
from terrahash.metadata import SceneRecord, read_metadata

#: Asset roles that hold the picture, preferred first.
IMAGE_ROLES = ("visual", "data")
#: Media types (up to their first ``;``) of rasters the image decoder reads.
IMAGE_TYPES = ("image/tiff", "image/jp2", "image/png", "image/jpeg")
#: Raster file suffixes, for assets that declare no media type.
IMAGE_SUFFIXES = (".tif", ".tiff", ".jp2", ".png", ".jpg", ".jpeg")
#: Item properties that carry labels (ours first: what ``index export`` writes).
LABEL_KEYS = ("terrahash:labels", "terrahash:label")
#: The STAC documents ``scan`` accepts, by their ``type``.
STAC_TYPES = ("Catalog", "Collection", "FeatureCollection", "Feature")


def stac_type(path: Path) -> str | None:
    """The STAC ``type`` of a JSON file (``Catalog``, ``FeatureCollection`` ...), else ``None``."""
    if not path.is_file() or path.suffix.lower() not in (".json", ".geojson"):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            kind = json.load(fh).get("type")
    except (OSError, ValueError, AttributeError):
        return None
    return kind if kind in STAC_TYPES else None


def stac_items(path: Path) -> list[tuple[pystac.Item, Path]]:
    """Every Item of a catalog (recursively), collection, ItemCollection or single Item, with
    the file its relative hrefs are relative to.

    Raises:
        DatasetError: the file is not a STAC document pystac can read, or a link is broken.
    """
    kind = stac_type(path)
    if kind is None:
        raise DatasetError(f"{path}: error: not a STAC catalog, collection, ItemCollection or Item")
    try:
        if kind == "FeatureCollection":
            return [(item, path) for item in pystac.ItemCollection.from_file(str(path))]
        if kind == "Feature":
            return [(pystac.Item.from_file(str(path)), path)]
        catalog = pystac.Catalog.from_file(str(path))
        return [(item, Path(item.get_self_href() or path)) for item in catalog.get_items(recursive=True)]
    except (OSError, ValueError, KeyError, TypeError, pystac.STACError) as exc:
        raise DatasetError(f"{path}: error: cannot read the STAC {kind}: {exc}") from exc


def image_asset(item: pystac.Item, where: Path) -> tuple[str, Path]:
    """The Item's image asset: (key, local path), the href resolved against the Item's file.

    Raises:
        DatasetError: no image asset, a remote href, or a file that does not exist; the
            message names the Item's file, the Item and the asset.
    """
    candidates = [(k, a) for k, a in item.assets.items() if _is_image(a)]
    for role in IMAGE_ROLES:
        found = [(k, a) for k, a in candidates if role in (a.roles or [])]
        if found:
            key, asset = found[0]
            break
    else:
        raise DatasetError(
            f"{where}: error: item {item.id!r} has no image asset (role visual or data, "
            f"type {'/'.join(IMAGE_TYPES)})"
        )
    href = asset.href
    url = urlparse(href)
    if url.scheme and url.scheme != "file" and len(url.scheme) > 1:  # "C:" is a drive
        raise DatasetError(
            f"{where}: error: item {item.id!r} asset {key!r} is remote ({href}); scan reads local files only"
        )
    local = Path(unquote(url.path)) if url.scheme == "file" else Path(href)
    if not local.is_absolute():
        local = where.parent / local
    if not local.is_file():
        raise DatasetError(f"{where}: error: item {item.id!r} asset {key!r}: file {local} not found")
    return key, local.resolve()


def _is_image(asset: pystac.Asset) -> bool:
    media = (asset.media_type or "").split(";")[0].strip().lower()
    if media:
        return media in IMAGE_TYPES
    return Path(urlparse(asset.href).path).suffix.lower() in IMAGE_SUFFIXES


def item_record(item: pystac.Item, where: Path) -> SceneRecord:
    """The record of one Item, read by the ``stac_item`` metadata reader (source: its file).

    Raises:
        DatasetError: the Item's properties are invalid (the message names the file).
    """
    document = json.dumps(item.to_dict(include_self_link=False, transform_hrefs=False)).encode()
    try:
        return read_metadata(where, document)[0]
    except TerraHashError as exc:
        raise DatasetError(str(exc)) from exc


def item_labels(item: pystac.Item) -> tuple[str, ...]:
    """The Item's labels (``terrahash:labels`` or ``terrahash:label``), if any."""
    for key in LABEL_KEYS:
        value: Any = item.properties.get(key)
        if isinstance(value, str) and value:
            return (value,)
        if isinstance(value, list):
            return tuple(str(v) for v in value if v)
    return ()
