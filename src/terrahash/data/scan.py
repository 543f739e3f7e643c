"""Archive scan: pair raster files with their metadata sidecars, one ``Scene`` per product.

An archive folder mixes band files (``..._B2.TIF``), metadata sidecars (``..._MTL.txt``,
``MTD_MSIL1C.xml``) and unrelated files. Files are classified by *content* (raster magic
bytes; ``read_metadata`` sniffing for sidecars), band files of one product are grouped,
and a sidecar is paired only when its product identity matches the rasters' exactly
(Landsat product id, Sentinel-2 tile + sensing day, or the same file stem): a sidecar of
another date in the same folder stays unpaired rather than lending a wrong date.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from terrahash.data.stac_scan import image_asset, item_labels, item_record, stac_items, stac_type
from terrahash.errors import DatasetError, TerraHashError
from terrahash.metadata import SceneRecord, read_metadata

#: TIFF, BigTIFF and JPEG 2000 (JP2 box and raw codestream) magic bytes.
RASTER_MAGIC = (
    b"II*\x00",
    b"MM\x00*",
    b"II+\x00",
    b"MM\x00+",
    b"\x00\x00\x00\x0cjP  ",
    b"\xffO\xffQ",
)
#: Files larger than this are never sniffed as metadata sidecars.
MAX_SIDECAR_BYTES = 16 * 1024 * 1024

_LANDSAT_ID = re.compile(
    r"L(?P<sensor>[COTEM])(?P<sat>\d{2})_(?P<level>L\d[A-Z]{2})_(?P<pathrow>\d{6})_(?P<date>\d{8})"
    r"(?:_\d{8})?_(?P<collection>\d{2})_(?P<tier>T1|T2|RT|A1|A2)"
)
_LANDSAT_SCENE = re.compile(
    r"L(?P<sensor>[COTEM])(?P<sat>\d)(?P<pathrow>\d{6})(?P<yeardoy>\d{7})[A-Z]{3}\d{2}"
)
_S2_TILE = re.compile(r"(?:^|[_.])T(?P<tile>\d{2}[C-X][A-Z]{2})(?=$|[_.])")
_S2_STAMP = re.compile(r"(?:^|_)(?P<day>\d{8})T\d{6}(?=$|_)")
_S2_VALIDITY = re.compile(r"_V(?P<day>\d{8})T\d{6}(?=$|_)")
#: Band suffix of a band file's stem (``_B2``, ``_B04_10m``, ``_SR_B4``, ``_SZA``, ``_QA_PIXEL``).
_BAND_SUFFIX = re.compile(
    r"[_.-](?P<band>(?:SR_|ST_)?B\d{1,2}A?|TCI|SCL|AOT|WVP|SZA|SAA|VZA|VAA|QA_PIXEL|QA_RADSAT|BQA)"
    r"(?:_\d+m)?$",
    re.IGNORECASE,
)
_SIDECAR_SUFFIX = re.compile(r"[_.-](MTL|MTD(_\w+)?|ANG|meta(data)?|info|stac|PVL)$", re.IGNORECASE)
_TILE_SUFFIX = re.compile(r"_R\d+C\d+$")  # DIMAP image tiles (IMG_..._R1C1.JP2)
_VENDOR_PREFIX = re.compile(r"^(DIM|IMG)_")
#: Bands that are not reflectance: listed with the scene but never put in a composite.
AUX_BANDS = frozenset({"SZA", "SAA", "VZA", "VAA", "QA_PIXEL", "QA_RADSAT", "BQA", "SCL", "AOT", "WVP"})


def canonical_band(band: str) -> str:
    """``B04``/``SR_B4``/``b4`` -> ``B4``; ``B8A`` stays; angle/QA names upper-cased."""
    name = band.upper()
    name = re.sub(r"^(SR|ST)_", "", name)
    if m := re.fullmatch(r"B0*(\d{1,2})(A?)", name):
        return f"B{int(m.group(1))}{m.group(2)}"
    return name


def split_band(stem: str) -> tuple[str, str | None]:
    """A raster file stem -> (product stem, band name or ``None``)."""
    if m := _BAND_SUFFIX.search(stem):
        return stem[: m.start()], m.group("band")
    return stem, None


def product_keys(text: str) -> set[tuple[str, ...]]:
    """Identity keys a name or id states: Landsat product, Sentinel-2 tile + day, file stem.

    The Landsat key leaves out the processing date, which some archives drop from file
    names (``LE07_L2SP_225078_20110306_02_T1_B1.tif``); every other id part must agree.
    """
    keys: set[tuple[str, ...]] = set()
    for m in _LANDSAT_ID.finditer(text):
        keys.add(
            (
                "landsat",
                m["sensor"] + m["sat"],
                m["level"],
                m["pathrow"],
                m["date"],
                m["collection"],
                m["tier"],
            )
        )
    for m in _LANDSAT_SCENE.finditer(text):
        keys.add(("landsat-scene", m["sensor"] + m["sat"], m["pathrow"], m["yeardoy"]))
    tile, stamp = _S2_TILE.search(text), _S2_STAMP.search(text)
    if "_OPER_" in text:  # OPER names lead with the processing time; sensing is _V<stamp>
        stamp = _S2_VALIDITY.search(text)
    if tile and stamp:
        keys.add(("s2", tile["tile"], stamp["day"]))
    return keys


def _stem_key(path: Path) -> tuple[str, ...]:
    stem, _ = split_band(path.stem)
    stem = _TILE_SUFFIX.sub("", _SIDECAR_SUFFIX.sub("", _VENDOR_PREFIX.sub("", stem)))
    return ("stem", str(path.parent), stem.upper())


def _record_keys(record: SceneRecord) -> set[tuple[str, ...]]:
    keys = product_keys(record.id or "")
    tile = next(
        (str(v) for k, v in record.extra.items() if k in ("tile_id", "mgrs_tile", "tile") and v),
        None,
    )
    platform = record.platform or ""
    if tile and record.datetime is not None and platform.startswith("sentinel-2"):
        keys.add(("s2", tile.upper().removeprefix("T"), record.datetime.strftime("%Y%m%d")))
    return keys


@dataclass(frozen=True)
class BandFile:
    """One raster file of a scene."""

    path: Path
    #: Band token from the file name (``B4``, ``SZA``), ``None`` for a whole-product file.
    band: str | None

    @property
    def canonical(self) -> str | None:
        return canonical_band(self.band) if self.band else None


@dataclass
class Scene:
    """One product: its band files, its sidecar (if any) and its record."""

    scene_id: str
    bands: list[BandFile]
    record: SceneRecord
    sidecar: Path | None = None
    #: Further sidecars of the same product (e.g. MTL in txt and json).
    other_sidecars: list[Path] = field(default_factory=list)
    #: Labels the archive gives the scene (a STAC Item's ``terrahash:labels``); usually none.
    labels: tuple[str, ...] = ()

    def band(self, name: str) -> BandFile | None:
        """The band file whose canonical name is ``name`` (``B4`` matches ``B04``)."""
        want = canonical_band(name)
        return next((b for b in self.bands if b.canonical == want), None)

    def to_json_dict(self) -> dict[str, Any]:
        rec = self.record
        return {
            "scene_id": self.scene_id,
            "bands": {b.band or b.path.stem: str(b.path) for b in self.bands},
            "sidecar": str(self.sidecar) if self.sidecar else None,
            "other_sidecars": [str(p) for p in self.other_sidecars],
            "platform": rec.platform,
            "datetime": rec.to_json_dict()["datetime"],
            "labels": list(self.labels),
            "record": rec.to_json_dict(),
        }


@dataclass
class ScanResult:
    """Everything found under a folder."""

    root: Path
    scenes: list[Scene]
    #: Metadata files no raster matched: (path, records).
    unpaired_sidecars: list[tuple[Path, list[SceneRecord]]]
    #: Files that are neither: (path, why).
    other: list[tuple[Path, str]]

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "scenes": [s.to_json_dict() for s in self.scenes],
            "unpaired_sidecars": [
                {
                    "path": str(p),
                    "ids": [r.id for r in recs],
                    "platform": recs[0].platform,
                    "datetime": recs[0].to_json_dict()["datetime"],
                }
                for p, recs in self.unpaired_sidecars
            ],
            "other": [{"path": str(p), "why": why} for p, why in self.other],
        }


def is_raster(path: Path) -> bool:
    """TIFF / JPEG 2000 by magic bytes (content, not extension)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(16).startswith(RASTER_MAGIC)
    except OSError:
        return False


def raster_record(path: Path) -> SceneRecord:
    """A raster's own record (georeferencing, tags, standard product name) from the ``raster`` reader.

    Raises:
        DatasetError: the file cannot be read as a raster.
    """
    try:
        return read_metadata(path)[0]
    except TerraHashError as exc:
        raise DatasetError(str(exc)) from exc


def _walk(root: Path) -> Iterable[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts):
            yield path


def _classify(
    paths: Iterable[Path],
) -> tuple[list[Path], list[tuple[Path, list[SceneRecord]]], list[tuple[Path, str]]]:
    rasters: list[Path] = []
    sidecars: list[tuple[Path, list[SceneRecord]]] = []
    other: list[tuple[Path, str]] = []
    for path in paths:
        if is_raster(path):
            rasters.append(path)
            continue
        if path.stat().st_size > MAX_SIDECAR_BYTES:
            other.append((path, "too large for a metadata file"))
            continue
        try:
            sidecars.append((path, read_metadata(path)))
        except (TerraHashError, ValueError) as exc:
            other.append((path, str(exc).split(": error: ", 1)[-1]))
    return rasters, sidecars, other


def scan_archive(root: str | Path) -> ScanResult:
    """Walk ``root`` and pair its rasters with their sidecars into scenes; or, for a static
    STAC catalog or ItemCollection file, take each Item's image and properties (``scan_stac``).

    Raises:
        DatasetError: ``root`` is neither a folder nor a STAC file.
    """
    root = Path(root)
    if root.is_file() and stac_type(root) is not None:
        return scan_stac(root)
    if not root.is_dir():
        raise DatasetError(
            f"{root}: error: not a folder, nor a STAC catalog, collection or ItemCollection JSON file"
        )
    rasters, sidecars, other = _classify(_walk(root))
    groups: dict[tuple[Path, str], list[BandFile]] = {}
    for path in rasters:
        stem, band = split_band(path.stem)
        groups.setdefault((path.parent, stem), []).append(BandFile(path, band))
    sidecar_keys = [
        (
            path,
            recs,
            {_stem_key(path)} | {k for r in recs for k in _record_keys(r)} | product_keys(path.name),
        )
        for path, recs in sidecars
    ]
    used: set[Path] = set()
    scenes: list[Scene] = []
    for (_, stem), bands in groups.items():
        bands.sort(key=lambda b: (b.canonical is None, _band_order(b.canonical), str(b.path)))
        try:
            record = raster_record(bands[0].path)
        except DatasetError as exc:  # one broken file must not stop the scan of an archive
            other.extend((b.path, str(exc).split(": error: ", 1)[-1]) for b in bands)
            continue
        keys = product_keys(bands[0].path.name) | product_keys(record.id or "") | {_stem_key(bands[0].path)}
        matches = [(p, recs) for p, recs, skeys in sidecar_keys if keys & skeys]
        # the sidecar nearest the band files wins (a granule's MTD_TL over the product MTD)
        matches.sort(key=lambda m: (-_shared_depth(m[0], bands[0].path), str(m[0])))
        scene = Scene(scene_id=record.id or stem, bands=bands, record=record)
        if matches:
            scene.sidecar, recs = matches[0]
            scene.other_sidecars = [p for p, _ in matches[1:]]
            scene.record = _pick_record(recs, keys)
            scene.scene_id = scene.record.id or scene.scene_id
            used.update(p for p, _ in matches)
        scene.scene_id = _unique(scene.scene_id, {s.scene_id for s in scenes})
        scenes.append(scene)
    unpaired = [(p, recs) for p, recs in sidecars if p not in used]
    return ScanResult(root, scenes, unpaired, other)


def scan_stac(path: str | Path) -> ScanResult:
    """One scene per Item of a static STAC catalog, collection or ItemCollection: its local
    image asset as the raster, its properties as the record, its file as the sidecar.

    Raises:
        DatasetError: a broken catalog, or an Item whose image is missing, remote or absent
            (naming the Item's file).
    """
    path = Path(path)
    scenes: list[Scene] = []
    for item, where in stac_items(path):
        _, image = image_asset(item, where)
        scene_id = _unique(item.id, {s.scene_id for s in scenes})
        scenes.append(Scene(scene_id, [BandFile(image, None)], item_record(item, where), where,
                            labels=item_labels(item)))
    return ScanResult(path, scenes, [], [])


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name-2``, ``name-3``... so every scene gets its own tile folder."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}-{n}"
    return candidate


def _shared_depth(a: Path, b: Path) -> int:
    depth = 0
    for x, y in zip(a.parent.parts, b.parent.parts, strict=False):
        if x != y:
            break
        depth += 1
    return depth


def _band_order(band: str | None) -> tuple[int, str]:
    if band and (m := re.fullmatch(r"B(\d+)(A?)", band)):
        return (int(m.group(1)), m.group(2))
    return (99, band or "")


def _pick_record(records: list[SceneRecord], keys: set[tuple[str, ...]]) -> SceneRecord:
    """The sidecar record of this product (a multi-record file may list several)."""
    return next((r for r in records if _record_keys(r) & keys), records[0])
