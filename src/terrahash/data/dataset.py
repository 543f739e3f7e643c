"""Scene datasets: a folder with ``manifest.csv`` -> items with image paths, labels, records.

Manifests differ between sets (``path``/``patch_file``, ``lat``/``center_lat``, ``date``/
``acquisition_datetime_utc``, labels joined by ``|`` or ``;``). This module maps them all
to one ``SceneItem`` so the model and index never see a set's quirks. Records are filled
from the manifest's columns, from a per-item metadata file when the manifest names one,
and otherwise only from the set's real facts (sensor, GSD); nothing is invented.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from terrahash.data.images import decode_image
from terrahash.errors import DatasetError, TerraHashError
from terrahash.metadata.platforms import normalize_platform
from terrahash.metadata.record import SceneRecord, polygon
from terrahash.metadata.values import cloud_percent, parse_datetime, to_float

#: Environment variable overriding where the shared data lives.
DATA_ENV = "TERRAHASH_DATA"

_IMAGE_COLUMNS = ("path", "patch_file", "image", "file", "filename")
_LAT_COLUMNS = ("lat", "center_lat", "latitude")
_LON_COLUMNS = ("lon", "center_lon", "longitude")
_DATE_COLUMNS = ("datetime", "acquisition_datetime_utc", "date", "acquisition_date")
_META_COLUMNS = ("metadata", "metadata_path", "meta")
_LABEL_SPLIT = re.compile(r"\s*[|;]\s*")
_PLATFORM_IN_TEXT = re.compile(
    r"\b(sentinel-?2[abc]|landsat[\s_-]?\d|gf-?\d|worldview-?\d|spot[\s-]?\d)\b", re.IGNORECASE
)


def default_data_dir() -> Path:
    """``$TERRAHASH_DATA`` or ``../shared/data`` from the current directory."""
    return Path(os.environ.get(DATA_ENV, "../shared/data")).resolve()


@dataclass(frozen=True)
class SceneItem:
    """One labelled image of a dataset."""

    id: str
    path: Path
    labels: tuple[str, ...]
    record: SceneRecord
    #: Other renditions of the same image, by manifest column (``path_128`` -> path).
    alternates: dict[str, Path] = field(default_factory=dict)

    @property
    def label(self) -> str | None:
        """The primary (first) label."""
        return self.labels[0] if self.labels else None


#: The standard split: the test part of every labelled set, and the validation part carved
#: from its train part (``SceneDataset.standard_split``).
TEST_FRACTION = 0.2
VAL_FRACTION = 0.1


class SceneDataset(Sequence[SceneItem]):
    """A dataset folder: ``items`` in manifest order, plus split and image helpers."""

    def __init__(self, root: Path, items: list[SceneItem], multilabel: bool) -> None:
        self.root = root
        self.name = root.name
        self.items = items
        self.multilabel = multilabel
        self.classes = sorted({lab for it in items for lab in it.labels})

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> SceneItem:  # type: ignore[override]
        return self.items[index]

    def __iter__(self) -> Iterator[SceneItem]:
        return iter(self.items)

    def subset(self, indices: Sequence[int]) -> SceneDataset:
        """A dataset over the given items (same root)."""
        return SceneDataset(self.root, [self.items[i] for i in indices], self.multilabel)

    def label_matrix(self, classes: Sequence[str] | None = None) -> np.ndarray:
        """Boolean (n, n_classes) multi-hot labels."""
        classes = list(classes or self.classes)
        pos = {c: i for i, c in enumerate(classes)}
        out = np.zeros((len(self.items), len(classes)), dtype=bool)
        for row, item in enumerate(self.items):
            for lab in item.labels:
                if lab in pos:
                    out[row, pos[lab]] = True
        return out

    def split(self, seed: int = 0, test_fraction: float = 0.2) -> tuple[list[int], list[int]]:
        """Deterministic split stratified by primary label: (train indices, test indices)."""
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
        rng = np.random.default_rng(seed)
        by_label: dict[str, list[int]] = {}
        for i, item in enumerate(self.items):
            by_label.setdefault(item.label or "", []).append(i)
        train: list[int] = []
        test: list[int] = []
        for label in sorted(by_label):
            members = np.array(by_label[label])
            members = members[rng.permutation(len(members))]
            n_test = int(round(len(members) * test_fraction))
            # every class with two or more items keeps at least one on each side
            n_test = min(max(n_test, 1), len(members) - 1) if len(members) >= 2 else 0
            test.extend(int(i) for i in members[:n_test])
            train.extend(int(i) for i in members[n_test:])
        return sorted(train), sorted(test)

    def standard_split(
        self, seed: int = 0, test_fraction: float = TEST_FRACTION, val_fraction: float = VAL_FRACTION
    ) -> tuple[list[int], list[int], list[int]]:
        """(train, validation, test) indices: ``split`` by ``seed``, then a validation part
        carved from train, stratified, by ``seed + 1``.

        The one split ``terrahash train`` selects models on and ``terrahash pretrain`` holds
        out, so a backbone pretrained on a set never saw the items its runs are validated
        and tested on. Sets under 20 training items get no validation part.
        """
        train, test = self.split(seed, test_fraction)
        if val_fraction <= 0 or len(train) < 20:
            return train, [], test
        keep, val = self.subset(train).split(seed + 1, val_fraction)
        return [train[i] for i in keep], [train[i] for i in val], test

    def load_image(
        self, index: int, size: int | None = None, column: str | None = None
    ) -> np.ndarray:
        """RGB ``uint8`` array (H, W, 3) of item ``index``, optionally resized to ``size``."""
        item = self.items[index]
        path = item.alternates.get(column, item.path) if column else item.path
        return load_rgb(path, size)


def load_rgb(path: str | Path, size: int | None = None) -> np.ndarray:
    """Read an image file as RGB uint8 (16-bit data is scaled), resized when ``size`` is set.

    Raises:
        DatasetError: an ``ImageError`` naming the file (missing, corrupt, not an image).
    """
    return decode_image(path, size)


def _first(row: dict[str, str], names: Sequence[str]) -> str | None:
    for name in names:
        value = row.get(name)
        if value is not None and value.strip():
            return value.strip()
    return None


def split_labels(text: str | None) -> tuple[str, ...]:
    """``a|b`` or ``a;b`` -> ("a", "b"); commas are part of CORINE names and never split."""
    if not text:
        return ()
    return tuple(lab for lab in _LABEL_SPLIT.split(text.strip()) if lab)


def record_from_row(
    row: dict[str, str], source: str, base: SceneRecord | None = None
) -> SceneRecord:
    """A record from a manifest row's columns, layered over ``base`` (a per-item metadata file)."""
    fields: dict[str, Any] = base.model_dump() if base is not None else {}
    fields["source"] = source
    fields["format"] = (base.format if base is not None else None) or "manifest_csv"
    extra: dict[str, Any] = dict(fields.get("extra") or {})
    if (scene_id := _first(row, ("scene_id", "patch_name", "id"))) is not None:
        fields["id"] = scene_id
    sensor = _first(row, ("sensor",))
    platform = _first(row, ("platform",))
    if platform is None and sensor is not None and (m := _PLATFORM_IN_TEXT.search(sensor)):
        platform = m.group(1)
    if platform is not None:
        fields["platform"] = normalize_platform(platform)
    if sensor is not None:
        fields["instrument"] = sensor
    lat = to_float(_first(row, _LAT_COLUMNS))
    lon = to_float(_first(row, _LON_COLUMNS))
    if lat is not None and lon is not None:
        fields["center_lat"], fields["center_lon"] = lat, lon
    if (when := _first(row, _DATE_COLUMNS)) is not None:
        parsed = parse_datetime(when)
        if parsed is None:
            raise DatasetError(f"cannot parse date {when!r}")
        fields["datetime"] = parsed
        if re.fullmatch(r"\d{4}-?\d{2}-?\d{2}", when):
            extra["datetime_precision"] = "day"
    if (gsd := to_float(_first(row, ("gsd_m", "gsd")))) is not None:
        fields["gsd_m"] = gsd
    if (bbox := _first(row, ("bbox_wgs84", "bbox"))) is not None:
        try:
            w, s, e, n = (float(v) for v in bbox.split(","))
        except ValueError:
            raise DatasetError(f"bbox {bbox!r} is not 'west,south,east,north' in degrees") from None
        fields["footprint"] = polygon([(w, s), (e, s), (e, n), (w, n)])
    if (epsg := _first(row, ("epsg",))) is not None:
        fields["epsg"] = int(str(epsg).upper().replace("EPSG:", ""))
    elif (crs := _first(row, ("crs",))) is not None and crs.upper().startswith("EPSG:"):
        fields["epsg"] = int(crs.split(":")[1])
    if (cloud := _first(row, ("cloud_cover",))) is not None:
        fields["cloud_cover"] = cloud_percent(cloud)
    if (scene_cloud := _first(row, ("scene_cloud_cover",))) is not None:
        extra["scene_cloud_cover"] = cloud_percent(scene_cloud)  # the whole scene's, not the item's
    if (raw_extra := _first(row, ("extra",))) is not None:
        try:
            parsed_extra = json.loads(raw_extra)
        except json.JSONDecodeError:
            parsed_extra = {"extra": raw_extra}
        extra.update(parsed_extra)
        if fields.get("cloud_cover") is None and "cloud_fraction_CLM" in parsed_extra:
            fields["cloud_cover"] = cloud_percent(parsed_extra["cloud_fraction_CLM"], fraction=True)
    fields["extra"] = extra
    return SceneRecord(**fields)


def load_dataset(root: str | Path, image_column: str | None = None) -> SceneDataset:
    """Load a dataset folder (``manifest.csv`` + images).

    Args:
        root: the folder holding ``manifest.csv``.
        image_column: manifest column of the image to use (default: ``path`` or ``patch_file``).

    Raises:
        DatasetError: naming the manifest and the problem (missing columns, files, bad values).
    """
    root = Path(root)
    manifest = root / "manifest.csv"
    if not manifest.is_file():
        raise DatasetError(
            f"{root}: error: no manifest.csv in this folder (is it a dataset folder?)"
        )
    with open(manifest, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = reader.fieldnames or []
        # Short rows give None and long rows a None key: blank them so checks below stay simple.
        rows = [{k: (v or "") for k, v in row.items() if isinstance(k, str)} for row in reader]
    column = image_column or next((c for c in _IMAGE_COLUMNS if c in columns), None)
    if column is None or column not in columns:
        raise DatasetError(
            f"{manifest}: error: no image column (expected one of {', '.join(_IMAGE_COLUMNS)}); "
            f"columns are {', '.join(columns)}"
        )
    alt_columns = [
        c for c in columns if c != column and (c.startswith("path") or c == "patch_file")
    ]
    meta_column = next((c for c in _META_COLUMNS if c in columns), None)
    items: list[SceneItem] = []
    multilabel = False
    rel_paths = [row[column].strip() for row in rows]
    stems = [Path(p).stem for p in rel_paths]
    use_stems = len(set(stems)) == len(stems)
    for line, (row, rel) in enumerate(zip(rows, rel_paths, strict=True), start=2):
        if not rel:
            raise DatasetError(f"{manifest}:{line}: error: empty {column!r}")
        labels = split_labels(row.get("label"))
        multilabel |= len(labels) > 1 or bool(_LABEL_SPLIT.search(row.get("label", "")))
        base = None
        if meta_column and row.get(meta_column, "").strip():
            from terrahash.metadata import read_metadata

            try:
                base = read_metadata(root / row[meta_column].strip())[0]
            except TerraHashError as exc:
                raise DatasetError(f"{manifest}:{line}: error: {exc}") from exc
        try:
            record = record_from_row(row, source=str(root / rel), base=base)
        except (ValueError, TerraHashError) as exc:
            raise DatasetError(f"{manifest}:{line}: error: {exc}") from exc
        item_id = stems[line - 2] if use_stems else str(Path(rel).with_suffix(""))
        alternates = {c: root / row[c].strip() for c in alt_columns if row.get(c, "").strip()}
        items.append(SceneItem(item_id, root / rel, labels, record, alternates))
    return SceneDataset(root, items, multilabel)
