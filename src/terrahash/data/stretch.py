"""The one radiometric stretch: high-bit-depth pixels -> 8 bit, for raster tiles and uploads.

Scene tiles (``data.tiling``) and 16-bit or float image files (``data.images``) go through
the same rule, so a model sees a scene alike whether it arrives as a tile of a raster or as a
16-bit upload: a linear stretch between robust percentiles that leaves clouds and other
bright outliers out of its limits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Percentiles of the linear stretch to 8 bit.
STRETCH_PERCENTILES = (2.0, 98.0)
#: Pixels brighter than the median by more than this many robust standard deviations
#: (1.4826 x the median absolute deviation) are left out of the stretch's percentiles.
STRETCH_OUTLIER_SIGMAS = 5.0


def robust_limits(values: np.ndarray) -> tuple[float, float]:
    """2nd/98th percentiles of ``values`` (valid pixels) without their bright outliers.

    Clouds, glint or snow over part of a scene would otherwise set the top of the stretch
    and squeeze the ground into a few grey levels: on the cloudy Sentinel-2 date of the
    shared Brandenburg pair (about 21 % cloud) the plain 98th percentile is 7,446 while the
    land lies between 800 and 1,200, so its tiles had a median contrast of 5 grey levels
    and could not be matched with the clear date's. Left out: values above the median plus
    ``STRETCH_OUTLIER_SIGMAS`` robust standard deviations, which moves the clear date's and
    two Landsat scenes' limits by at most 2 % of pixels and the cloudy date's to 807-2,038.
    """
    median = float(np.median(values))
    sigma = 1.4826 * float(np.median(np.abs(values - median)))
    # never empty: the values at the median stay
    kept = values[values <= median + STRETCH_OUTLIER_SIGMAS * sigma] if sigma > 0 else values
    lo, hi = np.percentile(kept, STRETCH_PERCENTILES)
    return float(lo), float(hi) if hi > lo else float(lo) + 1.0


def to_uint8(layers: np.ndarray, limits: Sequence[tuple[float, float]]) -> np.ndarray:
    """Linear stretch of (n, h, w) floats to uint8 (h, w, n); NaN (nodata) becomes 0."""
    out = np.empty(layers.shape[1:] + (layers.shape[0],), dtype=np.uint8)
    for i, (lo, hi) in enumerate(limits):
        scaled = (layers[i] - lo) / (hi - lo) * 254.0 + 1.0  # 0 is kept for nodata
        out[..., i] = np.nan_to_num(np.clip(scaled, 1.0, 255.0), nan=0.0).astype(np.uint8)
    return out
