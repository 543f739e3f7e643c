"""Data layer: dataset folders (manifest + images) -> items, splits, tensors, taxonomy."""

from terrahash.data.dataset import SceneDataset, SceneItem, default_data_dir, load_dataset, load_rgb
from terrahash.data.images import decode_image

__all__ = ["SceneDataset", "SceneItem", "decode_image", "default_data_dir", "load_dataset", "load_rgb"]
