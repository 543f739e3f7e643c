"""The shared shape of the per-file expectation tables (values checked by reading each file)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from terrahash.data import default_data_dir
from terrahash.metadata import SceneRecord, read_metadata
from terrahash.metadata.record import format_datetime

METADATA_DIR = default_data_dir() / "metadata"


@dataclass(frozen=True)
class Expected:
    """What a file must yield. ``None`` means the file truly does not say (must be null)."""

    path: str  # relative to ../shared/data/metadata
    format: str
    platform: str | None
    datetime: str | None  # ISO UTC with Z, to the second (fractions ignored)
    center_lat: float | None
    center_lon: float | None
    cloud_cover: float | None
    gsd_m: float | None
    #: index of the record within the file (STAC item lists)
    item: int = 0
    #: tolerance on the centre (degrees); corner means vs stated centres differ slightly
    center_tol: float = 0.01


def read_expected(exp: Expected) -> SceneRecord:
    path = METADATA_DIR / exp.path
    if not path.exists():
        pytest.skip(f"{path} not present")
    records = read_metadata(path)
    return records[exp.item]


def check(exp: Expected) -> None:
    """Assert every field of ``exp`` against the parsed record."""
    rec = read_expected(exp)
    assert rec.format == exp.format, f"{exp.path}: format {rec.format} != {exp.format}"
    assert rec.platform == exp.platform, f"{exp.path}: platform {rec.platform} != {exp.platform}"
    got_dt = format_datetime(rec.datetime.replace(microsecond=0)) if rec.datetime else None
    assert got_dt == exp.datetime, f"{exp.path}: datetime {got_dt} != {exp.datetime}"
    for name in ("center_lat", "center_lon"):
        want, got = getattr(exp, name), getattr(rec, name)
        if want is None:
            assert got is None, f"{exp.path}: {name} {got} should be null"
        else:
            assert got is not None and abs(got - want) <= exp.center_tol, (
                f"{exp.path}: {name} {got} != {want}"
            )
    if exp.cloud_cover is None:
        assert rec.cloud_cover is None, f"{exp.path}: cloud_cover {rec.cloud_cover} should be null"
    else:
        assert rec.cloud_cover == pytest.approx(exp.cloud_cover, abs=0.01), f"{exp.path}: cloud"
    if exp.gsd_m is None:
        assert rec.gsd_m is None, f"{exp.path}: gsd_m {rec.gsd_m} should be null"
    else:
        assert rec.gsd_m == pytest.approx(exp.gsd_m, rel=0.01), f"{exp.path}: gsd_m {rec.gsd_m}"


def relpaths() -> list[str]:
    """Every file under the metadata folder except the folder's own docs."""
    return sorted(
        str(p.relative_to(METADATA_DIR))
        for p in METADATA_DIR.rglob("*")
        if p.is_file() and p.parent != METADATA_DIR
    )


__all__ = ["METADATA_DIR", "Expected", "Path", "check", "read_expected", "relpaths"]
