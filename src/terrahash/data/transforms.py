"""Image tensors for the model: preloading, normalisation, augmentation and image pyramids.

Everything works on whole batches of ``uint8`` tensors held in memory: UC Merced at 64 px
is 26 MB, so decoding JPEGs once and augmenting with one ``grid_sample`` per batch is far
faster on two cores than a per-image PIL pipeline.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from terrahash.data.dataset import SceneDataset, load_rgb
from terrahash.data.images import resize_rgb
from terrahash.errors import DatasetError

#: An image given to the model: an RGB uint8 array (H, W, 3) or a file path.
ImageLike = np.ndarray | str | Path


def to_uint8_tensor(images: Sequence[ImageLike], size: int) -> torch.Tensor:
    """Stack images (arrays or paths) into a ``uint8`` tensor (N, 3, size, size)."""
    out = torch.empty((len(images), 3, size, size), dtype=torch.uint8)
    for i, image in enumerate(images):
        if isinstance(image, str | Path):
            array = load_rgb(image, size)
        else:
            array = resize_rgb(np.ascontiguousarray(_check_array(np.asarray(image), i)), size)
        out[i] = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)
    return out


def _check_array(array: np.ndarray, index: int) -> np.ndarray:
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise DatasetError(f"image {index}: error: expected an (H, W, 3) array, got shape {array.shape}")
    if array.dtype != np.uint8:
        raise DatasetError(f"image {index}: error: expected uint8 pixels, got {array.dtype}")
    return array[:, :, :3]


def image_column(dataset: SceneDataset, image_size: int) -> str | None:
    """The manifest column to read: ``path_128`` for sizes >= 128 when the set has it."""
    if image_size >= 128 and dataset.items and "path_128" in dataset.items[0].alternates:
        return "path_128"
    return None


def preload_images(
    dataset: SceneDataset,
    size: int,
    column: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Decode every image of ``dataset`` once into a ``uint8`` tensor (N, 3, size, size)."""
    out = torch.empty((len(dataset), 3, size, size), dtype=torch.uint8)
    for i in range(len(dataset)):
        out[i] = torch.from_numpy(dataset.load_image(i, size=size, column=column)).permute(2, 0, 1)
        if progress is not None:
            progress(1)
    return out


def channel_stats(images: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std (0-1 scale) of a ``uint8`` batch; stored with the model."""
    x = images.float().div_(255.0)
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return [round(float(v), 6) for v in mean], [round(float(v), 6) for v in std]


#: Smallest per-image spread (0-255 scale) ``per_image`` normalisation divides by: a flat
#: tile (water, cloud) is not blown up into noise.
MIN_IMAGE_STD = 4.0


def normalize(
    images: torch.Tensor, mean: Sequence[float], std: Sequence[float], per_image: bool = False
) -> torch.Tensor:
    """``uint8`` (or 0-255 float) batch -> standardised float32 batch.

    ``per_image`` standardises each image by its own channel means and overall spread
    instead of the dataset's: the same ground written by two scenes' stretches (haze,
    clouds, sun angle, another sensor's gain) differs by a gain and an offset per image,
    which this removes; channel ratios (colour) are kept.
    """
    if per_image:
        x = images.float()
        centred = x - x.mean(dim=(2, 3), keepdim=True)
        spread = centred.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt().clamp_min(MIN_IMAGE_STD)
        return centred / spread
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
    s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
    return (images.float() - m) / s


def augment(
    images: torch.Tensor, generator: torch.Generator, min_scale: float = 0.6,
    keep_geometry: torch.Tensor | None = None,
) -> torch.Tensor:
    """Random dihedral symmetry, resized crop and brightness/contrast jitter, per sample.

    Overhead imagery has no canonical "up", so the 8 rotations/flips are label-preserving.
    All geometric changes are one affine ``grid_sample`` (deterministic on CPU) driven by
    ``generator`` so that a seed reproduces a run exactly.

    Args:
        images: float batch (N, 3, H, W), already normalised.
        generator: the run's random generator.
        min_scale: smallest side fraction of the random crop.
        keep_geometry: boolean mask (N,) of samples left as they are, upright and uncropped
            (brightness/contrast jitter only); the random draws are the same either way.
    """
    n = images.shape[0]
    rot = torch.randint(0, 4, (n,), generator=generator).float() * (math.pi / 2)
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    scale = min_scale + (1.0 - min_scale) * torch.rand(n, generator=generator)
    shift = (1.0 - scale) * (2.0 * torch.rand(2, n, generator=generator) - 1.0)
    if keep_geometry is not None:
        rot = torch.where(keep_geometry, 0.0, rot)
        flip = torch.where(keep_geometry, 1.0, flip)
        scale = torch.where(keep_geometry, 1.0, scale)
        shift = torch.where(keep_geometry, 0.0, shift)
    cos, sin = torch.cos(rot).round(), torch.sin(rot).round()
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = cos * scale * flip
    theta[:, 0, 1] = -sin * scale
    theta[:, 1, 0] = sin * scale * flip
    theta[:, 1, 1] = cos * scale
    theta[:, 0, 2] = shift[0]
    theta[:, 1, 2] = shift[1]
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    gain = 1.0 + 0.2 * (2.0 * torch.rand(n, 1, 1, 1, generator=generator) - 1.0)
    bias = 0.2 * (2.0 * torch.rand(n, 1, 1, 1, generator=generator) - 1.0)
    return out * gain + bias


def pyramid(images: torch.Tensor, n_scales: int) -> list[torch.Tensor]:
    """Image pyramid: the batch, then 2x average-pooled levels (``n_scales`` in all)."""
    levels = [images]
    for _ in range(n_scales - 1):
        levels.append(F.avg_pool2d(levels[-1], 2))
    return levels


class SceneTensorDataset(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    """A ``SceneDataset`` as tensors: preloaded pixels plus per-item extras (targets, tokens)."""

    def __init__(self, dataset: SceneDataset, images: torch.Tensor, **extras: torch.Tensor) -> None:
        if images.shape[0] != len(dataset):
            raise ValueError(f"{len(dataset)} items but {images.shape[0]} images")
        for name, tensor in extras.items():
            if tensor.shape[0] != len(dataset):
                raise ValueError(f"extra {name!r} has {tensor.shape[0]} rows, expected {len(dataset)}")
        self.dataset = dataset
        self.images = images
        self.extras = extras

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = {"image": self.images[index], "index": torch.tensor(index)}
        item.update({name: tensor[index] for name, tensor in self.extras.items()})
        return item

    def batch(self, indices: torch.Tensor) -> dict[str, torch.Tensor]:
        """Gather a whole batch at once (faster than collating single items)."""
        out = {"image": self.images[indices], "index": indices}
        out.update({name: tensor[indices] for name, tensor in self.extras.items()})
        return out
