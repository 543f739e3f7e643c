"""Parity: a query and its filters give the same ids, distances and scores in every front end.

Each case runs one query (an indexed id, an image file, free text) with one filter set
through the CLI (``terrahash search --json``), the Python API (``Searcher``) and the HTTP
service (``GET``/``POST /search``), re-ranked (the default), and asserts identical ids,
Hamming distances and re-ranking scores. The filters must also bite, with STAC interval
semantics everywhere: a date-only ``end`` covers its whole day, and a bbox whose west is
east of its east crosses the antimeridian. The answer is checked against the unfiltered
Hamming ranking restricted to the items that pass (computed here from the metadata this
module writes), cut to the re-ranking shortlist and sorted by the items' scores, so a
filter that leaves out what it should keep, or keeps what it should leave out, fails even
when all three front ends agree.

The index is a tiny trained run over 48 real UC Merced images (6 classes x 8) whose
manifest adds platform, GSD, centre, date-time and cloud columns.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from terrahash.app import Query, Searcher
from terrahash.cli import app
from terrahash.data import default_data_dir
from terrahash.index.rerank import SHORTLIST_FACTOR
from terrahash.service import create_app

K = 15
CLASSES = ("agricultural", "beach", "buildings", "forest", "harbor", "river")
PER_CLASS = 8
PLATFORMS = ("sentinel-2a", "landsat-8")
#: Centres on both sides of the antimeridian, near it but outside the test box, and far off.
LONS = (179.5, -179.5, 175.0, 165.0, -165.0, 20.0, -75.0)
LATS = (0.0, 5.0, -9.0, 30.0)
DAY = "2021-03-15"
#: Several scenes on ``DAY`` (at midnight and later that day), the day before and the day after.
DATES = (
    "2021-03-15T00:00:00Z",
    "2021-03-15T10:30:00Z",
    "2021-03-15T23:30:00Z",
    "2021-03-16T08:00:00Z",
    "2021-03-14T12:00:00Z",
)
#: W > E: the box from 170 E across the antimeridian to 170 W.
ANTIMERIDIAN = (170.0, -10.0, -170.0, 10.0)

#: Filter sets in the Python API's spelling (``Searcher.search(..., filters=...)``).
FILTERS: dict[str, dict[str, Any]] = {
    "none": {},
    "end-date-only": {"end": DAY},
    "start-end-same-day": {"start": DAY, "end": DAY},
    "start-end-instants": {"start": "2021-03-14T12:00:00Z", "end": "2021-03-15T10:30:00Z"},
    "bbox-antimeridian": {"bbox": ANTIMERIDIAN},
    "platform": {"platforms": ["landsat-8"]},
    "gsd-max": {"gsd_max": 0.5},
    "gsd-min": {"gsd_min": 0.5},
    "cloud-max": {"cloud_max": 30},
    "label": {"labels": ["forest", "beach"]},
    "combined": {
        "bbox": ANTIMERIDIAN,
        "end": DAY,
        "platforms": ["sentinel-2a"],
        "gsd_max": 0.5,
        "cloud_max": 80,
    },
}
#: Query kinds: by indexed id, by an image file (of an indexed item), by text.
QUERIES: dict[str, dict[str, str]] = {
    "id": {"id": "beach02"},
    "image": {"image": "forest03"},
    "text": {"text": "forest"},
}


@dataclass(frozen=True)
class Item:
    """The metadata this module wrote for one indexed image."""

    id: str
    path: Path
    label: str
    platform: str
    gsd: float
    cloud: float
    lat: float
    lon: float
    when: dt.datetime


@dataclass(frozen=True)
class Built:
    index: Path
    items: dict[str, Item]


@dataclass(frozen=True)
class Ranked:
    ids: list[str]
    distances: list[int]
    scores: list[float | None]


# -- fixture -----------------------------------------------------------------------------------
def invoke(*args: object) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, f"terrahash {' '.join(map(str, args))}: {result.output}"
    return result.stdout


def write_manifest(out: Path) -> dict[str, Item]:
    root = default_data_dir() / "scenes" / "ucmerced"
    if not (root / "manifest.csv").is_file():
        pytest.skip(f"UC Merced not found under {root}")
    with open(root / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    chosen = [r for label in CLASSES for r in [r for r in rows if r["label"] == label][:PER_CLASS]]
    items: dict[str, Item] = {}
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "manifest.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label", "gsd_m", "platform", "lat", "lon", "date", "cloud_cover"])
        for i, row in enumerate(chosen):
            path = (root / row["path"]).resolve()
            item = Item(
                id=path.stem,
                path=path,
                label=row["label"],
                platform=PLATFORMS[i % 2],
                gsd=1.0 if i % 3 == 0 else 0.3,
                cloud=float((7 * i) % 100),
                lat=LATS[(i // 7) % len(LATS)],
                lon=LONS[i % len(LONS)],
                when=instant(DATES[(i // 3) % len(DATES)]),
            )
            items[item.id] = item
            writer.writerow([path, item.label, item.gsd, item.platform, item.lat, item.lon,
                             DATES[(i // 3) % len(DATES)], item.cloud])
    assert len(items) == len(CLASSES) * PER_CLASS
    return items


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    base = tmp_path_factory.mktemp("parity")
    items = write_manifest(base / "data")
    invoke("train", base / "data", "--out", base / "run", "--epochs", "1", "--bits", "64")
    invoke("index", "build", base / "run", base / "data", "--out", base / "index")
    return Built(base / "index", items)


@pytest.fixture(scope="module")
def searcher(built: Built) -> Iterator[Searcher]:
    with Searcher.open(built.index) as opened:
        yield opened


@pytest.fixture(scope="module")
def client(built: Built) -> TestClient:
    return TestClient(create_app(built.index))


@pytest.fixture(scope="module")
def reference(built: Built, searcher: Searcher) -> dict[str, Ranked]:
    """The full unfiltered Hamming ranking of each query (every indexed item, nearest first)
    with every item's re-ranking score (a shortlist of the whole index scores them all)."""
    out = {}
    for name, spec in QUERIES.items():
        hamming = searcher.search(python_query(built, spec), k=len(built.items), filters={}, rerank=False)
        assert sorted(hamming.ids) == sorted(built.items), "the index holds other ids than written"
        scored = searcher.search(python_query(built, spec), k=len(built.items), filters={})
        score_of = dict(zip(scored.ids, scored.scores, strict=True))
        assert None not in score_of.values(), "the index stores no embeddings"
        out[name] = Ranked(list(hamming.ids), [int(d) for d in hamming.distances],
                           [score_of[i] for i in hamming.ids])
    return out


# -- the three front ends -------------------------------------------------------------------
def python_query(built: Built, spec: dict[str, str]) -> Query:
    if "image" in spec:
        return Query(image=built.items[spec["image"]].path)
    if "text" in spec:
        return Query(text=spec["text"])
    return Query(id=spec["id"])


def via_python(searcher: Searcher, built: Built, spec: dict[str, str], filters: dict[str, Any]) -> Ranked:
    outcome = searcher.search(python_query(built, spec), k=K, filters=dict(filters))
    return Ranked(list(outcome.ids), [int(d) for d in outcome.distances], list(outcome.scores))


def number(value: float) -> str:
    return f"{value:g}"


def cli_filter_args(filters: dict[str, Any]) -> list[str]:
    args: list[str] = []
    if "bbox" in filters:
        args += ["--bbox", ",".join(number(v) for v in filters["bbox"])]
    for key in ("start", "end"):
        if key in filters:
            args += [f"--{key}", filters[key]]
    for platform in filters.get("platforms", ()):
        args += ["--platform", platform]
    for key in ("gsd_min", "gsd_max", "cloud_max"):
        if key in filters:
            args += [f"--{key.replace('_', '-')}", number(filters[key])]
    for label in filters.get("labels", ()):
        args += ["--label", label]
    return args


def via_cli(built: Built, spec: dict[str, str], filters: dict[str, Any]) -> Ranked:
    if "image" in spec:
        query = ["--image", str(built.items[spec["image"]].path)]
    elif "text" in spec:
        query = ["--text", spec["text"]]
    else:
        query = ["--id", spec["id"]]
    payload = json.loads(invoke("search", built.index, "--json", "-k", K, *query, *cli_filter_args(filters)))
    hits = payload["results"]
    return Ranked([h["id"] for h in hits], [int(h["distance"]) for h in hits], [h["score"] for h in hits])


def http_filter_params(filters: dict[str, Any]) -> dict[str, Any]:
    """STAC API spelling: ``bbox=W,S,E,N``, ``datetime=start/end`` (``..`` open), repeatable lists."""
    params: dict[str, Any] = {}
    if "bbox" in filters:
        params["bbox"] = ",".join(number(v) for v in filters["bbox"])
    if "start" in filters or "end" in filters:
        params["datetime"] = f"{filters.get('start', '..')}/{filters.get('end', '..')}"
    if "platforms" in filters:
        params["platform"] = list(filters["platforms"])
    for key in ("gsd_min", "gsd_max", "cloud_max"):
        if key in filters:
            params[key] = filters[key]
    if "labels" in filters:
        params["label"] = list(filters["labels"])
    return params


def via_http(client: TestClient, built: Built, spec: dict[str, str], filters: dict[str, Any]) -> Ranked:
    params = http_filter_params(filters)
    if "image" in spec:
        path = built.items[spec["image"]].path
        form = {key: [str(v) for v in value] if isinstance(value, list) else str(value)
                for key, value in {"k": K, **params}.items()}
        response = client.post("/search", files={"image": (path.name, path.read_bytes(), "image/jpeg")},
                               data=form)
    elif "text" in spec:
        response = client.post("/search", json={"text": spec["text"], "k": K, **params})
    else:
        response = client.get("/search", params={"id": spec["id"], "k": K, **params})
    assert response.status_code == 200, response.text
    features = response.json()["features"]
    props = [f["properties"] for f in features]
    return Ranked([f["id"] for f in features], [int(p["terrahash:distance"]) for p in props],
                  [p.get("terrahash:score") for p in props])


# -- what the filters mean (STAC semantics), from the metadata written above ---------------------
def instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def is_date(text: str) -> bool:
    return len(text) == 10


def passes(item: Item, filters: dict[str, Any]) -> bool:
    if "bbox" in filters:
        west, south, east, north = filters["bbox"]
        in_lon = west <= item.lon <= east if west <= east else (item.lon >= west or item.lon <= east)
        if not (in_lon and south <= item.lat <= north):
            return False
    if "start" in filters:
        start = filters["start"]
        if item.when < instant(f"{start}T00:00:00Z" if is_date(start) else start):
            return False
    if "end" in filters:
        end = filters["end"]
        if is_date(end):  # a date-only end covers its whole day
            if item.when.date() > dt.date.fromisoformat(end):
                return False
        elif item.when > instant(end):
            return False
    return (
        ("platforms" not in filters or item.platform in filters["platforms"])
        and ("gsd_min" not in filters or item.gsd >= filters["gsd_min"])
        and ("gsd_max" not in filters or item.gsd <= filters["gsd_max"])
        and ("cloud_max" not in filters or item.cloud <= filters["cloud_max"])
        and ("labels" not in filters or item.label in filters["labels"])
    )


def later_that_day(item: Item, day: str) -> bool:
    """Whether ``item`` was taken on ``day`` (a date) after its first instant."""
    return item.when.date() == dt.date.fromisoformat(day) and item.when.time() > dt.time(0)


def reranked(passing: list[tuple[str, int]], score_of: dict[str, float | None]) -> list[tuple[str, int]]:
    """The re-ranking rule on the passing items in Hamming order: the first K * SHORTLIST_FACTOR,
    or every item at or below the K-th distance if more, sorted by score (equal scores keep
    the Hamming order), the first K."""
    size = K * SHORTLIST_FACTOR
    if len(passing) > size:
        kth = passing[min(K, len(passing)) - 1][1]
        size = max(size, sum(1 for _, d in passing if d <= kth))
    shortlist = sorted(enumerate(passing[:size]), key=lambda e: (-(score_of[e[1][0]] or 0.0), e[0]))
    return [item for _, item in shortlist[:K]]


def differences(a: Ranked, b: Ranked) -> str:
    def cell(r: Ranked, i: int) -> str:
        return f"{r.ids[i]} {r.distances[i]} {r.scores[i]}" if i < len(r.ids) else "-"

    rows = range(max(len(a.ids), len(b.ids)))
    return "\n".join(f"  {i + 1:2d}  {cell(a, i):<24} {cell(b, i)}" for i in rows)


# -- the test ----------------------------------------------------------------------------------
@pytest.mark.parametrize("case", list(FILTERS))
@pytest.mark.parametrize("kind", list(QUERIES))
def test_cli_python_and_http_agree(
    kind: str, case: str, built: Built, searcher: Searcher, client: TestClient,
    reference: dict[str, Ranked],
) -> None:
    spec, filters = QUERIES[kind], FILTERS[case]
    cli = via_cli(built, spec, filters)
    python = via_python(searcher, built, spec, filters)
    http = via_http(client, built, spec, filters)

    # What STAC semantics select: the unfiltered ranking restricted to the items that pass,
    # then re-ranked by the items' scores.
    full = reference[kind]
    distance_of = dict(zip(full.ids, full.distances, strict=True))
    score_of = dict(zip(full.ids, full.scores, strict=True))
    passing = [(i, d) for i, d in zip(full.ids, full.distances, strict=True)
               if passes(built.items[i], filters)]
    assert passing, f"{case}: no indexed item passes these filters; the fixture is wrong"
    if case == "none":
        assert len(passing) >= K
    else:
        assert [i for i, _ in passing[:K]] != full.ids[:K], f"{case}: the filter does not change the answer"
    expected = reranked(passing, score_of)
    if "end" in filters and is_date(filters["end"]):
        assert any(later_that_day(built.items[i], filters["end"]) for i, _ in expected), (
            f"{case}: no item of {filters['end']} after 00:00 in the expected answer; the fixture is wrong"
        )

    problems = []
    if cli != python:
        problems.append(f"CLI vs Python API differ (CLI left):\n{differences(cli, python)}")
    if cli != http:
        problems.append(f"CLI vs HTTP service differ (CLI left):\n{differences(cli, http)}")
    for name, got in (("cli", cli), ("python", python), ("http", http)):
        problems += [f"{name}: {p}" for p in semantic_problems(got, built, filters, expected, distance_of,
                                                                 score_of)]
    assert not problems, f"{kind} query, {case} filters {filters}:\n" + "\n".join(problems)


def semantic_problems(
    got: Ranked, built: Built, filters: dict[str, Any], expected: list[tuple[str, int]],
    distance_of: dict[str, int], score_of: dict[str, float | None],
) -> list[str]:
    """What is wrong with one front end's answer, given what STAC semantics select."""
    if not got.ids:
        return ["no results"]
    out = []
    if wrong := [i for i in got.ids if not passes(built.items[i], filters)]:
        out.append(f"{wrong} do not pass the filters")
    if got.distances != [distance_of[i] for i in got.ids]:
        out.append("distances are not those of the unfiltered ranking")
    if got.scores != [score_of[i] for i in got.ids]:
        out.append("scores are not those of the unfiltered re-ranking")
    if got.ids != [i for i, _ in expected]:
        missing = [(i, d) for i, d in expected if i not in got.ids]
        out.append(f"not the re-ranked items that pass, e.g. missing {missing[:4]} (got {len(got.ids)} "
                   f"results, expected {len(expected)})")
    end = filters.get("end")
    if end and is_date(end) and not any(later_that_day(built.items[i], end) for i in got.ids):
        out.append(f"no item of {end} after 00:00: a date-only end must cover its whole day (STAC), "
                   "not stop at midnight")
    if "bbox" in filters and any(-170 < built.items[i].lon < 170 for i in got.ids):
        out.append("items outside the antimeridian bbox")
    return out
