"""Bad input: each broken file gives ``FILE: error: WHAT`` and exit 2; the other files still print."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from terrahash.cli import app
from terrahash.errors import MetadataError
from terrahash.metadata import read_metadata
from tests.metadata.expected import METADATA_DIR

GOOD = METADATA_DIR / "cresda_xml" / "GF2_PMS1_W91.0_N17.6_20200510_L1A0004793969-MSS1.xml"
ROSCOSMOS = METADATA_DIR / "roscosmos_xml" / "Kanopus-V3_BOLIVIA_09012021_PSS.xml"


def _bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    secret = tmp / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    files: dict[str, tuple[bytes, str]] = {
        "xxe": (
            f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
            "<ProductMetaData><SatelliteID>&x;</SatelliteID></ProductMetaData>".encode(),
            "XML refused",
        ),
        "billion_laughs": (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
            b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
            b"<lolz>&lol3;</lolz>",
            "XML refused",
        ),
        "truncated": (GOOD.read_bytes()[: len(GOOD.read_bytes()) // 2], "malformed XML"),
        "truncated_json": (b'{"type": "Feature", "properties": {"acquired": "2020-', "malformed JSON"),
        "empty": (b"", "empty"),
        "whitespace": (b"  \n\t\n", "empty"),
        "binary": (bytes(range(256)) * 8, "binary"),
        "png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "binary"),
        "wrong_encoding": (
            ROSCOSMOS.read_bytes().replace(b'encoding="windows-1251"', b'encoding="utf-8"'),
            "not valid utf-8",
        ),
        "undeclared_cp1251": ("ключ = значение\n".encode("cp1251"), "not valid utf-8"),
        "unknown_xml": (
            b'<?xml version="1.0"?><Recipe><Flour>200</Flour></Recipe>', "unknown metadata format"
        ),
        "unknown_text": (b"just some notes about a field trip\n", "unknown metadata format"),
        "unknown_json": (b'{"name": "not a scene"}', "unknown metadata format"),
    }
    out = {}
    for name, (data, expect) in files.items():
        path = tmp / f"{name}.dat"
        path.write_bytes(data)
        out[name] = (path, expect)
    return out


@pytest.fixture()
def bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    return _bad_files(tmp_path)


CASES = [
    "xxe", "billion_laughs", "truncated", "truncated_json", "empty", "whitespace", "binary", "png",
    "wrong_encoding", "undeclared_cp1251", "unknown_xml", "unknown_text", "unknown_json",
]


@pytest.mark.parametrize("case", CASES)
def test_library_raises_metadata_error(bad_files: dict[str, tuple[Path, str]], case: str) -> None:
    path, expect = bad_files[case]
    with pytest.raises(MetadataError) as info:
        read_metadata(path)
    assert str(info.value).startswith(f"{path}: error: ")
    assert expect.lower() in str(info.value).lower()
    assert "TOP-SECRET" not in str(info.value)


@pytest.mark.parametrize("case", CASES)
def test_cli_reports_each_bad_file_and_still_prints_the_good_ones(
    bad_files: dict[str, tuple[Path, str]], case: str
) -> None:
    path, expect = bad_files[case]
    result = CliRunner().invoke(app, ["meta", "--json", str(GOOD), str(path), str(GOOD)])
    assert result.exit_code == 2
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [rec["platform"] for rec in lines] == ["gf-2", "gf-2"]
    assert f"{path}: error: " in result.stderr
    assert expect.lower() in result.stderr.lower()
    assert "Traceback" not in result.stderr + result.stdout
    assert "TOP-SECRET" not in result.stdout + result.stderr


def test_missing_file_and_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["meta", str(tmp_path / "nope.xml"), str(tmp_path)])
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope.xml'}: error: no such file" in result.stderr
    assert f"{tmp_path}: error: is a directory" in result.stderr
