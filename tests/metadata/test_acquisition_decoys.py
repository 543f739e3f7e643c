"""Each reader takes the acquisition date only from fields that mean acquisition.

For every real file of a format, every date in a field that does *not* mean acquisition
(production, generation, archiving, reception, publication, metadata dates, dates inside
other products' ids ...) is rewritten to a decoy year; the parsed ``datetime``,
``start_datetime`` and ``end_datetime`` must not move. A wrong date is worse than none.
The fields that do mean acquisition come from the formats' documentation
(``shared/data/metadata/FIELDS.md``), by element or key name (``parent/child`` in XML).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from terrahash.errors import MetadataError
from terrahash.metadata import read_metadata
from tests.metadata.expected import METADATA_DIR

ROOT = METADATA_DIR

#: Format folder -> the fields that mean acquisition (searched in ``parent/child``). Not here:
#: Landsat ANG/IDF sidecars and Sentinel-1 manifests, which no reader takes a scene from.
ACQUISITION: dict[str, str] = {
    "alos_summary": r"Lbi_ObservationDate|Img_SceneCenterDateTime",
    "bka_pasp_xml": r"Acquisition_Time_GMT|Acquisition_Date",
    "blacksky_json": r"acquisitionDate",
    "cresda_xml": r"/(StartTime|EndTime|CenterTime)$",
    "dimap_v1": r"IMAGING_(DATE|TIME|START_TIME|STOP_TIME)$|/(START_TIME|STOP_TIME)$",
    "dimap_v2": r"IMAGING_(DATE|TIME)$|Time_Range/(START|END)$|/TIME$",
    "inpe_cbers_xml": r"(viewing|timeStamp)/(begin|center|end)$",
    "isro_txt": r"SceneCenterTime|DateOfPass|SceneStartTime|SceneEndTime",
    "kompsat_aux_xml": r"Imaging(Start|End|Center)Time/UTC$",
    "landsat_mtl": r"(^|/)(DATE_ACQUIRED|SCENE_CENTER_TIME|ACQUISITION_DATE)$",
    "maxar_imd": r"(^|/)(firstLineTime|earliestAcqTime|latestAcqTime)$",
    "maxar_xml": r"(^|/)(COLLECTIONSTART|COLLECTIONSTOP|FIRSTLINETIME|EARLIESTACQTIME|LATESTACQTIME)$",
    "modis_ecs_xml": r"(^|/)Range(Beginning|Ending)(Date|Time)$",
    "naip_fgdc": r"(^|/)(Calendar_Date|caldate|Beginning_Date|Ending_Date|begdate|enddate)$",
    "naip_iso19139": r"(gml:timePosition|gml:beginPosition|gml:endPosition)$|/gco:CharacterString$",
    "odc_eo3_yaml": r"(^|/)(datetime|aos|los|dtr:start_datetime|dtr:end_datetime)$",
    "planet_json": r"(^|/)acquired$",
    "planet_xml": r"(^|/)(ps:acquisitionDateTime|eop:acquisitionDate|gml:beginPosition|gml:endPosition)$",
    "roscosmos_xml": r"(^|/)(dSceneDate|tSceneTime|dSessionDate|tSessionTime|tSessionTimeUTC)$",
    "satellogic_xml": r"gmd:dateStamp/gco:Date(Time)?$|/gco:CharacterString$",
    "sentinel2_aws": r"(^|/)timestamp$",
    "sentinel2_inspire": r"(gml:beginPosition|gml:endPosition)$",
    "sentinel2_product": r"(^|/)(PRODUCT_START_TIME|PRODUCT_STOP_TIME|DATATAKE_SENSING_START)$",
    "sentinel2_safe_manifest": r"(^|/)(safe:startTime|safe:stopTime)$",
    "sentinel2_tile": r"(^|/)SENSING_TIME$",
    "sentinel3_manifest": r"(^|/)(sentinel-safe:startTime|sentinel-safe:stopTime)$",
    "stac_item": r"(^|/)(datetime|start_datetime|end_datetime)$",
    "stac_item_list": r"(^|/)(datetime|start_datetime|end_datetime)$",
    "usgs_hdds_txt": r"(^|/)ACQUISITION_DATE$",
    "vrss_xml": r"(^|/)Scene_imaging(Start|Stop)Time$",
}

#: A year inside a date (YYYY-MM-DD, YYYY/MM/DD, YYYY MM DD, YYYYMMDD[hhmmss], YYYY:DOY,
#: DD-MON-YYYY, MM/DD/YYYY ...).
_YEAR = re.compile(
    r"(?<!\d)((?:19|20)\d{2})"
    r"(?=[-/.:]\d{2,3}|\d{4}(?!\d)|\d{4}T|\d{10}(?!\d)|\d{10}\.|\d{3}(?!\d)| \d\d \d\d\b)"
    r"|(?:(?<=\d\d[-/.])|(?<=[A-Za-z]{3}[-/ ]))((?:19|20)\d{2})(?!\d)"
)
#: The key a value belongs to, from the text before it on its line: ``KEY = ``, ``"key": ``
#: or ``key: ``.
_KEY = re.compile(r'([A-Za-z_][\w.:-]*)"?\s*(?:=|:)\s*"?[^"<>=\r\n]*$')
_TAG = re.compile(r"<(/?)([A-Za-z_][\w.:-]*)[^<>]*?(/?)>")


def _field(text: str, pos: int) -> str:
    """``parent/element`` (XML element text), ``element@attribute`` or the key of the value
    at ``pos`` ('' when none is found)."""
    opened, closed = text.rfind("<", 0, pos), text.rfind(">", 0, pos)
    if opened >= 0 and closed < opened:  # inside a tag: an attribute value
        attr = re.search(r'([\w.:-]+)\s*=\s*["\'][^"\']*$', text[opened:pos])
        return f"{text[opened + 1:].split(maxsplit=1)[0]}@{attr.group(1) if attr else ''}"
    if opened >= 0 and text[opened + 1] not in "/!?" and "\n" not in text[closed:pos].strip():
        stack: list[str] = []
        for tag in _TAG.finditer(text, max(0, opened - 4000), closed + 1):
            if tag.group(3):
                continue
            if not tag.group(1):
                stack.append(tag.group(2))
            elif stack and stack[-1] == tag.group(2):
                stack.pop()
        return "/".join(stack[-2:])
    line = max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1
    found = _KEY.search(text[line:pos])
    return found.group(1) if found else ""


def _times(path: Path, data: bytes) -> list[tuple[object, object, object]] | str:
    try:
        records = read_metadata(path, data)
    except MetadataError as exc:
        return f"error: {exc}"
    return [(r.datetime, r.start_datetime, r.end_datetime) for r in records]


def _decoyed(text: str, keep: re.Pattern[str], decoy_all: bool = False,
             spoil: bool = False) -> tuple[str, int]:
    """``text`` with the year of every date outside ``keep``'s fields replaced by a decoy
    (``decoy_all``: inside them too; ``spoil``: inside them by letters, unreadable)."""
    out, last, count = [], 0, 0
    for match in _YEAR.finditer(text):
        group = 1 if match.group(1) else 2
        start, end = match.span(group)
        year = match.group(group)
        if keep.search(_field(text, start)) and not decoy_all:
            if spoil:
                out += [text[last:start], "YYYY"]
                last = end
            continue
        out += [text[last:start], "1988" if year != "1988" else "1992"]
        last, count = end, count + 1
    return "".join(out) + text[last:], count


def _files(fmt: str) -> list[Path]:
    return sorted(p for p in (ROOT / fmt).rglob("*") if p.is_file())


@pytest.mark.parametrize("fmt", sorted(ACQUISITION))
def test_acquisition_date_ignores_every_other_date_field(fmt: str) -> None:
    if not (ROOT / fmt).is_dir():
        pytest.skip(f"{ROOT / fmt} is not available")
    keep = re.compile(ACQUISITION[fmt])
    decoys = dated = moved_by_acquisition = 0
    for path in _files(fmt):
        data = path.read_bytes()
        want = _times(path, data)
        if isinstance(want, str):
            continue  # not a file this format's reader reads (a sidecar, a stub)
        text = data.decode("latin-1")
        changed, count = _decoyed(text, keep)
        decoys += count
        got = _times(path, changed.encode("latin-1"))
        assert got == want, f"{path.name}: a date outside the acquisition fields changed the result"
        if any(any(t is not None for t in row) for row in want):
            dated += 1
            everything, _ = _decoyed(text, keep, decoy_all=True)
            moved_by_acquisition += _times(path, everything.encode("latin-1")) != want
    # the decoys reach the reader: rewriting the acquisition fields too moves the date
    assert moved_by_acquisition or not dated, f"{fmt}: decoys never changed a date; the test is blind"
    assert decoys or dated, f"{fmt}: neither a date nor a decoy: nothing was tested"


@pytest.mark.parametrize("fmt", sorted(ACQUISITION))
def test_no_acquisition_date_is_null_not_another_date(fmt: str) -> None:
    """With the acquisition fields unreadable, no other date of the file stands in for them."""
    if not (ROOT / fmt).is_dir():
        pytest.skip(f"{ROOT / fmt} is not available")
    keep = re.compile(ACQUISITION[fmt])
    for path in _files(fmt):
        data = path.read_bytes()
        if isinstance(_times(path, data), str):
            continue
        spoiled, _ = _decoyed(data.decode("latin-1"), keep, spoil=True)
        got = _times(path, spoiled.encode("latin-1"))
        if isinstance(got, str):
            continue  # refused with a clear error: fine
        decoy_years = {t.year for row in got for t in row if t is not None} & {1988, 1992}
        assert not decoy_years, f"{path.name}: acquisition taken from another date field: {got}"
