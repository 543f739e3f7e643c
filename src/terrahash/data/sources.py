"""Pretraining sources: labelled dataset folders, unlabelled image folders and rasters.

A data centre's archive mixes all three. ``load_source`` reads any of them into one shape:
labelled items (their *train part only*, under the standard split ``terrahash train``
uses, its validation part left out too, so no benchmark image a run is validated or tested
on is ever seen), unlabelled images, and raster composites
from which tiles are cut on the fly. Each source records exactly which items it used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from terrahash.data.dataset import TEST_FRACTION, VAL_FRACTION, load_dataset
from terrahash.data.images import decode_image, resize_rgb
from terrahash.data.scan import is_raster, scan_archive
from terrahash.data.tiling import read_composite
from terrahash.errors import DatasetError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")
#: Longest side a raster composite is read at; larger scenes are decimated to it.
MAX_COMPOSITE_SIDE = 4096


@dataclass
class PretrainSource:
    """One source, loaded: pixels, labels where it has them, and what was used."""

    path: Path
    #: ``labelled``, ``images`` (unlabelled image files) or ``raster`` (tiles cut on the fly).
    kind: str
    #: (N, 3, S, S) ``uint8``; empty for rasters.
    images: torch.Tensor
    classes: list[str] = field(default_factory=list)
    #: (N, C) multi-hot labels for labelled sources.
    labels: torch.Tensor | None = None
    multilabel: bool = False
    #: Raster composites (h, w, 3) ``uint8``, tiles are cropped from them each epoch.
    composites: list[np.ndarray] = field(default_factory=list)
    #: Ids (or file names) of every item used, and how many were held out as test items
    #: and as validation items.
    used: list[str] = field(default_factory=list)
    held_out: int = 0
    held_out_val: int = 0

    @property
    def name(self) -> str:
        return self.path.name

    def tiles_per_epoch(self, tile_size: int) -> int:
        """About one pass over each composite's area."""
        return sum(max(1, (c.shape[0] // tile_size) * (c.shape[1] // tile_size)) for c in self.composites)

    def describe(self) -> dict[str, object]:
        """The model card's entry for this source."""
        return {
            "path": str(self.path),
            "kind": self.kind,
            "items": len(self.used),
            "held_out_test_items": self.held_out,
            "held_out_validation_items": self.held_out_val,
            "classes": len(self.classes),
            "multilabel": self.multilabel,
            "rasters": [list(c.shape[:2]) for c in self.composites],
        }


def load_source(
    path: str | Path,
    image_size: int,
    split_seed: int = 0,
    test_fraction: float = TEST_FRACTION,
    progress: Callable[[int], None] | None = None,
    val_fraction: float = VAL_FRACTION,
) -> PretrainSource:
    """Read one source; a dataset folder's test and validation parts (standard split) are left out.

    ``val_fraction`` 0 keeps the validation part in (backbones before it was held out did).

    Raises:
        DatasetError: the path is missing, or holds nothing usable.
    """
    root = Path(path)
    if not root.exists():
        raise DatasetError(f"{root}: error: no such file or folder")
    if (root / "manifest.csv").is_file():
        return _dataset_source(root, image_size, split_seed, test_fraction, val_fraction, progress)
    rasters = [root] if root.is_file() and is_raster(root) else []
    if root.is_dir() and any(is_raster(p) for p in root.rglob("*") if p.is_file()):
        rasters = [root]
    if rasters:
        return _raster_source(root)
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if root.is_dir() else []
    if not files:
        raise DatasetError(f"{root}: error: no manifest.csv, raster or image files to pretrain on")
    images = _stack(len(files), image_size, lambda i: decode_image(files[i], image_size), progress)
    return PretrainSource(root, "images", images, used=[str(p.relative_to(root)) for p in files])


def _dataset_source(root: Path, size: int, seed: int, test_fraction: float, val_fraction: float,
                    progress: Callable[[int], None] | None) -> PretrainSource:
    dataset = load_dataset(root)
    labelled = any(item.labels for item in dataset)
    keep = list(range(len(dataset)))
    held_out = held_out_val = 0
    if labelled:
        keep, val, test = dataset.standard_split(seed, test_fraction, val_fraction)
        held_out, held_out_val = len(test), len(val)
    part = dataset.subset(sorted(keep))
    images = _stack(len(part), size, lambda i: part.load_image(i, size), progress)
    if not labelled:
        return PretrainSource(root, "images", images, used=[it.id for it in part])
    return PretrainSource(
        root, "labelled", images, classes=list(dataset.classes),
        labels=torch.from_numpy(part.label_matrix(dataset.classes)), multilabel=dataset.multilabel,
        used=[it.id for it in part], held_out=held_out, held_out_val=held_out_val,
    )


def _raster_source(root: Path) -> PretrainSource:
    scenes = scan_archive(root if root.is_dir() else root.parent).scenes
    if root.is_file():
        scenes = [s for s in scenes if any(b.path == root for b in s.bands)]
    composites = [read_composite(scene, MAX_COMPOSITE_SIDE) for scene in scenes]
    composites = [c for c in composites if min(c.shape[:2]) >= 32]
    if not composites:
        raise DatasetError(f"{root}: error: no raster scene large enough to cut tiles from")
    empty = torch.empty((0, 3, 1, 1), dtype=torch.uint8)
    return PretrainSource(root, "raster", empty, composites=composites,
                          used=[scene.scene_id for scene in scenes])


def random_tiles(
    composites: Sequence[np.ndarray], n: int, tile_size: int, image_size: int, rng: np.random.Generator,
    min_valid: float = 0.5,
) -> torch.Tensor:
    """``n`` random ``tile_size`` crops (native pixels) resized to ``image_size``: (n, 3, S, S) uint8.

    Crops that are mostly nodata (0 after the stretch) are drawn again, a few times at most.
    """
    out = torch.empty((n, 3, image_size, image_size), dtype=torch.uint8)
    weights = np.array([c.shape[0] * c.shape[1] for c in composites], dtype=np.float64)
    which = rng.choice(len(composites), size=n, p=weights / weights.sum())
    for i, c in enumerate(which):
        comp = composites[c]
        side = min(tile_size, comp.shape[0], comp.shape[1])
        for _ in range(5):
            y = int(rng.integers(0, comp.shape[0] - side + 1))
            x = int(rng.integers(0, comp.shape[1] - side + 1))
            crop = comp[y : y + side, x : x + side]
            if (crop.max(axis=2) > 0).mean() >= min_valid:
                break
        out[i] = torch.from_numpy(resize_rgb(np.ascontiguousarray(crop), image_size)).permute(2, 0, 1)
    return out


def _stack(n: int, size: int, load: Callable[[int], np.ndarray],
           progress: Callable[[int], None] | None) -> torch.Tensor:
    """Decode ``n`` images with ``load(i)`` into one (n, 3, size, size) ``uint8`` tensor."""
    out = torch.empty((n, 3, size, size), dtype=torch.uint8)
    for i in range(n):
        out[i] = torch.from_numpy(load(i)).permute(2, 0, 1)
        if progress is not None:
            progress(1)
    return out
