"""Cut scanned scenes into fixed-size 8-bit tiles at pyramid levels, written as a dataset folder.

Each tile is a PNG plus one ``manifest.csv`` row with its own WGS84 footprint and centre, the
scene's date and platform, and its own cloud cover: counted in the product's cloud mask
(Landsat ``QA_PIXEL``/``BQA``, Sentinel-2 ``SCL``) where the scene has one, else empty, with
the scene's figure kept as ``scene_cloud_cover``, so the folder loads with ``load_dataset`` and
feeds ``train``/``index`` like any labelled set (``label`` is the scene's labels, which only
STAC Items carry: an archive is unlabelled). Level ``L`` reads windows ``2**(L-1)`` times
larger, decimated to the tile size, so one tile size covers several ground scales.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from terrahash.data.dataset import record_from_row
from terrahash.data.scan import AUX_BANDS, BandFile, Scene, canonical_band
from terrahash.data.stretch import robust_limits, to_uint8
from terrahash.errors import DatasetError
from terrahash.metadata.record import SceneRecord

MANIFEST_COLUMNS = (
    "path",
    "label",
    "id",
    "platform",
    "sensor",
    "date",
    "lat",
    "lon",
    "bbox_wgs84",
    "epsg",
    "gsd_m",
    "cloud_cover",
    "scene_cloud_cover",
    "level",
    "scene_id",
)
#: Cloud masks by band name: which pixels are cloud, and which hold no data (not counted).
#: Landsat C2 ``QA_PIXEL``: bit 0 fill, bit 3 cloud; C1 ``BQA``: bit 0 fill, bit 4 cloud;
#: Sentinel-2 L2A ``SCL``: 0 no data, 8/9 cloud medium/high probability, 10 thin cirrus.
CLOUD_MASKS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    "QA_PIXEL": (lambda q: (q & (1 << 3)) != 0, lambda q: (q & 1) != 0),
    "BQA": (lambda q: (q & (1 << 4)) != 0, lambda q: (q & 1) != 0),
    "SCL": (lambda c: np.isin(c, (8, 9, 10)), lambda c: c == 0),
}
#: True-colour band triplets by platform family (red, green, blue).
RGB_BANDS: dict[str, tuple[str, str, str]] = {
    "landsat-8": ("B4", "B3", "B2"),
    "landsat-9": ("B4", "B3", "B2"),
    "landsat-4": ("B3", "B2", "B1"),
    "landsat-5": ("B3", "B2", "B1"),
    "landsat-7": ("B3", "B2", "B1"),
    "sentinel-2": ("B4", "B3", "B2"),
}


@dataclass(frozen=True)
class TileSpec:
    """How to cut: tile edge in pixels, pyramid levels, minimum valid-pixel fraction, and the
    step between windows (``stride``, at level 1; default the tile size: no overlap)."""

    tile_size: int = 256
    levels: tuple[int, ...] = (1,)
    min_valid: float = 0.5
    stride: int | None = None

    def __post_init__(self) -> None:
        if self.tile_size < 8:
            raise DatasetError(f"tile size must be at least 8 pixels, got {self.tile_size}")
        if self.stride is not None and self.stride < 1:
            raise DatasetError(f"stride must be at least 1 pixel, got {self.stride}")
        if not self.levels or min(self.levels) < 1:
            raise DatasetError(f"levels must be 1 or more (1 = native resolution), got {self.levels}")
        if not 0.0 <= self.min_valid <= 1.0:
            raise DatasetError(f"min valid fraction must be within [0, 1], got {self.min_valid}")


@dataclass(frozen=True)
class Tile:
    """One tile's window (native pixels) and its geography."""

    scene_id: str
    level: int
    row_off: int
    col_off: int
    size: int  # window edge in native pixels
    center: tuple[float, float]  # (lon, lat)
    bbox: tuple[float, float, float, float]  # (west, south, east, north)

    @property
    def id(self) -> str:
        return f"{self.scene_id}_L{self.level}_r{self.row_off:05d}_c{self.col_off:05d}"


@dataclass(frozen=True)
class TilingResult:
    """What ``write_tiles`` wrote, so callers report it without re-reading the manifest."""

    manifest: Path
    count: int  # tiles written (manifest rows)


def composite_bands(scene: Scene, bands: Sequence[str] | None = None) -> list[tuple[BandFile, int]]:
    """(file, band index) of the red, green, blue layers, or of one grey layer.

    Explicit ``bands`` must all exist; otherwise the platform's true-colour triplet is used
    when present, then the first three layers of a multi-band file, then one grey band.

    Raises:
        DatasetError: a requested band is missing.
    """
    import rasterio

    if bands:
        chosen = []
        for name in bands:
            found = scene.band(name)
            if found is None:
                have = ", ".join(b.band or b.path.name for b in scene.bands)
                raise DatasetError(f"{scene.scene_id}: error: no band {name!r} (bands: {have})")
            chosen.append((found, 1))
        return chosen
    platform = scene.record.platform or ""
    family = "sentinel-2" if platform.startswith("sentinel-2") else platform
    triplet = RGB_BANDS.get(family)
    if triplet and all(scene.band(b) is not None for b in triplet):
        return [(scene.band(b), 1) for b in triplet]  # type: ignore[misc]
    spectral = [b for b in scene.bands if (b.canonical or "") not in AUX_BANDS] or scene.bands
    with rasterio.open(spectral[0].path) as ds:
        count = ds.count
    if count >= 3:
        return [(spectral[0], 1), (spectral[0], 2), (spectral[0], 3)]
    return [(spectral[0], 1)]


class _Stack:
    """The composite's open datasets, checked to share one grid."""

    def __init__(self, layers: list[tuple[BandFile, int]], scene_id: str) -> None:
        import rasterio

        self.layers = layers
        self.datasets: dict[Path, Any] = {}
        for band, _ in layers:
            if band.path not in self.datasets:
                self.datasets[band.path] = rasterio.open(band.path)
        first = self.datasets[layers[0][0].path]
        for ds in self.datasets.values():
            if (ds.width, ds.height, ds.transform, ds.crs) != (
                first.width,
                first.height,
                first.transform,
                first.crs,
            ):
                raise DatasetError(
                    f"{ds.name}: error: band grid differs from {first.name}; "
                    f"cannot composite scene {scene_id} (choose bands with --bands)"
                )
        if first.crs is None:
            raise DatasetError(f"{first.name}: error: raster has no CRS; cannot place tiles on Earth")
        self.ref = first

    def close(self) -> None:
        for ds in self.datasets.values():
            ds.close()

    def nodata(self, path: Path) -> float:
        value = self.datasets[path].nodata
        return 0.0 if value is None or math.isnan(value) else float(value)

    def read(self, window: Any, out: int) -> tuple[np.ndarray, np.ndarray]:
        """(float32 layers (n, out, out), valid mask (out, out)) of a native-pixel window."""
        layers, valid = [], np.zeros((out, out), dtype=bool)
        for band, index in self.layers:
            ds = self.datasets[band.path]
            nodata = self.nodata(band.path)
            data = read_window(ds, index, window, (out, out), nodata).astype(np.float32)
            good = (data != nodata) & np.isfinite(data)
            valid |= good
            layers.append(np.where(good, data, np.nan))
        return np.stack(layers), valid


def read_window(ds: Any, index: int, window: Any, out_shape: tuple[int, int], fill: float) -> np.ndarray:
    """Band ``index`` of a native-pixel ``window`` read to ``out_shape`` (nearest), pixels
    outside the raster set to ``fill``.

    A native-resolution window reaching past the edge is read clipped and padded here:
    rasterio's boundless read builds a warped VRT per call, which on a Sentinel-2 JP2 costs
    70-115 ms a window against under 0.1 ms inside, and edge windows are a few percent of a
    tiling (the pixels are the same). Decimated windows keep the boundless read: GDAL may
    take them from the file's overviews, which a padded copy would not reproduce.
    """
    from rasterio.enums import Resampling
    from rasterio.windows import Window

    row0, col0 = int(window.row_off), int(window.col_off)
    height, width = int(window.height), int(window.width)
    inside = row0 >= 0 and col0 >= 0 and row0 + height <= ds.height and col0 + width <= ds.width
    if inside or tuple(out_shape) != (height, width):
        return ds.read(index, window=window, out_shape=out_shape, boundless=not inside,
                       fill_value=fill, resampling=Resampling.nearest)
    full = np.full((height, width), fill, dtype=ds.dtypes[index - 1])
    r1, c1 = max(row0, 0), max(col0, 0)
    r2, c2 = min(row0 + height, ds.height), min(col0 + width, ds.width)
    if r2 > r1 and c2 > c1:
        clipped = Window(c1, r1, c2 - c1, r2 - r1)
        full[r1 - row0:r2 - row0, c1 - col0:c2 - col0] = ds.read(index, window=clipped)
    return full


def stretch_limits(stack: _Stack, max_side: int = 1024) -> list[tuple[float, float]]:
    """Per-layer stretch limits (``robust_limits``) from one decimated read of the scene."""
    from rasterio.windows import Window

    ref = stack.ref
    scale = max(ref.width, ref.height) / max_side
    shape = (max(1, round(ref.height / max(scale, 1))), max(1, round(ref.width / max(scale, 1))))
    limits = []
    for band, index in stack.layers:
        ds = stack.datasets[band.path]
        data = ds.read(index, window=Window(0, 0, ds.width, ds.height), out_shape=shape).astype(np.float32)
        good = data[(data != stack.nodata(band.path)) & np.isfinite(data)]
        if good.size == 0:
            limits.append((0.0, 1.0))
            continue
        limits.append(robust_limits(good))
    return limits


def read_composite(scene: Scene, max_side: int = 4096, bands: Sequence[str] | None = None) -> np.ndarray:
    """The scene's stretched 8-bit composite (h, w, 3), decimated so its longer side <= ``max_side``.

    Pretraining cuts random tiles from this on the fly instead of writing tile files; the
    stretch is the one ``write_tiles`` applies, so both see the same radiometry.
    """
    from rasterio.windows import Window

    stack = _Stack(composite_bands(scene, bands), scene.scene_id)
    try:
        ref = stack.ref
        side = max(ref.width, ref.height)
        scale = max(1.0, side / max_side)
        out = max(1, round(side / scale))
        layers, _ = stack.read(Window(0, 0, side, side), out)
        rgb = to_uint8(layers, stretch_limits(stack))
    finally:
        stack.close()
    h, w = max(1, round(ref.height / scale)), max(1, round(ref.width / scale))
    rgb = rgb[:h, :w]
    return np.repeat(rgb, 3, axis=2) if rgb.shape[2] == 1 else rgb


def tile_windows(
    width: int, height: int, tile_size: int, level: int, stride: int | None = None
) -> Iterator[tuple[int, int, int]]:
    """(row_off, col_off, native size) of every window covering a grid at one level, one
    ``stride`` (level-1 pixels, default ``tile_size``) apart."""
    size = tile_size * 2 ** (level - 1)
    step = (stride or tile_size) * 2 ** (level - 1)
    for row in range(0, height, step):
        for col in range(0, width, step):
            yield row, col, size


def tile_geometry(
    ds: Any, row_off: int, col_off: int, size: int
) -> tuple[tuple[float, float], tuple[float, float, float, float]]:
    """((lon, lat) of the window's centre, WGS84 bbox of its footprint)."""
    from rasterio.warp import transform, transform_bounds
    from rasterio.windows import Window, bounds

    x, y = ds.transform @ (col_off + size / 2.0, row_off + size / 2.0)
    lons, lats = transform(ds.crs, "EPSG:4326", [x], [y])
    w, s, e, n = bounds(Window(col_off, row_off, size, size), ds.transform)
    bbox = transform_bounds(ds.crs, "EPSG:4326", w, s, e, n, densify_pts=21)
    return (float(lons[0]), float(lats[0])), tuple(float(v) for v in bbox)  # type: ignore[return-value]


def _date_text(scene: Scene) -> str:
    rec = scene.record
    if rec.datetime is None:
        return ""
    if rec.extra.get("datetime_precision") == "day":
        return rec.datetime.strftime("%Y-%m-%d")
    return rec.to_json_dict()["datetime"]


def _native_gsd(ds: Any) -> float | None:
    if ds.crs is None or not ds.crs.is_projected:
        return None
    return abs(float(ds.transform.a))


def count_windows(scenes: Sequence[Scene], spec: TileSpec) -> int:
    """How many windows ``write_tiles`` will visit (for a progress total)."""
    import rasterio

    total = 0
    for scene in scenes:
        with rasterio.open(scene.bands[0].path) as ds:
            for level in spec.levels:
                step = (spec.stride or spec.tile_size) * 2 ** (level - 1)
                total += math.ceil(ds.width / step) * math.ceil(ds.height / step)
    return total


def write_tiles(
    scenes: Sequence[Scene],
    out_dir: str | Path,
    spec: TileSpec = TileSpec(),
    bands: Sequence[str] | None = None,
    progress: Callable[[int], None] | None = None,
    overwrite: bool = False,
) -> TilingResult:
    """Write every scene's tiles and a ``manifest.csv`` under ``out_dir``.

    Args:
        scenes: from ``scan_archive(...).scenes``.
        out_dir: the dataset folder to create.
        spec: tile size, levels and the valid-pixel threshold.
        bands: band names for the composite (``["B4", "B3", "B2"]``); default per platform.
        progress: called with 1 per window visited (``count_windows`` gives the total).
        overwrite: replace an existing manifest in ``out_dir``.

    Returns:
        The manifest path and the number of tiles written.

    Raises:
        DatasetError: ``out_dir`` already holds a dataset, or a scene cannot be composited.
    """
    from PIL import Image

    out_dir = Path(out_dir)
    manifest = out_dir / "manifest.csv"
    if manifest.exists() and not overwrite:
        raise DatasetError(f"{manifest}: error: already exists (pass --overwrite to replace it)")
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    step = progress or (lambda n: None)
    for scene in scenes:
        job = plan_scene(scene, spec, bands)
        (out_dir / scene.scene_id).mkdir(exist_ok=True)
        for tile in read_tiles(job, step):
            rel = Path(tile.row["path"])
            image = tile.image
            Image.fromarray(image[..., 0] if image.shape[2] == 1 else image).save(
                out_dir / rel, compress_level=1
            )
            rows.append(tile.row)
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return TilingResult(manifest, len(rows))


@dataclass(frozen=True)
class SceneWindows:
    """One scene's windows to read and how to stretch them: small and picklable, so a
    Dask worker gets (raster paths, windows, tile metadata) instead of pixels or tile files."""

    scene: Scene
    layers: tuple[tuple[BandFile, int], ...]
    limits: tuple[tuple[float, float], ...]
    #: (level, row_off, col_off, native size) of each window, in reading order.
    windows: tuple[tuple[int, int, int, int], ...]
    tile_size: int
    min_valid: float

    def part(self, start: int, stop: int) -> SceneWindows:
        """The same scene with only windows ``start:stop``."""
        return replace(self, windows=self.windows[start:stop])


@dataclass(frozen=True)
class TileImage:
    """A tile read from its raster: stretched pixels (h, w, 1 or 3) and its manifest row."""

    image: np.ndarray
    row: dict[str, Any]


def plan_scene(scene: Scene, spec: TileSpec = TileSpec(), bands: Sequence[str] | None = None) -> SceneWindows:
    """Every window of ``scene`` at ``spec``'s levels and stride, with the scene's stretch.

    The stretch is fixed here, from one decimated read of the whole scene, so every window
    is stretched the same way wherever and in whatever groups it is read.

    Raises:
        DatasetError: the scene cannot be composited (bands on different grids, no CRS).
    """
    layers = composite_bands(scene, bands)
    stack = _Stack(layers, scene.scene_id)
    try:
        limits = stretch_limits(stack)
        width, height = stack.ref.width, stack.ref.height
        windows = tuple(
            (level, row, col, size)
            for level in spec.levels
            for row, col, size in tile_windows(width, height, spec.tile_size, level, spec.stride)
        )
    finally:
        stack.close()
    return SceneWindows(scene, tuple(layers), tuple(limits), windows, spec.tile_size, spec.min_valid)


def read_tiles(job: SceneWindows, progress: Callable[[int], None] | None = None) -> Iterator[TileImage]:
    """Read ``job``'s windows (the rasters opened once) and yield the tiles valid enough to keep.

    ``progress(1)`` is called per window visited, kept or not.
    """
    from rasterio.windows import Window

    scene = job.scene
    stack = _Stack(list(job.layers), scene.scene_id)
    mask = _cloud_mask(scene)
    try:
        gsd = _native_gsd(stack.ref)
        for level, row, col, size in job.windows:
            if progress is not None:
                progress(1)
            window = Window(col, row, size, size)
            layers, valid = stack.read(window, job.tile_size)
            if valid.mean() < job.min_valid:
                continue
            center, bbox = tile_geometry(stack.ref, row, col, size)
            tile = Tile(scene.scene_id, level, row, col, size, center, bbox)
            rel = Path(scene.scene_id) / f"{tile.id}.png"
            cloud = _tile_cloud(mask, stack.ref, window) if mask else None
            row_data = _manifest_row(scene, tile, rel, stack.ref, gsd, cloud)
            yield TileImage(to_uint8(layers, job.limits), row_data)
    finally:
        stack.close()
        if mask:
            mask[1].close()


def tile_record(row: dict[str, Any], source: str) -> SceneRecord:
    """The record ``load_dataset`` makes of a tile's manifest row, without the file round trip."""
    return record_from_row({k: str(v) for k, v in row.items()}, source=source)


def _cloud_mask(scene: Scene) -> tuple[str, Any] | None:
    """(mask kind, open dataset) of the scene's cloud mask band, or None without one."""
    import rasterio

    for name in CLOUD_MASKS:
        if (band := scene.band(name)) is not None:
            return name, rasterio.open(band.path)
    return None


def _tile_cloud(mask: tuple[str, Any], ref: Any, window: Any) -> float | None:
    """Percent of the window's valid mask pixels that are cloud (None: no valid pixel, or a
    mask on another CRS). The window is mapped through ground coordinates, so a mask on a
    coarser grid (SCL at 20 m beside 10 m bands) is read at its own resolution."""
    from rasterio.windows import bounds, from_bounds

    kind, ds = mask
    if ds.crs != ref.crs:
        return None
    area = from_bounds(*bounds(window, ref.transform), transform=ds.transform)
    area = area.round_offsets().round_lengths()
    codes = read_window(ds, 1, area, (int(area.height), int(area.width)), 0)
    is_cloud, is_empty = CLOUD_MASKS[kind]
    valid = ~is_empty(codes)
    if not valid.any():
        return None
    return float(is_cloud(codes)[valid].mean() * 100.0)


def _manifest_row(
    scene: Scene, tile: Tile, rel: Path, ds: Any, gsd: float | None, cloud: float | None
) -> dict[str, Any]:
    rec = scene.record
    return {
        "path": rel.as_posix(),
        "label": "|".join(scene.labels),
        "id": tile.id,
        "platform": rec.platform or "",
        "sensor": rec.instrument or "",
        "date": _date_text(scene),
        "lat": f"{tile.center[1]:.6f}",
        "lon": f"{tile.center[0]:.6f}",
        "bbox_wgs84": ",".join(f"{v:.6f}" for v in tile.bbox),
        "epsg": ds.crs.to_epsg() or "",
        "gsd_m": f"{gsd * 2 ** (tile.level - 1):g}" if gsd else "",
        "cloud_cover": "" if cloud is None else f"{cloud:.2f}",
        "scene_cloud_cover": "" if rec.cloud_cover is None else f"{rec.cloud_cover:g}",
        "level": tile.level,
        "scene_id": scene.scene_id,
    }


def parse_band_list(text: str | None) -> list[str] | None:
    """``"B4,B3,B2"`` -> ``["B4", "B3", "B2"]`` (canonical names); empty -> ``None``."""
    if not text:
        return None
    names = [canonical_band(b.strip()) for b in text.split(",") if b.strip()]
    if len(names) not in (1, 3):
        raise DatasetError(f"error: --bands takes 1 or 3 band names, got {text!r}")
    return names
