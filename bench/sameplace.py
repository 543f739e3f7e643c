"""Same-place retrieval across dates (issue 13, point 8): do unsupervised codes find the same ground?

A data centre's archive has no labels, so ``terrahash train --method unsupervised`` must make
codes that find the same ground again in another acquisition. Protocol:

* **Tiles.** Every raster of ``--raster-dir`` (default: the two Sentinel-2 dates of
  ``sentinel2_brandenburg``, 2016-05-29 and 2016-06-08, 10 m) is cut into ``--tile-size``
  tiles by ``terrahash scan --tiles`` (one folder, both dates, WGS84 footprint per tile).
* **Model.** ``terrahash train TILES --method unsupervised --backbone B --epochs E``, on all
  tiles of both dates (the run's own 80 % train part; no footprint, date pairing or relevance
  is seen: the objective only knows two augmentations of one tile), then ``terrahash index
  build RUN TILES``: the index holds every tile of both dates.
* **Queries.** Each tile of the query date (default: the earliest) is searched by its image
  alone through ``terrahash.app.Searcher`` with a date filter keeping only the database date
  (default: the latest), re-ranked (the default search) and by Hamming distance alone
  (``rerank=False``), over the whole filtered database.
* **Relevance.** A database tile is relevant when its footprint covers at least 50 % of the
  query's ground (``terrahash.evaluate.overlap``: intersection area / query box area, on the
  manifest's WGS84 boxes). Queries without a relevant tile (edges) are left out and counted.
* **Metrics.** Median rank of the first relevant tile, recall@k = fraction of queries with a
  relevant tile in the top k, mAP@100 (AP normalised by min(R, 100)), and the chance level of
  each (a random ranking: exact for recall@k and the first rank, 100 seeded draws for mAP).
* **Validation-only choices.** The queries are split 50/50 (seeded): choices (epochs, the
  objective) are made on the ``validation`` half; the ``test`` half is reported.

Writes ``sameplace.json``, ``sameplace.md`` and ``sameplace.png`` (recall@k) under ``--out``.

    python bench/sameplace.py --backbone none --backbone default --epochs 6
    python bench/sameplace.py --backbone default --epochs 16 --temperature 0.3 0.15 0.1 --out DIR
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402 - after the path fix that lets the script run directly
    RunSpec,
    Variant,
    fmt_ratio,
    json_safe,
    markdown_table,
    provenance,
    ratio,
    read_manifest,
    save_report,
    script_command,
    train_run,
)
from terrahash.evaluate.overlap import DEFAULT_MIN_OVERLAP, covers, overlap_fraction  # noqa: E402
from terrahash.evaluate.ranking import average_precision_sorted  # noqa: E402

if TYPE_CHECKING:
    from terrahash.app import Searcher

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RASTERS = ROOT.parent / "shared" / "data" / "rasters" / "sentinel2_brandenburg"
UNSUPERVISED = Variant("unsupervised", "unsupervised")
MAP_K = 100
CURVE_KS = (1, 2, 5, 10, 20, 50, 100)
#: Metric keys of a part, in table order (``chance`` rows use the same keys).
KEYS = ("median_first_rank", "recall@1", "recall@10", "recall@100", "map@100")
PARTS = ("validation", "test", "all")
MODES = ("rerank", "hamming")
CHANCE_DRAWS = 100


# -- the protocol (pure: tested on real tiles in tests/bench/test_sameplace.py) -------------
@dataclass(frozen=True)
class Protocol:
    """Queries, database and ground truth of one tile folder."""

    query_date: str
    db_date: str
    query_ids: list[str]  # only queries with at least one relevant tile
    query_paths: list[Path]
    db_ids: list[str]
    relevant: list[set[str]]  # per query: relevant database ids
    best_overlap: np.ndarray  # per query: largest overlap with any database tile
    no_relevant: int  # query-date tiles left out (no database tile covers 50 % of them)
    min_overlap: float

    @property
    def n_relevant(self) -> np.ndarray:
        return np.array([len(r) for r in self.relevant], dtype=np.int64)


class ProtocolError(ValueError):
    """A tile folder the same-place protocol cannot use (the message names it and says why)."""


def parse_box(text: str) -> list[float]:
    """``"w,s,e,n"`` (a manifest's ``bbox_wgs84``) -> four floats."""
    values = [float(v) for v in text.split(",")]
    if len(values) != 4:
        raise ValueError(f"bbox_wgs84: expected 'west,south,east,north', got {text!r}")
    return values


def build_protocol(
    tiles: Path, query_date: str | None = None, db_date: str | None = None,
    min_overlap: float = DEFAULT_MIN_OVERLAP,
) -> Protocol:
    """The same-place protocol of a ``terrahash scan --tiles`` folder.

    Dates default to the earliest (queries) and the latest (database) in the manifest.
    """
    _, rows = read_manifest(tiles)
    dates = sorted({r["date"] for r in rows if r.get("date")})
    if len(dates) < 2:
        raise ProtocolError(f"{tiles}: needs tiles of two dates, found {dates}")
    query_date, db_date = query_date or dates[0], db_date or dates[-1]
    queries = [r for r in rows if r["date"] == query_date]
    database = [r for r in rows if r["date"] == db_date]
    if not queries or not database:
        raise ProtocolError(f"{tiles}: no tiles dated {query_date} or {db_date} (dates: {dates})")
    fraction = overlap_fraction(np.array([parse_box(r["bbox_wgs84"]) for r in queries]),
                                np.array([parse_box(r["bbox_wgs84"]) for r in database]))
    relevant = covers(fraction, min_overlap)
    keep = np.flatnonzero(relevant.any(axis=1))
    if keep.size == 0:
        raise ProtocolError(
            f"{tiles}: no {query_date} tile has a {db_date} tile covering {min_overlap:.0%} of its ground "
            f"(best cover {fraction.max():.0%}): the two dates' tile grids are offset so that no pair "
            "overlaps enough; cut tiles of another size or lower --min-overlap"
        )
    db_ids = [r["id"] for r in database]
    return Protocol(
        query_date=query_date, db_date=db_date,
        query_ids=[queries[i]["id"] for i in keep],
        query_paths=[tiles / queries[i]["path"] for i in keep],
        db_ids=db_ids,
        relevant=[{db_ids[j] for j in np.flatnonzero(relevant[i])} for i in keep],
        best_overlap=fraction.max(axis=1)[keep],
        no_relevant=len(queries) - len(keep),
        min_overlap=min_overlap,
    )


def split_queries(n: int, seed: int) -> dict[str, np.ndarray]:
    """Seeded 50/50 split of query positions: ``validation`` (choices) and ``test`` (reported)."""
    order = np.random.default_rng(seed).permutation(n)
    half = n // 2
    return {"validation": np.sort(order[:half]), "test": np.sort(order[half:]), "all": np.arange(n)}


def ranked_relevance(ranked: Sequence[Sequence[str]], relevant: Sequence[set[str]], depth: int) -> np.ndarray:
    """(n_q, depth) bool: whether each ranked id is relevant to its query (False past a short list)."""
    out = np.zeros((len(ranked), depth), dtype=bool)
    for i, (ids, rel) in enumerate(zip(ranked, relevant, strict=True)):
        out[i, [j for j, item in enumerate(ids[:depth]) if item in rel]] = True
    return out


def first_relevant_rank(rel_sorted: np.ndarray) -> np.ndarray:
    """1-based rank of each query's first relevant item; NaN where none was ranked."""
    found = rel_sorted.any(axis=1)
    return np.where(found, rel_sorted.argmax(axis=1) + 1.0, np.nan)


def recall_curve(rel_sorted: np.ndarray, ks: Sequence[int]) -> list[float]:
    """Fraction of queries with a relevant item in their top k, for each k."""
    return [float(rel_sorted[:, :k].any(axis=1).mean()) for k in ks]


def sameplace_metrics(rel_sorted: np.ndarray, n_relevant: np.ndarray) -> dict[str, float]:
    """The protocol's metrics of ranked relevance (full rankings: every relevant item is ranked)."""
    first = first_relevant_rank(rel_sorted)
    r1, r10, r100 = recall_curve(rel_sorted, (1, 10, 100))
    ap = average_precision_sorted(rel_sorted, n_relevant, MAP_K)
    # a short list leaves queries unranked (NaN): the first rank is only read from full rankings
    found = first[~np.isnan(first)]
    median, mean = (float(np.median(found)), float(found.mean())) if found.size else (math.nan, math.nan)
    return {"queries": len(rel_sorted), "median_first_rank": median, "mean_first_rank": mean,
            "recall@1": r1, "recall@10": r10, "recall@100": r100, "map@100": float(np.nanmean(ap))}


def chance_recall(n_relevant: np.ndarray, n_db: int, k: int) -> float:
    """Expected recall@k of a random ranking: mean of 1 − C(N−R, k) / C(N, k)."""
    miss = [math.comb(n_db - r, k) / math.comb(n_db, k) for r in n_relevant.tolist()]
    return float(1.0 - np.mean(miss))


def chance_ap(n_relevant: np.ndarray, n_db: int, seed: int = 0, draws: int = CHANCE_DRAWS) -> np.ndarray:
    """Per-query AP@100 of a random ranking, averaged over ``draws`` seeded rankings."""
    rng = np.random.default_rng(seed)
    depth = min(MAP_K, n_db)
    total = np.zeros(len(n_relevant))
    for _ in range(draws):
        rel = np.zeros((len(n_relevant), depth), dtype=bool)
        for i, r in enumerate(n_relevant.tolist()):
            ranks = rng.choice(n_db, size=r, replace=False)
            rel[i, ranks[ranks < depth]] = True
        total += average_precision_sorted(rel, n_relevant, MAP_K)
    return total / draws


def chance_metrics(n_relevant: np.ndarray, n_db: int, ap: np.ndarray) -> dict[str, float]:
    """Every metric of ``sameplace_metrics`` for a random ranking (``ap`` from ``chance_ap``).

    The first relevant rank of R items among N at random has mean (N + 1) / (R + 1); its
    median over queries is reported as the chance median.
    """
    expected_first = (n_db + 1) / (n_relevant + 1)
    return {"queries": len(n_relevant), "median_first_rank": float(np.median(expected_first)),
            "mean_first_rank": float(np.mean(expected_first)),
            **{f"recall@{k}": chance_recall(n_relevant, n_db, k) for k in (1, 10, 100)},
            "map@100": float(np.mean(ap))}


# -- tiles, training, index, search ------------------------------------------------------
def tile_statistics(tiles: Path, dates: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per date: tiles, median tile brightness and median tile contrast (pixel std), 0-255.

    The tiler stretches each scene by its own 2-98 % percentiles, bright outliers (clouds)
    left out; thin cloud and haze that stay within the ground's spread still widen a scene's
    stretch and write its land flatter: this says how far apart the dates' radiometry is
    before any model sees it.
    """
    from PIL import Image

    _, rows = read_manifest(tiles)
    out = {}
    for date in dates:
        paths = [tiles / r["path"] for r in rows if r["date"] == date]
        pixels = [np.asarray(Image.open(path), dtype=np.float32) for path in paths]
        out[date] = {"tiles": len(pixels), "brightness": float(np.median([p.mean() for p in pixels])),
                     "contrast": float(np.median([p.std() for p in pixels]))}
    return out


def cut_tiles(raster_dir: Path, out: Path, tile_size: int) -> Path:
    """``terrahash scan RASTER_DIR --tiles OUT --tile-size N`` (kept when already written)."""
    from terrahash.data.scan import scan_archive
    from terrahash.data.tiling import TileSpec, write_tiles

    if not (out / "manifest.csv").is_file():
        write_tiles(scan_archive(raster_dir).scenes, out, TileSpec(tile_size=tile_size))
    return out


def backbone_tag(backbone: str) -> str:
    """A folder-safe short name of a ``--backbone`` value."""
    return backbone if backbone in ("none", "default") else Path(backbone).name or "backbone"


@dataclass(frozen=True)
class EncodedQueries:
    """Each query's code and re-ranking vector, made once by ``Searcher.encode_with_vector``."""

    codes: np.ndarray
    vectors: list[np.ndarray] | None
    ms_per_query: float


def encode_queries(searcher: Searcher, protocol: Protocol) -> EncodedQueries:
    """Encode every query image as ``Searcher.search`` does (one image at a time)."""
    from terrahash.app import Query

    start = time.perf_counter()
    pairs = [searcher.encode_with_vector(Query(image=path)) for path in protocol.query_paths]
    vectors = [v[0] for _, v in pairs if v is not None]
    ms = (time.perf_counter() - start) * 1000.0 / max(1, len(pairs))
    codes = np.concatenate([c for c, _ in pairs])
    return EncodedQueries(codes, vectors if len(vectors) == len(pairs) else None, ms)


def ranked_ids(searcher: Searcher, protocol: Protocol, queries: EncodedQueries, rerank: bool, k: int
               ) -> list[list[str]]:
    """Top-``k`` database ids per query: ``Searcher.search``'s index call, all queries at once.

    ``search`` is ``encode_with_vector`` then ``index.query(codes, k, filters, embeddings)``;
    batching the second step gives the same rankings (``check_against_search``) without
    re-encoding each query for every depth.
    """
    vectors = queries.vectors if rerank else None
    return searcher.index.query(queries.codes, k, date_filter(protocol), embeddings=vectors).ids


def date_filter(protocol: Protocol) -> dict[str, str]:
    """The filter that keeps only the database date (a date-only end covers its whole day)."""
    return {"start": protocol.db_date, "end": protocol.db_date}


Rankings = dict[tuple[bool, int], list[list[str]]]  # (re-ranked, k) -> ids per query


def check_against_search(searcher: Searcher, protocol: Protocol, batched: Rankings, n: int = 20) -> int:
    """How many of the first ``n`` queries' batched rankings differ from ``Searcher.search``'s."""
    from terrahash.app import Query

    differ = 0
    for i, path in enumerate(protocol.query_paths[:n]):
        for (rerank, k), ranked in batched.items():
            ids = searcher.search(Query(image=path), k=k, filters=date_filter(protocol), rerank=rerank).ids
            differ += ids != ranked[i]
    return differ


def key_depth(key: str, n_db: int) -> int:
    """The search depth (k) a metric needs: recall@k and mAP@k their k, the first rank all."""
    return min(int(key.split("@")[1]), n_db) if "@" in key else n_db


def score_searches(searcher: Searcher, protocol: Protocol, splits: dict[str, np.ndarray]) -> dict[str, Any]:
    """Both modes, every metric from a search exactly as deep as it needs, per part.

    Re-ranking depends on k (a top 10 is re-ranked from a Hamming shortlist of 40), so each
    re-ranked metric comes from a search of its own depth; the Hamming ranking is one
    full-depth search (its top k is the top k of any deeper search).
    """
    n_db = len(protocol.db_ids)
    queries = encode_queries(searcher, protocol)
    depths = {"rerank": sorted({key_depth(key, n_db) for key in KEYS}), "hamming": [n_db]}
    batched: Rankings = {(mode == "rerank", k): ranked_ids(searcher, protocol, queries, mode == "rerank", k)
               for mode in MODES for k in depths[mode]}
    allowed = set(protocol.db_ids)
    out: dict[str, Any] = {
        "encode_ms_per_query": round(queries.ms_per_query, 2),
        "filter_leaks": sum(i not in allowed for ranked in batched.values() for ids in ranked for i in ids),
        "differ_from_search": check_against_search(searcher, protocol, batched),
    }
    for mode in MODES:
        rel = {k: ranked_relevance(batched[mode == "rerank", k], protocol.relevant, n_db)
               for k in depths[mode]}
        curve_rel = rel[min(k for k in depths[mode] if k >= max(CURVE_KS) or k == n_db)]
        out[mode] = {"depths": depths[mode],
                     "curve": {part: recall_curve(curve_rel[idx], CURVE_KS) for part, idx in splits.items()}}
        for part, idx in splits.items():
            scored = {k: sameplace_metrics(r[idx], protocol.n_relevant[idx]) for k, r in rel.items()}
            out[mode][part] = {key: scored[min(k for k in depths[mode] if k >= key_depth(key, n_db))][key]
                               for key in (*KEYS, "mean_first_rank")}
            out[mode][part]["queries"] = len(idx)
    return out


def run_variant(args: argparse.Namespace, tiles: Path, protocol: Protocol, backbone: str, epochs: int,
                input_norm: str, pairs: str, temperature: float | None = None) -> dict[str, Any]:
    """Train, index and search one setting (backbone, epochs, input norm, pairs, the views term's
    temperature, ``None`` for the objective's default); all parts and modes."""
    import torch

    from terrahash.app import Searcher, build_index

    name = f"{backbone_tag(backbone)}-e{epochs}-{input_norm}-{pairs}"
    name += "" if temperature is None else f"-t{temperature:g}"
    work = args.work / f"runs-{tiles.name}"  # runs on different tile folders never overwrite one another
    run_dir, index_dir = work / name, work / f"{name}.thi"
    settings = {} if temperature is None else {"temperature": temperature}
    spec = RunSpec(tiles, run_dir, UNSUPERVISED, args.bits, epochs, args.tile_size, args.seed,
                   extra={"backbone": backbone, "input_norm": input_norm,
                          "temporal_pairs": pairs == "temporal", "loss_settings": settings})
    started = time.perf_counter()
    config = train_run(spec, reuse=args.reuse)
    # a reused run reports the fit time it recorded
    train_s = config.get("train_seconds_wall") or config.get("train_seconds")
    started = time.perf_counter()
    build_index(run_dir, tiles, index_dir).close()
    index_s = time.perf_counter() - started
    splits = split_queries(len(protocol.query_ids), args.seed)
    row: dict[str, Any] = {
        "name": name, "backbone": backbone, "backbone_card": config.get("backbone"), "epochs": epochs,
        "input_norm": input_norm, "pairs": pairs, "temporal_pairs": config.get("temporal_pairs"),
        "train_command": f"{spec.command()} --backbone {backbone} --input-norm {input_norm}"
                         + (" --no-temporal-pairs" if pairs == "none" else "")
                         + "".join(f" --loss-setting {k}={v:g}" for k, v in settings.items()),
        "loss_settings": config.get("loss_settings"),
        "index_command": f"terrahash index build {run_dir} {tiles} --out {index_dir}",
        "train_items": len(config.get("split", {}).get("train_ids", [])),
        "train_seconds": train_s, "index_seconds": round(index_s, 2),
    }
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one image per forward: intra-op threads only contend on a busy machine
    try:
        with Searcher.open(index_dir) as searcher:
            searcher.warm_up()
            row.update(score_searches(searcher, protocol, splits))
    finally:
        torch.set_num_threads(threads)  # the next variant trains with every thread again
    return row


# -- report ------------------------------------------------------------------------------
def comparison_table(report: dict[str, Any], mode: str, part: str) -> str:
    """Metrics (rows) of chance and every variant (columns), then each variant's ratio to the first."""
    variants = report["variants"]
    chance = report["chance"][part]
    headers = ["metric", "chance", *(v["name"] for v in variants)]
    headers += [f"{v['name']} / {variants[0]['name']}" for v in variants[1:]]
    rows = []
    for key in KEYS:
        values = [v[mode][part][key] for v in variants]
        rows.append([key, chance[key], *values, *(fmt_ratio(ratio(x, values[0])) for x in values[1:])])
    return markdown_table(headers, rows)


def radiometry_note(stats: dict[str, dict[str, float]]) -> str:
    """One sentence comparing the dates' tiles as written (median brightness and contrast)."""
    parts = [f"{date}: brightness {s['brightness']:.0f}, contrast {s['contrast']:.1f}"
             for date, s in stats.items()]
    contrasts = [s["contrast"] for s in stats.values()]
    note = f"Tiles as written (median per tile, 0-255): {'; '.join(parts)}."
    if min(contrasts) < 0.5 * max(contrasts):
        note += (" One date's tiles carry under half the other's contrast: its per-scene stretch "
                 "spans more than its ground (cloud and haze the outlier cut leaves in), so its land "
                 "is written in fewer grey levels.")
    return note


def write_markdown(path: Path, report: dict[str, Any]) -> None:
    """The tables a reader needs: protocol facts, test and validation halves, timings."""
    p = report["protocol"]
    lines = [
        "# Same-place retrieval across dates (issue 13, point 8)", "",
        f"Wall time {report.get('wall_seconds', '–')} s.", "",
        f"Tiles of {p['query_date']} query, by image alone, the {p['db_tiles']} tiles of {p['db_date']} "
        f"(date filter) in an index of all {p['tiles']} tiles; relevant = footprint covers ≥ "
        f"{p['min_overlap']:.0%} of the query's ground. {p['queries']} queries ({p['no_relevant']} "
        f"query-date tiles without a relevant tile left out), {p['relevant_per_query']} relevant "
        "per query (median). Training: `--method unsupervised` on the run's 80 % train part of "
        "all tiles of **both dates** (unlabelled; no footprint or date pairing is seen).", "",
        f"Ground truth caveat: the two rasters' tile grids are offset by half a tile, so a "
        f"query's best match covers {p['best_overlap_median']:.1%} of it (median) on the WGS84 "
        "boxes (box envelopes of UTM squares; the squares themselves overlap a little under 50 %).",
        "", radiometry_note(p["radiometry"]),
        "", f"Chosen on the validation half, reported on the test half ({report['split']}): "
        f"`{report.get('chosen')}` (best validation recall@10, re-ranked).", "",
    ]
    for mode, title in (("rerank", "re-ranked (the default search)"), ("hamming", "Hamming only")):
        lines += [f"## Test half, {title}", "", comparison_table(report, mode, "test"), ""]
    lines += ["## Validation half, re-ranked", "", comparison_table(report, "rerank", "validation"), ""]
    lines += ["## Runs", "", markdown_table(
        ("variant", "backbone", "epochs", "train items", "train s", "index s", "encode ms/query",
         "filter leaks", "rankings unlike Searcher.search"),
        ([v["name"], v["backbone"], v["epochs"], v["train_items"], v["train_seconds"], v["index_seconds"],
          v["encode_ms_per_query"], v["filter_leaks"], v["differ_from_search"]]
         for v in report["variants"])), ""]
    lines += [f"- `{v['name']}`: `{v['train_command']}`; backbone: {v['backbone_card']}"
              for v in report["variants"]]
    lines += ["", f"Recall@k curves: `{report['png']}`.", ""]
    save_report(path.with_suffix(".json"), report, "\n".join(lines))


def plot_curves(path: Path, report: dict[str, Any]) -> None:
    """Recall@k (test half) per variant, re-ranked (solid) and Hamming (dashed), with chance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for i, v in enumerate(report["variants"]):
        colour = f"C{i}"
        for mode, style in (("rerank", "-"), ("hamming", "--")):
            ax.plot(CURVE_KS, v[mode]["curve"]["test"], ls=style, marker="o" if style == "-" else None,
                    color=colour, label=f"{v['name']} {mode}")
    ax.plot(CURVE_KS, report["chance_curve"], ls=":", color="grey", label="chance")
    ax.axhline(0.5, color="k", lw=0.5)
    ax.set_xscale("log")
    ax.set(xlabel="k", ylabel="queries with a relevant tile in top k", ylim=(0, 1),
           title=f"Same place across dates, test half ({report['protocol']['queries']} queries in all)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def print_summary(report: dict[str, Any]) -> None:
    for mode in MODES:
        print(f"\n{mode}, test half\n" + comparison_table(report, mode, "test"))


def choose(variants: Sequence[dict[str, Any]]) -> str | None:
    """The variant with the best validation-half recall@10 of the default (re-ranked) search;
    ties go to the earlier (cheaper) one. The test half never enters the choice."""
    best: dict[str, Any] | None = None
    for v in variants:
        if best is None or v["rerank"]["validation"]["recall@10"] > best["rerank"]["validation"]["recall@10"]:
            best = v
    return None if best is None else str(best["name"])


def save(report: dict[str, Any], out: Path, started: float) -> None:
    """Write JSON, Markdown and PNG so far (a long run leaves usable partial results)."""
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    report["chosen"] = choose(report["variants"])
    safe = json_safe(report)
    write_markdown(out / "sameplace.md", safe)
    plot_curves(out / report["png"], safe)


# -- main --------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="examples:\n" + "\n".join(__doc__.splitlines()[-2:]))
    parser.add_argument("--backbone", action="append", default=None,
                        help="default, none or a pretrain folder; repeat to compare (default: none, default)")
    parser.add_argument("--epochs", type=int, nargs="+", default=[6],
                        help="unsupervised epochs; several compare")
    parser.add_argument("--input-norm", nargs="+", default=["image"], choices=["dataset", "image"],
                        help="input normalisation(s) to compare (terrahash train --input-norm)")
    parser.add_argument("--pairs", nargs="+", default=["temporal"], choices=["temporal", "none"],
                        help="second views from other dates of the same footprint, or augmentation only")
    parser.add_argument("--temperature", type=float, nargs="+", default=[None],
                        help="temperature(s) of the views term to compare (terrahash train --loss-setting "
                             "temperature=T); default: the objective's own")
    parser.add_argument("--tile-size", type=int, default=64)
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0, help="training seed and query split")
    parser.add_argument("--raster-dir", type=Path, default=DEFAULT_RASTERS)
    parser.add_argument("--tiles", type=Path, default=None,
                        help="a tile folder (manifest with bbox_wgs84 and date) instead of cutting one")
    parser.add_argument("--query-date", default=None, help="default: the earliest date of the tiles")
    parser.add_argument("--database-date", default=None, help="default: the latest date of the tiles")
    parser.add_argument("--min-overlap", type=float, default=DEFAULT_MIN_OVERLAP)
    parser.add_argument("--reuse", action="store_true", help="reuse finished runs with identical options")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "runs" / "sameplace",
                        help="tiles, runs and indexes (git-ignored)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    args.backbone = args.backbone or ["none", "default"]
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns the JSON report it wrote."""
    args = parse_args(argv)
    started = time.perf_counter()
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    tiles = args.tiles or cut_tiles(args.raster_dir, args.work / f"tiles{args.tile_size}", args.tile_size)
    protocol = build_protocol(tiles, args.query_date, args.database_date, args.min_overlap)
    n_rel = protocol.n_relevant
    splits = split_queries(len(n_rel), args.seed)
    chance = chance_ap(n_rel, len(protocol.db_ids), args.seed)
    report: dict[str, Any] = {
        **provenance(script_command(__file__, argv)), "png": "sameplace.png",
        "split": f"seed {args.seed}: {len(splits['validation'])} validation / "
                 f"{len(splits['test'])} test queries",
        "protocol": {
            "raster_dir": str(args.raster_dir), "tiles_dir": str(tiles), "tile_size": args.tile_size,
            "bits": args.bits,
            "query_date": protocol.query_date, "db_date": protocol.db_date,
            "tiles": len(read_manifest(tiles)[1]), "db_tiles": len(protocol.db_ids),
            "queries": len(protocol.query_ids), "no_relevant": protocol.no_relevant,
            "min_overlap": protocol.min_overlap, "relevant_per_query": float(np.median(n_rel)),
            "relevant_per_query_counts": np.bincount(n_rel).tolist(),
            "best_overlap_median": float(np.median(protocol.best_overlap)),
            "radiometry": tile_statistics(tiles, (protocol.query_date, protocol.db_date)),
            "training": "unsupervised on the run's train part (80 %) of all tiles of both dates",
        },
        "chance": {part: chance_metrics(n_rel[idx], len(protocol.db_ids), chance[idx])
                   for part, idx in splits.items()},
        "chance_curve": [chance_recall(n_rel[splits["test"]], len(protocol.db_ids), k) for k in CURVE_KS],
        "variants": [],
    }
    for backbone in args.backbone:
        for epochs in args.epochs:
            for input_norm in args.input_norm:
                for pairs in args.pairs:
                    for temperature in args.temperature:
                        report["variants"].append(run_variant(args, tiles, protocol, backbone, epochs,
                                                              input_norm, pairs, temperature))
                        save(report, args.out, started)
    save(report, args.out, started)
    print_summary(report)
    print(f"\nwrote {args.out / 'sameplace.json'}, sameplace.md, {report['png']}; "
          f"wall time {report['wall_seconds']} s")
    return report


if __name__ == "__main__":
    try:
        main()
    except ProtocolError as exc:  # a tile folder the protocol cannot use: say why, no traceback
        sys.exit(f"sameplace: error: {exc}")
