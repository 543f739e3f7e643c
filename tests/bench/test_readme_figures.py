"""The README's benchmark figures come from ``bench/results``: generated blocks, nothing typed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench.common import PROVENANCE_KEYS, provenance, provenance_line, save_report
from bench.readme import (
    BLOCK,
    BLOCKS,
    README,
    SHIPPED_BACKBONES,
    differing_blocks,
    measured_backbone,
    render,
    source,
    stale_banner,
    stray_figures,
)
from bench.run_all import ROOT, STEPS, main

TEXT = README.read_text(encoding="utf-8")


def test_every_readme_block_equals_its_results_file() -> None:
    assert differing_blocks(TEXT) == [], "run: python bench/readme.py"


def test_no_measured_figure_outside_the_generated_blocks() -> None:
    assert stray_figures(TEXT) == []


def test_every_generator_has_its_block_in_the_readme() -> None:
    assert sorted(m["name"] for m in BLOCK.finditer(TEXT)) == sorted(BLOCKS)


def test_an_edited_figure_is_caught() -> None:
    match = next(m for m in BLOCK.finditer(TEXT) if m["name"] == "train_default")
    body = match["body"]
    figure = re.search(r"\b0\.\d{3}\b", body)
    assert figure is not None
    wrong = f"{float(figure.group(0)) + 0.001:.3f}"
    edited = TEXT.replace(body, body[: figure.start()] + wrong + body[figure.end():], 1)
    assert differing_blocks(edited) == ["train_default"]
    assert render(edited) == render(TEXT)  # regenerating restores it
    assert stray_figures(TEXT + "\nDefault training took 304 s at 650 img/s.\n") != []


def test_save_report_refuses_a_report_without_provenance(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lacks commit, date"):
        save_report(tmp_path / "x.json", {"command": "python bench/x.py", "machine": "m"})
    report = {"command": "python bench/x.py", "commit": "abc", "date": "2026-12-06", "machine": "m", "v": 1}
    save_report(tmp_path / "x.json", report, "# Title\n\nbody")
    assert json.loads((tmp_path / "x.json").read_text()) == report
    lines = (tmp_path / "x.md").read_text().splitlines()
    assert lines[0] == "# Title" and all(report[k] in lines[2] for k in PROVENANCE_KEYS)


def test_provenance_names_the_shipped_backbone() -> None:
    """A result "from the default backbone" says which weights that was."""
    card = json.loads((ROOT / "src" / "terrahash" / "model" / "weights" / "card.json").read_text())
    report = provenance("python bench/x.py")
    assert report["default_backbone"] == card["weights"]["sha256"]
    assert f"default backbone `{card['weights']['sha256'][:12]}`" in provenance_line(report)


def test_a_result_states_which_default_backbone_it_was_measured_with(tmp_path: Path) -> None:
    first, second = (sha for _, sha in SHIPPED_BACKBONES[:2])
    assert measured_backbone({"date": "2026-12-06T10:00:00+00:00"}) == first
    assert measured_backbone({"machine": {"date": "2026-12-07 02:22 UTC"}}) == second
    assert measured_backbone({"date": "2026-11-29 09:53 UTC"}) is None
    assert measured_backbone({"date": "2026-11-29 09:53 UTC", "default_backbone": "ab" * 32}) == "ab" * 32
    now = provenance("python bench/x.py")
    save_report(tmp_path / "now.json", now)
    save_report(tmp_path / "old.json", {**now, "default_backbone": "ab" * 32})
    assert "default backbone then" not in source(tmp_path, "now")
    assert f"default backbone then `{'ab' * 6}`, not the shipped" in source(tmp_path, "old")


def test_a_block_names_the_files_measured_from_an_earlier_backbone(tmp_path: Path) -> None:
    """All files stale: the whole block is; some: the banner names those, so a block re-measured
    file by file never passes an old figure for a current one."""
    now = provenance("python bench/x.py")
    save_report(tmp_path / "now.json", now)
    save_report(tmp_path / "old.json", {**now, "default_backbone": "ab" * 32})
    assert stale_banner(tmp_path, "now") == []
    whole = stale_banner(tmp_path, "old")[0]
    assert whole.startswith(f"**Measured from an earlier default backbone** (`{'ab' * 6}`)")
    partly = stale_banner(tmp_path, "now", "old")[0]
    assert partly.startswith("**Partly measured") and "`old.json`" in partly and "`now.json`" not in partly


def test_run_all_names_scripts_that_exist(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list", "--quick"]) == 0 and main(["--list"]) == 0
    for step in STEPS:
        for command in (*step.full, *(step.quick or ())):
            if command[0].startswith("bench/"):
                assert (ROOT / command[0]).is_file(), command


def test_every_results_file_has_a_step_that_writes_it() -> None:
    """``make bench`` regenerates every file under bench/results/: none is left without a step."""
    results = ROOT / "bench" / "results"
    written = [pattern for step in STEPS for pattern in step.outputs]
    orphans = [
        str(path.relative_to(results)) for path in sorted(results.rglob("*.json"))
        if not any(path.relative_to(results).match(pattern) for pattern in written)
    ]
    assert not orphans, f"no bench/run_all.py step writes {orphans}"


def test_each_results_page_states_its_provenance_once() -> None:
    """``save_report`` writes the provenance line; a page must not add a second copy."""
    repeated = []
    for page in sorted((ROOT / "bench" / "results").rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        lines = [line for line in text.splitlines() if line.startswith("Command `")]
        if len(lines) != len(set(lines)):
            repeated.append(page.name)
    assert repeated == []
