"""Readers under fuzzing (issue 15, point 5).

Every real metadata file is mutated with a fixed seed: bytes (flips, insertions, deletions,
long runs of one token, raster magic, truncation), encodings (UTF-16/32, Latin-1 with accents,
BOMs, a false XML prolog), dates at the ends of the calendar, and the structure of its family
(XML elements, entities and depth; JSON/YAML keys, types, nesting, huge numbers and alias
bombs; MTL/ODL lines and values). Each outcome must be records that the CLI can
print, or a ``MetadataError`` reading ``FILE: error: ...`` on one line; anything else (another
exception, a multi-line message, a case slower than ``CASE_LIMIT_S``) fails with the file,
the mutation and the seed, which reproduce it.
"""

from __future__ import annotations

import csv
import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydantic import ValidationError

from terrahash.errors import MetadataError
from terrahash.metadata import Document, read_metadata
from terrahash.metadata.prompt import render_prompt
from terrahash.metadata.stac import record_to_stac
from tests.metadata import fuzz_mutations as fm
from tests.metadata.expected import METADATA_DIR

SEED = 20261206
#: One case (read + print as JSON, STAC and prompt) may take this many CPU seconds. CPU time,
#: not wall time: a backtracking regex burns CPU, while a machine busy with other jobs only
#: stretches the wall clock (a 2 s wall limit failed a case under a parallel training run).
CASE_LIMIT_S = 2.0
#: Past this many CPU seconds a case counts as a hang and is interrupted (POSIX profiling timer).
HANG_LIMIT_S = 10.0
#: Mutations that declare entities (billion laughs, external files): must be refused as unsafe
#: XML. An external DTD alone may be accepted (it is never loaded), but must leak nothing.
UNSAFE_XML = {"xml_entities"}
#: What ``/etc/passwd`` (the file the hostile XML points at) would leak into a record or message.
LEAK = "root:x:0"

FILES = sorted(
    p for p in METADATA_DIR.rglob("*") if p.is_file() and p.name not in ("INDEX.csv", "FIELDS.md")
) if METADATA_DIR.is_dir() else []
FOLDERS = sorted({p.parent.name for p in FILES})


class _Hang(Exception):
    """A case ran past ``HANG_LIMIT_S``."""


@contextmanager
def _hang_guard(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` of CPU time (where SIGPROF exists; elsewhere timing only)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _alarm(signum: int, frame: object) -> None:
        raise _Hang()

    previous = signal.signal(signal.SIGPROF, _alarm)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def mutations(path: Path, seed: int = SEED) -> Iterator[tuple[str, bytes]]:
    """(mutator name, mutated bytes) for each mutator that applies to ``path``."""
    data = path.read_bytes()
    for mutator in fm.mutators_for(data, path.name):
        mutated = mutator(data, random.Random(f"{seed}:{path.name}:{mutator.__name__}"))
        if mutated is not None:
            yield mutator.__name__, mutated


def problem_with(path: Path, mutation: str, data: bytes) -> str | None:
    """What is wrong with reading ``data`` as ``path``, or ``None`` when the outcome is fine."""
    start = time.process_time()
    try:
        with _hang_guard(HANG_LIMIT_S):
            records = read_metadata(path, data)
            printed = []
            for record in records:  # what `terrahash meta --json / --stac` and `prompt` print
                printed.append(json.dumps(record.to_json_dict()))
                render_prompt(record)
                try:
                    record_to_stac(record)
                except ValueError as exc:  # documented; `meta --stac` prints it as FILE: error
                    if "needs a datetime" not in str(exc):
                        raise
        if mutation in UNSAFE_XML:
            outcome = "accepted entity declarations"
        elif any(LEAK in text for text in printed):
            outcome = "a record holds the content of a file the XML refers to"
        else:
            outcome = None
    except MetadataError as exc:
        message = str(exc)
        if not message.startswith(f"{path}: error: "):
            outcome = f"error does not start with 'FILE: error: ': {message[:200]!r}"
        elif len(message.splitlines()) > 1:
            outcome = f"error spans several lines: {message[:300]!r}"
        elif LEAK in message:
            outcome = "the error holds the content of a file the XML refers to"
        elif mutation in UNSAFE_XML and "XML refused" not in message:
            outcome = f"unsafe XML not refused as such: {message[:200]!r}"
        else:
            outcome = None
    except _Hang:
        return f"hang: still running after {HANG_LIMIT_S} s"
    except Exception as exc:  # noqa: BLE001 - any other exception is the finding
        # a pydantic error's str() reprs its input, which for an alias bomb never ends
        detail = "; ".join(e["msg"] for e in exc.errors()) if isinstance(exc, ValidationError) else str(exc)
        return f"{type(exc).__name__}: {detail[:200]}"
    elapsed = time.process_time() - start
    if elapsed > CASE_LIMIT_S:
        return f"took {elapsed:.1f} CPU s (limit {CASE_LIMIT_S} s)"
    return outcome


@pytest.mark.parametrize("folder", FOLDERS)
def test_mutated_files_give_records_or_a_clear_error(folder: str) -> None:
    failures = []
    cases = 0
    for path in (p for p in FILES if p.parent.name == folder):
        for mutation, data in mutations(path):
            cases += 1
            if problem := problem_with(path, mutation, data):
                failures.append(f"{path} mutation={mutation} seed={SEED}: {problem}")
    assert cases > 0
    assert not failures, f"{len(failures)} of {cases} cases failed:\n" + "\n".join(failures)


def test_every_real_file_is_fuzzed_with_every_family_of_mutation() -> None:
    if not FILES:
        pytest.skip(f"{METADATA_DIR} not present")
    with open(METADATA_DIR / "INDEX.csv", newline="") as fh:
        index = list(csv.DictReader(fh))
    assert {METADATA_DIR / row["path"] for row in index} <= set(FILES)  # all 34 formats
    families = {fm.family(p.read_bytes(), p.name) for p in FILES}
    assert families == {"xml", "json", "yaml", "text"}
    for path in FILES:
        names = {name for name, _ in mutations(path)}
        assert {"truncate", "flip_bytes", "utf16"} <= names, path
        family = fm.family(path.read_bytes(), path.name)
        assert names & {m.__name__ for m in fm.STRUCTURE_MUTATORS[family]}, path


def test_the_checker_catches_what_it_must(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fuzz assertions can fail: accepted entities, stray exceptions, bad messages, slowness."""
    if not FILES:
        pytest.skip(f"{METADATA_DIR} not present")
    xml = METADATA_DIR / "cresda_xml" / "GF2_PMS1_W91.0_N17.6_20200510_L1A0004793969-MSS1.xml"
    assert problem_with(xml, "truncate", xml.read_bytes()[:40]) is None
    assert problem_with(xml, "xml_entities", xml.read_bytes()) == "accepted entity declarations"

    def fake(error: Exception | None = None, sleep: float = 0.0):  # noqa: ANN202
        def read(path: Path, data: bytes) -> list[object]:
            end = time.process_time() + sleep  # busy, as a backtracking regex is: CPU time counts
            while time.process_time() < end:
                pass
            if error is not None:
                raise error
            return []
        return read

    two_lines = MetadataError(xml, "a")
    two_lines.args = (f"{xml}: error: a\nb",)  # as if MetadataError let a line break through
    cases = {
        "KeyError": fake(KeyError("x")),
        "does not start with": fake(MetadataError("elsewhere.xml", "x")),
        "several lines": fake(two_lines),
        "took": fake(sleep=0.2),
        "hang": fake(sleep=5.0),
    }
    monkeypatch.setattr(sys.modules[__name__], "CASE_LIMIT_S", 0.1)
    monkeypatch.setattr(sys.modules[__name__], "HANG_LIMIT_S", 0.3)
    for expect, read in cases.items():
        monkeypatch.setattr(sys.modules[__name__], "read_metadata", read)
        assert expect in (problem_with(xml, "truncate", b"") or ""), expect


# -- the bugs the fuzzer found, one regression per class -------------------------------------
def _error(data: bytes, name: str = "f.dat") -> str:
    with pytest.raises(MetadataError) as info:
        read_metadata(name, data)
    message = str(info.value)
    assert message.startswith(f"{name}: error: ") and len(message.splitlines()) == 1
    return message


def _parse_error(data: bytes, view: str) -> str:
    with pytest.raises(MetadataError) as info:
        getattr(Document("f.dat", data), view)
    message = str(info.value)
    assert message.startswith("f.dat: error: ") and len(message.splitlines()) == 1
    return message


def test_deeply_nested_json_and_yaml_are_malformed_not_a_recursion_error() -> None:
    assert "nested too deeply" in _error(b"[" * 100_000 + b"]" * 100_000)
    start = time.process_time()
    assert "malformed YAML" in _parse_error(b"a: " + b"[" * 5000 + b"]" * 5000, "yaml")
    assert time.process_time() - start < 1.0


@pytest.mark.parametrize("codec", ["rot13", "base64", "zlib", "punycode", "undefined"])
def test_a_prolog_naming_a_codec_that_is_no_text_encoding_is_a_clear_error(codec: str) -> None:
    data = f'<?xml version="1.0" encoding="{codec}"?><ProductMetaData/>'.encode()
    assert f"{codec}" in _parse_error(data, "text")


def test_yaml_errors_are_one_line() -> None:
    message = _parse_error(b"id: x\nproduct: {name: [\n  b: c: d\n", "yaml")
    assert "at line 3" in message


def test_any_error_message_is_one_line() -> None:
    """Parsers quote the file (a punycode error quotes a newline): the error keeps to one line."""
    data = b'<?xml version="1.0" encoding="punycode"?>\nGROUP = L1_METADATA_FILE\n'
    assert "punycode" in _parse_error(data, "text")
    assert str(MetadataError("f", "a\nb\rc\u2028d")) == "f: error: a b c d"


def test_infinite_numbers_are_missing_values() -> None:
    from terrahash.metadata.values import to_float

    assert [to_float(v) for v in ("inf", "-inf", "1e400", float("inf"), 10**400, "12.5")] == [
        None, None, None, None, None, 12.5
    ]


def test_instants_past_the_ends_of_the_calendar_in_utc_are_invalid_values() -> None:
    from datetime import datetime, timedelta, timezone

    from terrahash.metadata import SceneRecord

    for when in (
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-5))),
        datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=5))),
    ):
        with pytest.raises(ValidationError) as info:
            SceneRecord(datetime=when)
        assert "outside the representable range" in info.value.errors()[0]["msg"]


def test_numbers_of_thousands_of_digits_are_clear_errors() -> None:
    """Past Python's int conversion limit the parsers raise a plain ValueError; a huge int that
    parses overflows ``float()`` inside a reader."""
    assert "malformed JSON" in _parse_error(b'{"a": ' + b"9" * 5000 + b"}", "json")
    assert "malformed YAML" in _parse_error(b"a: " + b"9" * 5000 + b"\n", "yaml")
    tile = METADATA_DIR / "sentinel2_aws" / "S2B_MSIL1C_20201011T000249_N0209_R030_T55HFA__tileInfo.json"
    if not tile.exists():
        pytest.skip(f"{tile} not present")
    item = json.loads(tile.read_bytes())
    item["tileGeometry"]["coordinates"][0][0][0] = 10**400
    assert "could not read the file" in _error(json.dumps(item).encode(), "tileInfo.json")


def test_degenerate_projected_footprint_is_a_clear_error() -> None:
    from terrahash.metadata.readers._sentinel_common import projected_to_wgs84

    with pytest.raises(ValueError, match="distinct corners"):
        projected_to_wgs84([], 32633)
    with pytest.raises(ValueError, match="distinct corners"):
        projected_to_wgs84([(500000.0, 0.0)] * 4, 32633)


def test_unprojectable_geometry_is_a_value_error() -> None:
    from terrahash.metadata.readers._geo import parse_crs, to_wgs84

    crs = parse_crs("EPSG:32648")
    assert crs is not None
    far = {"type": "Polygon", "coordinates": [[[1e30, 1e30], [2e30, 1e30], [2e30, 2e30], [1e30, 1e30]]]}
    with pytest.raises(ValueError, match="reproject"):
        to_wgs84(far, crs)


def test_unprojectable_roscosmos_corner_is_no_corner() -> None:
    from terrahash.metadata.readers.roscosmos_xml import _projected_latlon

    far = {"nULEast": "1e30", "nULNord": "1e30", "nCoordSystCode": "32650"}
    assert _projected_latlon(far, "UL") is None


def test_oversized_extra_is_refused_quickly() -> None:
    from terrahash.metadata import SceneRecord

    bomb: list[object] = ["x"] * 10
    for _ in range(8):  # 10**9 values through shared references, as a YAML alias bomb builds
        bomb = [bomb] * 10
    deep: object = 1
    for _ in range(300):
        deep = [deep]
    start = time.process_time()
    for value, expect in ((bomb, "holds more than"), (deep, "nested more than")):
        # only the messages: str() of the ValidationError would repr the bomb, for ever
        with pytest.raises(ValidationError) as info:
            SceneRecord(extra={"a": value})
        assert expect in info.value.errors()[0]["msg"]
    assert time.process_time() - start < 1.0


# -- through the CLI -------------------------------------------------------------------------
GA_EO1 = METADATA_DIR / "odc_eo3_yaml" / "LC80840720742017365LGN00__ga-metadata.yaml"
GOOD_XML = METADATA_DIR / "cresda_xml" / "GF2_PMS1_W91.0_N17.6_20200510_L1A0004793969-MSS1.xml"
MTL_JSON = METADATA_DIR / "landsat_mtl" / "LC08_L2SP_008059_20191201_20200825_02_T1_MTL.json"


def _alias_bombed_ga_eo1(line: bytes = b"product_type: satellite_telemetry_data") -> bytes:
    """A real GA EO1 file with one value (by default ``product_type``, kept in ``extra``)
    replaced by a YAML alias bomb."""
    data = GA_EO1.read_bytes()
    assert line in data
    key = line.split(b":")[0]
    return data.replace(line, key + b": " + fm.alias_bomb().encode(), 1)


@pytest.mark.parametrize("line", [b"product_type: satellite_telemetry_data", b"code: LANDSAT_8"])
def test_alias_bomb_is_refused_quickly(line: bytes) -> None:
    """Kept in ``extra`` the bomb hung ``to_json_dict``; as the platform code it hung ``str()``."""
    if not GA_EO1.exists():
        pytest.skip(f"{GA_EO1} not present")
    start = time.process_time()
    assert "alias expansion" in _error(_alias_bombed_ga_eo1(line), "ga.yaml")
    assert time.process_time() - start < CASE_LIMIT_S


def test_cli_reports_fuzzed_files_on_one_line_each_without_traceback(tmp_path: Path) -> None:
    """The real ``terrahash meta`` process: one ``FILE: error:`` line per broken file, exit 2,
    the good file still printed."""
    if not all(p.exists() for p in (GA_EO1, GOOD_XML, MTL_JSON)):
        pytest.skip(f"{METADATA_DIR} not complete")
    xml_entities = dict(mutations(GOOD_XML))["xml_entities"]
    json_text = MTL_JSON.read_bytes()
    yaml_text = GA_EO1.read_bytes()
    bad = {
        "entities.xml": (xml_entities, "XML refused"),
        "deep.json": (json_text.replace(b"{", b"[" * 100_000 + b"]" * 100_000 + b"{", 1), "malformed JSON"),
        "truncated.json": (json_text[: len(json_text) // 2], "malformed JSON"),
        "deep.yaml": (yaml_text + b"deep: " + b"[" * 3000 + b"]" * 3000 + b"\n", "malformed YAML"),
        "broken.yaml": (yaml_text.replace(b"usgs:", b"usgs: {", 1), "malformed YAML"),
        "bomb.yaml": (_alias_bombed_ga_eo1(), "alias expansion"),
        "utf16_bad.xml": (GOOD_XML.read_bytes()[:-1].decode().encode("utf-16")[:-1], "UTF-16"),
    }
    paths = []
    for name, (data, _) in bad.items():
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    proc = subprocess.run(
        [sys.executable, "-m", "terrahash.cli", "meta", "--json", *map(str, paths), str(GOOD_XML)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert [json.loads(line)["platform"] for line in proc.stdout.splitlines()] == ["gf-2"]
    lines = proc.stderr.splitlines()
    assert len(lines) == len(paths), proc.stderr
    for path, (_, expect), line in zip(paths, bad.values(), lines, strict=True):
        assert line.startswith(f"{path}: error: ") and expect in line, line


def test_malformed_footprint_is_an_invalid_value_not_a_type_error() -> None:
    from terrahash.metadata import SceneRecord

    for coordinates in ([], [[]], [[["a", 1.0], [2.0, 3.0]]], [[[1.0]]], 5, [[[True, 1.0]]]):
        with pytest.raises(ValidationError) as info:
            SceneRecord(footprint={"type": "Polygon", "coordinates": coordinates})
        assert "footprint" in info.value.errors()[0]["msg"]


#: Files whose readers match lines with regexes, and the line to lengthen (default: the line a
#: third into the file).
BLANK_RUN_FILES = {
    "landsat_mtl/LC08_L2SP_017036_20130419_20200913_02_T2_MTL.txt": None,
    "landsat_ang/LC08_L2SP_005009_20150710_20200908_02_T2_ANG.txt": None,
    "maxar_imd/18OCT02053604-P1BS-502544562030_01_P007.IMD": None,
    "roscosmos_xml/KV5_15173_15173_01_3NP2_08_ORT_S_262214_210921.xml": None,
    "satellogic_xml/20240314_172620_SN30_L1_SR_MS_metadata_iso.xml": b"Satellite Name: NewSat",
    "naip_fgdc/m_4107212_se_18_060_20180816.txt": None,
    "isro_txt/203660031_P_MET.TXT": None,
    "odc_eo3_yaml/ga_ls8c_ard_3-1-0_088080_2020-05-25_final.odc-metadata.yaml": None,
}


@pytest.mark.parametrize("relative", BLANK_RUN_FILES)
def test_long_runs_of_blanks_do_not_make_the_regexes_backtrack(relative: str) -> None:
    """``(.*?)\\s*$`` and a MULTILINE ``^\\s*`` took seconds to minutes on a long run of blanks
    (inside a value line, or as blank lines); each run here must read within the case limit."""
    path = METADATA_DIR / relative
    if not path.exists():
        pytest.skip(f"{path} not present")
    data = path.read_bytes()
    anchor = BLANK_RUN_FILES[relative]
    at = data.rindex(b"\n", 0, data.index(anchor)) + 1 if anchor else data.index(b"\n", len(data) // 3) + 1
    inside = data.index(anchor) + len(anchor) if anchor else data.index(b"\n", at)
    runs = {
        "blanks inside a line": data[:inside] + b" " * 50_000 + b"x" + data[inside:],
        "blank lines": data[:at] + b"\n" * 20_000 + data[at:],
        "blank lines at the top": b"\n" * 20_000 + data,
    }
    for name, mutated in runs.items():
        assert problem_with(path, "long_run", mutated) is None, name


def test_given_raster_bytes_are_read_not_the_file_the_name_points_at(tmp_path: Path) -> None:
    """``read_metadata(name, data)`` (an upload) read the local file called ``name`` when one
    existed and ``data`` looked like a TIFF: the client chose which server file was opened."""
    import numpy as np
    import rasterio
    from rasterio.transform import Affine

    local = tmp_path / "LC08_L1TP_047027_20201204_20210313_02_T1_B4.TIF"
    with rasterio.open(
        local, "w", driver="GTiff", width=4, height=4, count=1, dtype="uint8", crs="EPSG:32610",
        transform=Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 5000000.0),
    ) as ds:
        ds.write(np.zeros((1, 4, 4), dtype="uint8"))
    assert read_metadata(local)[0].platform == "landsat-8"  # the file itself still reads
    message = _error(b"II*\x00" + b"\x00" * 64, str(local))
    assert "raster" in message


def test_a_platform_name_with_a_long_number_is_normalised_quickly() -> None:
    """``0*(\\d+)`` backtracked over a run of zeros; ``int()`` of 5000 digits raised ValueError."""
    from terrahash.metadata.platforms import normalize_platform

    start = time.process_time()
    assert normalize_platform("DE" + "0" * 50_000 + "xy") is not None
    assert normalize_platform("GF" + "9" * 5000) == "gf-" + "9" * 5000
    assert time.process_time() - start < 1.0
    assert [normalize_platform(n) for n in ("GF02", "x007", "x070", "x00", "landsat10")] == [
        "gf-2", "x-7", "x-70", "x-0", "landsat-10"
    ]


@pytest.mark.parametrize("command", [["meta", "--stac"], ["prompt", "--features"]])
def test_other_cli_commands_report_a_fuzzed_file_on_one_line(command: list[str], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from terrahash.cli import app

    if not GOOD_XML.exists():
        pytest.skip(f"{GOOD_XML} not present")
    bad = tmp_path / "entities.xml"
    bad.write_bytes(dict(mutations(GOOD_XML))["xml_entities"])
    result = CliRunner().invoke(app, [*command, str(bad)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # no exception escaped the command
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{bad}: error: XML refused"), result.stderr
