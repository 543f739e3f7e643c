"""Every file under ../shared/data/metadata is in exactly one expectation table (or refused on purpose)."""

from __future__ import annotations

import json
from collections import Counter

from typer.testing import CliRunner

from terrahash.cli import app
from terrahash.metadata import list_readers
from tests.metadata import test_readers_landsat, test_readers_sentinel_stac, test_readers_vendors
from tests.metadata.expected import METADATA_DIR, relpaths

GROUPS = (test_readers_landsat, test_readers_sentinel_stac, test_readers_vendors)


def test_every_file_is_covered_exactly_once() -> None:
    seen: Counter[str] = Counter()
    for group in GROUPS:
        seen.update({exp.path for exp in group.EXPECTED})
        seen.update(list(group.REFUSED))
    files = relpaths()
    missing = [f for f in files if f not in seen]
    assert not missing, f"files without expectations: {missing}"
    unknown = [f for f in seen if f not in files]
    assert not unknown, f"expectations for files that do not exist: {unknown}"
    doubled = [f for f in files if sum(
        (f in {e.path for e in g.EXPECTED}) + (f in g.REFUSED) for g in GROUPS) > 1]
    assert not doubled, f"files claimed by two groups: {doubled}"


def test_refused_are_only_non_optical_or_stubs() -> None:
    refused = {f for group in GROUPS for f in group.REFUSED}
    parsed = {e.path for group in GROUPS for e in group.EXPECTED}
    optical = len(parsed)
    assert optical >= 0.85 * (optical + len(refused)), "too many files refused"


def test_every_reader_is_exercised_by_a_real_file() -> None:
    used = {e.format for group in GROUPS for e in group.EXPECTED}
    names = {r.name for r in list_readers()}
    # refusing readers, and the raster reader (tested on ../rasters, not in the metadata folder)
    refusing_only = {"landsat_ang", "landsat_idf", "sentinel1_manifest", "raster"}
    unused = names - used - refusing_only
    assert not unused or all(n.startswith("gdal") or "stub" in n for n in unused), unused


def test_meta_json_over_the_whole_folder() -> None:
    """One CLI call over all files: parsed ones print one JSON line per record, refused ones an error."""
    files = [str(METADATA_DIR / f) for f in relpaths()]
    result = CliRunner().invoke(app, ["meta", "--json", *files])
    records = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    n_expected = sum(len(group.EXPECTED) for group in GROUPS)
    assert len(records) == n_expected
    assert all(r["datetime"] is None or r["datetime"].endswith("Z") for r in records)
    refused = sum(len(group.REFUSED) for group in GROUPS)
    assert result.stderr.count(": error: ") == refused
    assert result.exit_code == (2 if refused else 0)
