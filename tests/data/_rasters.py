"""Shared bits of the data tests: where the real rasters live, and tiny GeoTIFF writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

from terrahash.data import default_data_dir

RASTERS = default_data_dir() / "rasters"
METADATA = default_data_dir() / "metadata"
PARAGUAY_MTL = "LC08_L2SP_224078_20200127_02_T1_LC08_L2SP_224078_20200127_20200823_02_T1_MTL.txt"


def write_band(path: Path, epsg: int, origin: tuple[float, float], data: np.ndarray) -> Path:
    """A tiny single-band GeoTIFF with 30 m pixels, upper-left corner at ``origin``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "GTiff", "width": data.shape[1], "height": data.shape[0], "count": 1,
        "dtype": data.dtype.name, "crs": f"EPSG:{epsg}",
        "transform": Affine(30, 0, origin[0], 0, -30, origin[1]),
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data, 1)
    return path
