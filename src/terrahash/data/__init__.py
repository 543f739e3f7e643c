"""Data layer: dataset folders (manifest + images) -> items, splits, tensors, taxonomy."""

from terrahash.data.dataset import SceneDataset, SceneItem, default_data_dir, load_dataset, load_rgb

__all__ = ["SceneDataset", "SceneItem", "default_data_dir", "load_dataset", "load_rgb"]
