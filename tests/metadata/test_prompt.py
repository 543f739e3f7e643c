"""R2STFT: deterministic text, missing fields left out, features with masks."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from typer.testing import CliRunner

from terrahash.cli import app
from terrahash.metadata.prompt import FEATURE_NAMES, N_FEATURES, render_prompt, season
from terrahash.metadata.record import SceneRecord
from tests.metadata.expected import METADATA_DIR

FULL = SceneRecord(
    platform="landsat-8", instrument="OLI_TIRS", processing_level="L2SP",
    datetime=datetime(2020, 12, 4, 19, 4, 30, tzinfo=UTC), center_lat=47.5, center_lon=-122.3,
    gsd_m=30.0, cloud_cover=42.4, sun_elevation=19.6,
)


def test_full_prompt_text() -> None:
    text = render_prompt(FULL).text
    assert text == (
        "L2sp image from landsat-8 oli_tirs, acquired december 4 2020 at 19:04 utc in winter morning, "
        "centred at 47.5 n 122.3 w, ground sampling 30 m, cloud cover 42 percent, sun elevation 20 degrees."
    )


def test_missing_fields_are_left_out_not_none() -> None:
    r = render_prompt(SceneRecord(gsd_m=0.3048))
    assert r.text == "Image, ground sampling 0.3 m."
    assert "none" not in r.text.lower()
    assert r.mask.tolist() == [False] * 7 + [True, False, False]
    assert np.all(r.features[~r.mask] == 0)


def test_same_record_same_prompt() -> None:
    a, b = render_prompt(FULL), render_prompt(FULL.model_copy())
    assert a.text == b.text and np.array_equal(a.features, b.features)


def test_features_geometry() -> None:
    r = render_prompt(FULL)
    assert r.features.shape == (N_FEATURES,) == (len(FEATURE_NAMES),)
    assert np.linalg.norm(r.features[:3]) == pytest.approx(1.0, abs=1e-6)
    assert r.features[3] ** 2 + r.features[4] ** 2 == pytest.approx(1.0, abs=1e-6)
    assert r.features[7] == pytest.approx(np.log10(30.0))
    assert r.features[8] == pytest.approx(0.424)
    assert r.mask.all()


def test_day_precision_masks_time_of_day() -> None:
    rec = FULL.model_copy(update={"extra": {"datetime_precision": "day"}})
    r = render_prompt(rec)
    assert "utc" not in r.text and not r.mask[5] and r.mask[3]


def test_southern_hemisphere_season() -> None:
    when = datetime(2020, 1, 15, tzinfo=UTC)
    assert season(when, 45.0) == "winter" and season(when, -30.0) == "summer"


def test_prompt_cli_prints_text_and_features() -> None:
    path = METADATA_DIR / "cresda_xml" / "GF2_PMS1_W91.0_N17.6_20200510_L1A0004793969-MSS1.xml"
    result = CliRunner().invoke(app, ["prompt", "--features", str(path)])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("Level1a image from gf-2") or "gf-2" in lines[0]
    assert "may 10 2020" in lines[0]
    assert '"template_version": 1' in lines[1]


@pytest.mark.parametrize("command", ["meta", "prompt", "scan"])
def test_help_has_examples(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout
