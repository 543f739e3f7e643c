"""The ``terrahash`` command line: thin wrappers over the library, one command per job."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from terrahash.errors import TerraHashError
from terrahash.train.defaults import DEFAULT_EPOCHS

app = typer.Typer(
    name="terrahash",
    help="Content-based remote sensing image retrieval with spatiotemporal hash codes.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_show_locals=False,
)
console = Console()
T = TypeVar("T")
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` on stderr and return the exit to raise."""
    err_console.print(message, markup=False)
    return typer.Exit(code)


# ---------------------------------------------------------------------------------------
# metadata
# ---------------------------------------------------------------------------------------
@app.command()
def meta(
    files: Annotated[list[Path] | None, typer.Argument(help="Metadata files (any supported format).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line per record.")] = False,
    stac: Annotated[bool, typer.Option("--stac", help="Print a STAC Item per record.")] = False,
    list_formats: Annotated[bool, typer.Option("--list-formats", help="List the readers.")] = False,
) -> None:
    """Read vendor metadata files into normalised spatiotemporal records.

    The format is sniffed from the content, not the file name. A file that cannot be
    read prints `FILE: error: WHAT` on stderr; the others are still printed; the exit
    status is then 2.

    Examples:

        terrahash meta --json LC08_L2SP_..._MTL.txt S2A_..._MTD_MSIL2A.xml

        terrahash meta --stac GF2_PMS1_W91.0_N17.6_20200510_L1A0004793969-MSS1.xml

        terrahash meta --list-formats
    """
    from terrahash.metadata import list_readers, read_metadata
    from terrahash.metadata.stac import record_to_stac

    if list_formats:
        table = Table("format", "description")
        for reader in list_readers():
            table.add_row(reader.name, reader.description)
        console.print(table)
        return
    if not files:
        raise fail("error: give one or more metadata files (see --help)")
    failed = False
    for path in files:
        try:
            records = read_metadata(path)
            for record in records:
                if stac:
                    item = record_to_stac(record)
                    print(json.dumps(item.to_dict(), ensure_ascii=False))
                elif as_json:
                    print(json.dumps(record.to_json_dict(), ensure_ascii=False))
                else:
                    _print_record(record)
        except (TerraHashError, ValueError) as exc:
            failed = True
            msg = str(exc) if isinstance(exc, TerraHashError) else f"{path}: error: {exc}"
            err_console.print(msg, markup=False)
        sys.stdout.flush()
    if failed:
        raise typer.Exit(2)


def _print_record(record) -> None:  # noqa: ANN001 - SceneRecord
    table = Table(title=f"{record.source} ({record.format})", show_header=False)
    for key, value in record.to_json_dict().items():
        if key in ("footprint", "extra", "source", "format", "schema_version") or value is None:
            continue
        table.add_row(key, str(value))
    console.print(table)


@app.command()
def prompt(
    file: Annotated[Path, typer.Argument(help="A metadata file.")],
    features: Annotated[
        bool, typer.Option("--features", help="Also print the numeric features as JSON.")
    ] = False,
) -> None:
    """Print the R2STFT prompt (and optionally its numeric features) for a metadata file.

    Examples:

        terrahash prompt LC08_L2SP_047027_20201204_20210313_02_T1_MTL.txt

        terrahash prompt --features S2B_MSIL2A_20220413T150759_N0400_R025_T33XWJ__MTD_MSIL2A.xml
    """
    from terrahash.metadata import read_metadata
    from terrahash.metadata.prompt import FEATURE_NAMES, TEMPLATE_VERSION, render_prompt

    try:
        records = read_metadata(file)
    except TerraHashError as exc:
        raise fail(str(exc)) from exc
    for record in records:
        r = render_prompt(record)
        print(r.text)
        if features:
            payload = {
                "template_version": TEMPLATE_VERSION,
                "features": {
                    n: (float(v) if m else None)
                    for n, v, m in zip(FEATURE_NAMES, r.features, r.mask, strict=True)
                },
            }
            print(json.dumps(payload))


# ---------------------------------------------------------------------------------------
# archive scan and tiling
# ---------------------------------------------------------------------------------------
@app.command()
def scan(
    folder: Annotated[Path, typer.Argument(
        help="Archive folder to walk (recursively), or a static STAC catalog.json, collection.json "
             "or ItemCollection JSON whose image assets are local files.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the scan as one JSON document.")
    ] = False,
    tiles: Annotated[
        Path | None, typer.Option("--tiles", help="Write tiles + manifest.csv to this folder.")
    ] = None,
    tile_size: Annotated[int, typer.Option("--tile-size", help="Tile edge in pixels.")] = 256,
    levels: Annotated[
        str, typer.Option("--levels", help="Pyramid levels; level L reads 2^(L-1) x coarser.")
    ] = "1",
    bands: Annotated[
        str | None, typer.Option("--bands", help="Composite bands, e.g. B4,B3,B2 (default: RGB).")
    ] = None,
    min_valid: Annotated[
        float, typer.Option("--min-valid", help="Skip tiles with less valid (non-zero) area.")
    ] = 0.5,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing manifest.")
    ] = False,
) -> None:
    """Pair image files with their metadata sidecars; optionally cut them into tiles.

    Files are recognised by content: rasters by magic bytes, sidecars by the metadata
    readers. Band files of one product (`_B2`, `_B3`, `_B4`) form one scene, and a sidecar
    is paired only when its product id (Landsat), tile + day (Sentinel-2) or stem matches.
    With `--tiles`, each scene becomes 8-bit PNG tiles (2-98 % stretch per scene, clouds and
    other bright outliers left out of the percentiles) with a `manifest.csv` giving each
    tile's WGS84 footprint and centre, the scene's date and platform, the tile's own cloud
    cover from the product's cloud mask (QA_PIXEL, BQA, SCL; empty without one) and the
    scene's as `scene_cloud_cover`: a dataset folder that `train` and `index build` accept.

    A STAC catalog, collection or ItemCollection file instead gives one scene per Item: its
    image asset (role visual or data; a local href, relative to the Item's file) is the
    raster and its properties (datetime, geometry, platform, gsd, eo:cloud_cover,
    terrahash:labels) are the record.

    Examples:

        terrahash scan ../shared/data/rasters

        terrahash scan archive/catalog.json --tiles archive_tiles

        terrahash scan ../shared/data/rasters/landsat_paraguay --json

        terrahash scan ../shared/data/rasters --tiles archive_tiles --tile-size 256 --levels 1,2

        terrahash scan scenes/ --tiles out --bands B4,B3,B2 --min-valid 0.8
    """
    from terrahash.data.scan import scan_archive
    from terrahash.data.tiling import TileSpec, count_windows, parse_band_list, write_tiles

    try:
        result = scan_archive(folder)
        if as_json:
            print(json.dumps(result.to_json_dict(), ensure_ascii=False))
        else:
            _print_scan(result)
        if tiles is None:
            return
        try:
            level_list = tuple(int(v) for v in levels.split(",") if v.strip())
        except ValueError:
            raise fail(f"error: --levels takes integers like 1,2, got {levels!r}") from None
        spec = TileSpec(tile_size, level_list, min_valid)
        band_list = parse_band_list(bands)
        bar, step = _progress(count_windows(result.scenes, spec), "tiling")
        with bar:
            written = write_tiles(result.scenes, tiles, spec, band_list, step, overwrite)
    except TerraHashError as exc:
        raise fail(str(exc)) from exc
    err_console.print(f"wrote {written.count} tiles of {len(result.scenes)} scenes to {written.manifest}")


def _print_scan(result) -> None:  # noqa: ANN001 - ScanResult
    table = Table("scene", "bands", "sidecar", "platform", "date", title=f"scenes in {result.root}")
    for scene in result.scenes:
        date = scene.record.to_json_dict()["datetime"] or ""
        if scene.record.extra.get("datetime_precision") == "day":
            date = date[:10]
        names = ",".join(b.band or b.path.name for b in scene.bands)
        sidecar = scene.sidecar.name if scene.sidecar else "-"
        table.add_row(scene.scene_id, names, sidecar, scene.record.platform or "", date[:19])
    console.print(table)
    if result.unpaired_sidecars:
        lonely = Table("sidecar", "product", "date", title="metadata without a matching raster")
        for path, records in result.unpaired_sidecars:
            when = records[0].to_json_dict()["datetime"] or ""
            lonely.add_row(path.name, records[0].id or "", when[:19])
        console.print(lonely)


# ---------------------------------------------------------------------------------------
# index and search
# ---------------------------------------------------------------------------------------
index_app = typer.Typer(help="Build, extend and inspect hash indexes.", no_args_is_help=True)
app.add_typer(index_app, name="index")


def _progress(total: int, what: str):  # noqa: ANN202 - (Progress, callback)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), console=err_console, transient=True)
    task = bar.add_task(what, total=total)
    return bar, lambda n: bar.advance(task, n)


def _with_progress(total: Callable[[], int], what: str, job: Callable[[Callable[[int], None]], T]) -> T:
    """Run ``job(step)`` under a progress bar of ``total()`` items; library errors exit 2."""
    try:
        bar, step = _progress(total(), what)
        with bar:
            return job(step)
    except TerraHashError as exc:
        raise fail(str(exc)) from exc


@index_app.command("build")
def index_build(
    run_dir: Annotated[Path, typer.Argument(help="A training run folder (config.json + weights).")],
    data_dir: Annotated[Path, typer.Argument(help="A dataset folder with manifest.csv.")],
    out: Annotated[str | None, typer.Option("--out", "-o", help="Index folder or URI.")] = None,
    backend: Annotated[str, typer.Option("--backend", help="embedded (a folder) or postgres.")] = "embedded",
    dsn: Annotated[str | None, typer.Option("--dsn", help="postgresql://USER@HOST/DB[?schema=S].")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Local Dask processes.")] = None,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="tcp://HOST:PORT")] = None,
) -> None:
    """Encode a dataset with a trained model and write an index (codes, catalog, RSHST tree).

    Items with records are encoded with the fused (image + metadata) codes. An existing
    index at --out is replaced atomically; a crash leaves it intact. With --workers or
    --scheduler the encoding runs on Dask (same codes); finished partitions are kept, so
    rerunning an interrupted build resumes it.

    Examples:

        terrahash index build runs/ccls2t-64 ../shared/data/scenes/ucmerced --out ucm.thi

        terrahash index build runs/ccls2t-64 ../shared/data/scenes/aid --out aid.thi --workers 2

        terrahash index build runs/ccls2t-64 ../shared/data/scenes/ucmerced --backend postgres \\
            --dsn postgresql://me@db:5432/eo --scheduler tcp://10.0.0.5:8786
    """
    from terrahash.app import ClusterOptions, build_index, dataset_size
    from terrahash.index import resolve_location

    try:
        target = resolve_location(out, backend, dsn)
        cluster = None
        if workers is not None or scheduler is not None:
            cluster = ClusterOptions(workers=workers, scheduler=scheduler)
    except TerraHashError as exc:
        raise fail(str(exc)) from exc
    index = _with_progress(lambda: dataset_size(data_dir), "encoding",
                           lambda step: build_index(run_dir, data_dir, target, step, cluster))
    console.print(f"indexed {len(index)} items ({index.bits} bits) into {target}")


@index_app.command("add")
def index_add(
    index_dir: Annotated[Path, typer.Argument(help="An index folder.")],
    data_dir: Annotated[Path, typer.Argument(help="A dataset folder with manifest.csv.")],
    model: Annotated[Path | None, typer.Option("--model", help="Run folder (default: the index's).")] = None,
) -> None:
    """Encode a dataset with the index's model and add it (existing ids are updated).

    Examples:

        terrahash index add ucm.thi ../shared/data/scenes/aid
    """
    from terrahash.app import add_to_index, dataset_size

    index, n = _with_progress(lambda: dataset_size(data_dir), "encoding",
                              lambda step: add_to_index(index_dir, data_dir, run_dir=model, progress=step))
    console.print(f"added {n} items; the index now holds {len(index)}")


@index_app.command("info")
def index_info(
    index_dir: Annotated[Path, typer.Argument(help="An index folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the full info as JSON.")] = False,
) -> None:
    """Show an index's size, code length, model, catalog ranges and tree shape.

    Examples:

        terrahash index info ucm.thi --json
    """
    from terrahash.index import Index

    try:
        with Index.open(index_dir) as index:
            info = index.info()
    except TerraHashError as exc:
        raise fail(str(exc)) from exc
    if as_json:
        print(json.dumps(info, indent=2, default=str))
        return
    table = Table(title=str(index_dir), show_header=False)
    for key in ("count", "bits", "code_kind", "format_version", "generation", "updated", "bytes_per_item"):
        table.add_row(key, str(info.get(key)))
    table.add_row("model", json.dumps(info.get("model")))
    for key in ("time_range", "gsd_range", "platforms", "with_footprint"):
        table.add_row(key, json.dumps(info["catalog"].get(key), default=str))
    table.add_row("labels", str(len(info["catalog"]["labels"])))
    table.add_row("tree", json.dumps(info.get("tree")))
    console.print(table)


@index_app.command("export")
def index_export(
    index: Annotated[str, typer.Argument(help="An index folder or postgresql:// URI.")],
    out: Annotated[Path, typer.Argument(help="The stac-geoparquet file to write (.parquet).")],
) -> None:
    """Write an index as stac-geoparquet: one row per item with its STAC fields, footprint,
    packed code (`terrahash:code`) and int8 re-ranking vector (`terrahash:embedding`).

    DuckDB, GeoPandas and other GeoParquet readers open the file as it is; the Parquet
    metadata `terrahash` records the code length and the model, so `index import` can
    rebuild the index with identical search results.

    Examples:

        terrahash index export ucm.thi ucm.parquet

        terrahash index export postgresql://me@db/eo?schema=ucm ucm.parquet

        duckdb -c "SELECT id, platform FROM 'ucm.parquet' WHERE bbox.xmin > 10"
    """
    from terrahash.index import Index
    from terrahash.index.geoparquet import export_index

    try:
        with Index.open(index) as opened:
            n = export_index(opened, out)
    except TerraHashError as exc:
        raise fail(str(exc)) from exc
    console.print(f"exported {n} items to {out}")


@index_app.command("import")
def index_import(
    file: Annotated[Path, typer.Argument(help="A file written by `terrahash index export`.")],
    index: Annotated[str, typer.Argument(help="The index folder or postgresql:// URI to load into.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Make the file's items the index's only items.")
    ] = False,
) -> None:
    """Load an exported stac-geoparquet file into an index, either backend.

    A new index gets the file's code length and model; into an existing one the items are
    upserted (or, with --replace, replace its items), refused when the file's codes come
    from another model, code length or vector source. Searches answer as in the index that
    was exported: the same ids and distances, with and without re-ranking.

    Examples:

        terrahash index import ucm.parquet ucm-copy.thi

        terrahash index import ucm.parquet postgresql://me@db/eo?schema=ucm

        terrahash index import more.parquet ucm.thi --replace
    """
    from terrahash.index.geoparquet import import_index

    try:
        with import_index(file, index, replace) as loaded:
            n, where = len(loaded), loaded.where
    except TerraHashError as exc:
        raise fail(str(exc)) from exc
    console.print(f"imported {file}: the index {where} now holds {n} items")


@app.command()
def search(
    index_dir: Annotated[Path, typer.Argument(help="An index folder.")],
    image: Annotated[Path | None, typer.Option("--image", help="Query image file.")] = None,
    meta_file: Annotated[Path | None, typer.Option("--meta", help="Query metadata file.")] = None,
    text: Annotated[str | None, typer.Option(
        "--text", help="Query text: a land cover (forest, 'dense residential', 'CLC 311') with "
        "optional platform/year/season/month words.")] = None,
    item_id: Annotated[str | None, typer.Option("--id", help="Query by an indexed item's id.")] = None,
    bbox: Annotated[str | None, typer.Option("--bbox", help="W,S,E,N lon/lat.")] = None,
    start: Annotated[str | None, typer.Option("--start", help="ISO date/time, inclusive.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="ISO date/time, inclusive.")] = None,
    platform: Annotated[list[str] | None, typer.Option("--platform", help="Platform (repeatable).")] = None,
    gsd_min: Annotated[float | None, typer.Option("--gsd-min", help="Minimum GSD, metres.")] = None,
    gsd_max: Annotated[float | None, typer.Option("--gsd-max", help="Maximum GSD, metres.")] = None,
    cloud_max: Annotated[float | None, typer.Option("--cloud-max", help="Maximum cloud cover, %.")] = None,
    label: Annotated[list[str] | None, typer.Option("--label", help="Label (repeatable).")] = None,
    k: Annotated[int, typer.Option("-k", "--k", help="Number of results.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
    exact: Annotated[bool, typer.Option("--exact/--approx", help="Exact scan or RSHST approximate.")] = True,
    nprobe: Annotated[int | None, typer.Option("--nprobe", help="Tree buckets to visit (--approx).")] = None,
    rerank: Annotated[bool, typer.Option(
        "--rerank/--no-rerank", help="Re-rank the Hamming shortlist by embeddings, or Hamming order alone."
    )] = True,
    show: Annotated[Path | None, typer.Option("--show", help="Write a contact sheet PNG.")] = None,
    model: Annotated[Path | None, typer.Option("--model", help="Run folder (default: the index's).")] = None,
) -> None:
    """Search an index by image, image + metadata, metadata, text or id, with filters.

    Examples:

        terrahash search ucm.thi --image tile.jpg -k 10

        terrahash search ucm.thi --image tile.jpg --meta MTL.txt --cloud-max 20 --json

        terrahash search ucm.thi --text "dense residential area" --gsd-max 1

        terrahash search ucm.thi --text "forest sentinel-2 summer 2021"

        terrahash search ucm.thi --text "CLC 311" --json

        terrahash search ucm.thi --id agricultural00 --label forest --show results.png

    Text naming a land cover (a CORINE name, code or synonym, or a dataset label) is
    searched by that class's hash centre; platform, year, season and month words in it
    become filters (README: "What text can express"). Results are re-ranked by the
    index's stored embeddings (the score column) where it has them; distances are
    Hamming distances either way.
    """
    from terrahash.app import Query, Searcher, contact_sheet

    query = Query(image=image, metadata=meta_file, text=text, id=item_id)
    filters = {"bbox": bbox, "start": start, "end": end, "platforms": platform or None, "gsd_min": gsd_min,
               "gsd_max": gsd_max, "cloud_max": cloud_max, "labels": label or None}
    try:
        with Searcher.open(index_dir, model) as searcher:
            outcome = searcher.search(query.validate(), k=k, exact=exact, nprobe=nprobe, rerank=rerank,
                                      filters={key: v for key, v in filters.items() if v is not None})
    except (TerraHashError, ValueError) as exc:
        msg = str(exc) if isinstance(exc, TerraHashError) else f"{index_dir}: error: {exc}"
        raise fail(msg) from exc
    found = outcome.hits
    if outcome.reading is not None:
        err_console.print(f"text read as: {outcome.reading.describe()}")
    if outcome.concept is not None:
        concept = outcome.concept
        err_console.print(f"searched as {concept.node or 'label'} {concept.name} by the {concept.source} of "
                          f"{', '.join(concept.labels)}" + (f" ({concept.note})" if concept.note else ""))
    if show is not None:
        caption = text or item_id or (meta_file.name if meta_file else None)
        contact_sheet(found, show, query_image=image, query_text=caption)
    if as_json:
        print(json.dumps(outcome.to_json(), ensure_ascii=False))
        return
    table = Table("rank", "id", "distance", "score", "label", "platform", "date",
                  title=f"{len(found)} results, {outcome.scanned} codes scanned, {outcome.took_ms:.1f} ms")
    for hit in found:
        rec = hit.record or {}
        score = "" if hit.score is None else f"{hit.score:.4f}"
        table.add_row(str(hit.rank), hit.id, str(hit.distance), score, hit.label or "",
                      str(rec.get("platform") or ""), str(rec.get("datetime") or "")[:10])
    console.print(table)
    if show is not None:
        err_console.print(f"contact sheet written to {show}")


# ---------------------------------------------------------------------------------------
# model: train and encode
# ---------------------------------------------------------------------------------------
@app.command()
def train(
    data_dir: Annotated[Path, typer.Argument(help="Dataset folder with manifest.csv.")],
    out: Annotated[Path, typer.Option("--out", help="Run folder to write.")],
    method: Annotated[
        str, typer.Option(help="ccls2t, unsupervised, dpsh, hashnet, csq or orthohash.")
    ] = "ccls2t",
    bits: Annotated[int, typer.Option(help="Code length: 16, 32, 64 or 128.")] = 64,
    epochs: Annotated[int, typer.Option(help="Training epochs (default chosen on validation within a "
                                                  "10-minute budget on 2 CPU cores).")] = DEFAULT_EPOCHS,
    lr: Annotated[
        float | None,
        typer.Option(help="Peak learning rate (warm-up, then cosine). Default: the method's own, chosen on "
                     "validation (src/terrahash/train/method_defaults.json)."),
    ] = None,
    image_size: Annotated[int, typer.Option(help="Input size in pixels (path_128 is read for >= 128).")] = 64,
    seed: Annotated[int, typer.Option(help="Seed of initialisation, augmentation and batch order.")] = 0,
    split_seed: Annotated[
        int, typer.Option(help="Seed of the 80/20 split and of the validation part. 0: the standard split, "
                          "whose test part the shipped backbone never saw (another split of a set it "
                          "pretrained on is refused).")
    ] = 0,
    text: Annotated[
        bool | None,
        typer.Option("--text/--no-text", help="Text branch on or off (--no-text: the ablation). Default: "
                     "on, unless every training item has the same prompt (no per-image metadata)."),
    ] = None,
    single_scale: Annotated[bool, typer.Option("--single-scale", help="Ablation: one image scale.")] = False,
    no_itc: Annotated[bool, typer.Option("--no-itc", help="Ablation: no image-text InfoNCE.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from RUN_DIR/checkpoint.pt.")] = False,
    backbone: Annotated[
        str, typer.Option(help="default (the shipped pretrained backbone), none (from scratch) or a "
                          "terrahash pretrain folder.")
    ] = "default",
    backbone_weights: Annotated[
        Path | None, typer.Option(help="torchvision ResNet-18/50 state dict (.pth or .safetensors).")
    ] = None,
    backbone_lr_scale: Annotated[
        float | None,
        typer.Option(help="Vision trunk learning rate relative to --lr's. Default: 1 from scratch, "
                     "the validated value from a pretrained backbone."),
    ] = None,
    input_norm: Annotated[
        str | None,
        typer.Option(help="dataset (the set's channel statistics) or image (each image's own, invariant "
                     "to a scene's stretch). Default: image for unsupervised, else dataset."),
    ] = None,
    no_temporal_pairs: Annotated[
        bool, typer.Option("--no-temporal-pairs",
                           help="Unsupervised ablation: second views by augmentation only, not from "
                                "other dates of the same footprint.")
    ] = False,
    meta_dropout: Annotated[
        float, typer.Option(help="Text branch: fraction of training items whose fused code is made "
                            "without their metadata (image alone), so that fused codes stay close to "
                            "image codes. 0 (the default): off.")
    ] = 0.0,
    fusion: Annotated[
        str, typer.Option(help="Text branch: how metadata joins the image embedding. gated (the "
                          "default): image + gate * value(metadata); film: the metadata scales and "
                          "shifts each image channel (features conditioned on sensor, GSD, date and place).")
    ] = "gated",
    loss_setting: Annotated[
        list[str] | None,
        typer.Option("--loss-setting", metavar="NAME=VALUE",
                     help="A loss hyperparameter over the method's validated default, e.g. "
                          "temperature=0.15 for unsupervised or scale=8 for ccls2t; repeatable."),
    ] = None,
) -> None:
    """Train a hashing model and write RUN_DIR (model.safetensors, config.json, metrics.csv, loss_curve.png).

    The split (80/20, stratified, seeded by --split-seed) and a validation part of train used
    for model selection are stored in config.json. Same seeds, same codes.

    Examples:

        terrahash train ../shared/data/scenes/ucmerced --out runs/ucm64

        terrahash train ../shared/data/scenes/ucmerced --out runs/csq64 --method csq --bits 64

        terrahash train ../shared/data/scenes/aid --out runs/aid --epochs 20 --no-itc

        terrahash train ../shared/data/scenes/ucmerced --out runs/dpsh --method dpsh --lr 2.5e-4

        terrahash train ../shared/data/scenes/ucmerced --out runs/ucm-s1 --seed 1   # same split, new init

        terrahash train mixed-sensors/ --out runs/film --text --fusion film --meta-dropout 0.5

        terrahash train tiles/ --out runs/archive --method unsupervised --backbone default

        terrahash train tiles/ --out runs/archive --method unsupervised --loss-setting temperature=0.15
    """
    from terrahash.train.progress import RichProgress
    from terrahash.train.run import TrainOptions, parse_loss_settings
    from terrahash.train.run import train as run_training

    try:
        opts = TrainOptions(
            method=method, bits=bits, epochs=epochs, lr=lr, image_size=image_size, seed=seed,
            split_seed=split_seed, use_text=text, multiscale=not single_scale, itc=not no_itc, resume=resume,
            backbone=backbone, backbone_weights=None if backbone_weights is None else str(backbone_weights),
            backbone_lr_scale=backbone_lr_scale, input_norm=input_norm, temporal_pairs=not no_temporal_pairs,
            meta_dropout=meta_dropout, fusion=fusion, loss_settings=parse_loss_settings(loss_setting or []),
        )
        config = run_training(data_dir, out, opts, progress=lambda d, n: RichProgress(d, n, err_console))
    except TerraHashError as exc:
        raise fail(str(exc)) from exc
    best = config["best_val_map@100"]
    console.print(
        f"wrote {out} ({config['method']}, {config['bits']} bits, {config['train_seconds']:.0f} s"
        + (f", best epoch {config['best_epoch']} val mAP@100 {best:.3f})" if best is not None else ")"),
        highlight=False,
    )


@app.command()
def pretrain(
    sources: Annotated[list[Path], typer.Argument(help="Dataset folders, image folders, rasters.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for backbone.safetensors + card.")],
    epochs: Annotated[int, typer.Option(help="Passes over the data.")] = 30,
    schedule_epochs: Annotated[
        int | None, typer.Option(help="Epochs the cosine LR schedule spans (default: --epochs).")
    ] = None,
    image_size: Annotated[int, typer.Option(help="Input size in pixels.")] = 64,
    tile_size: Annotated[int, typer.Option(help="Raster tiles: native pixels per side.")] = 64,
    batch_size: Annotated[int, typer.Option(help="Images per step (two views each).")] = 128,
    lr: Annotated[float, typer.Option(help="Peak learning rate (cosine schedule).")] = 2e-3,
    model_name: Annotated[str, typer.Option("--model", help="Architecture config name.")] = "ccls2t-small",
    seed: Annotated[int, typer.Option(help="Seed of the run (not of the data split).")] = 0,
    val_fraction: Annotated[
        float | None, typer.Option(help="Validation part of each labelled set's train part, left out as "
                                   "well (terrahash train selects models on it); 0 keeps it in. "
                                   "Default: terrahash train's, 0.1.")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run in --out.")] = False,
) -> None:
    """Pretrain a vision backbone on labelled sets, unlabelled images and rasters.

    Labelled dataset folders train on their train part only (the standard 80/20 split that
    `terrahash train` uses, less its validation part), so no image a run is validated or
    tested on is ever seen; unlabelled folders and rasters (tiles cut on the fly) train the
    contrastive term. Writes
    backbone.safetensors, card.json + CARD.md (data, recipe, time, hardware, checksum) and
    the learning curve; `terrahash train --backbone OUT` starts from it.

    Examples:

        terrahash pretrain ../shared/data/scenes/ucmerced ../shared/data/scenes/aid --out bb

        terrahash pretrain ../shared/data/scenes/aid ../shared/data/rasters --out bb --epochs 40

        terrahash pretrain archive_tiles/ --out bb --resume --device cuda
    """
    from terrahash.train.pretrain import PretrainOptions
    from terrahash.train.pretrain import pretrain as run_pretraining

    opts = PretrainOptions(model_name=model_name, image_size=image_size, tile_size=tile_size, epochs=epochs,
                           schedule_epochs=schedule_epochs,
                           batch_size=batch_size, lr=lr, seed=seed, device=device, resume=resume)
    if val_fraction is not None:
        opts.val_fraction = val_fraction
    bars: list[object] = []

    def progress(what: str, total: int) -> Callable[[int], None]:
        bar, step = _progress(total or 1, what)
        bar.start()
        bars.append(bar)
        return step

    def on_epoch(epoch: int, row: dict[str, float]) -> None:
        for bar in bars:
            bar.stop()  # type: ignore[attr-defined]
        bars.clear()
        err_console.print(f"epoch {epoch}: loss {row['loss']:.3f} (contrastive {row['contrastive']:.3f}, "
                          f"supervised {row['supervised']:.3f}), {row['images_per_s']:.0f} img/s")

    try:
        card = run_pretraining(sources, out, opts, progress=progress, on_epoch=on_epoch)
    except TerraHashError as exc:
        raise fail(str(exc)) from exc
    finally:
        for bar in bars:
            bar.stop()  # type: ignore[attr-defined]
    trained = card["training"]
    console.print(f"wrote {out}: {card['weights']['parameters']:,} parameters, "
                  f"{trained['epochs']} epochs in {trained['train_seconds']:.0f} s", highlight=False)


@app.command()
def encode(
    run_dir: Annotated[Path, typer.Argument(help="Run folder written by `terrahash train`.")],
    data_dir: Annotated[Path, typer.Argument(help="Dataset folder with manifest.csv.")],
    out: Annotated[Path, typer.Option("--out", help="Output .npz file.")],
    batch_size: Annotated[int, typer.Option(help="Images per batch.")] = 256,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Encode every item of DATA_DIR into CODES.npz: ids, packed codes and embeddings per query kind.

    Keys: ids, labels ('|'-joined), split (train/val/test/other), kinds, codes_image,
    codes_fused, codes_text (packed uint8, bits/8 bytes) and emb_image, emb_fused,
    emb_text (float32). Image-only methods have no text kind. Prints the mean Hamming
    distance between the kinds' codes for the same item.

    Examples:

        terrahash encode runs/ucm64 ../shared/data/scenes/ucmerced --out codes/ucm64.npz

        terrahash encode runs/ucm64 my_scenes/ --out codes/mine.npz --json
    """
    from rich.progress import Progress

    from terrahash.model.export import encode_folder

    try:
        with Progress(console=err_console, transient=True) as bar:
            task = bar.add_task("encoding", total=None)
            summary = encode_folder(run_dir, data_dir, out, batch_size,
                                    progress=lambda n: bar.update(task, advance=n))
    except TerraHashError as exc:
        raise fail(str(exc)) from exc
    if as_json:
        print(json.dumps(summary))
        return
    console.print(f"wrote {summary['out']}: {summary['items']} items, {summary['bits']} bits, "
                  f"kinds {', '.join(summary['kinds'])}", highlight=False)
    for pair, dist in summary["agreement_hamming"].items():
        console.print(f"  mean Hamming {pair}: {dist:.2f} bits", highlight=False)


# ---------------------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------------------
@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A training run folder (config.json + weights).")],
    data_dir: Annotated[Path, typer.Argument(help="The dataset folder the run was trained on.")],
    k: Annotated[str, typer.Option("--k", help="Extra mAP cut-offs, e.g. 5,20,100.")] = "20,100",
    query_kind: Annotated[str, typer.Option("--query-kind", help="image|fused|text.")] = "image",
    db_kind: Annotated[str, typer.Option("--db-kind", help="fused|image.")] = "fused",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the database order.")] = 0,
    engines: Annotated[bool, typer.Option("--engines", help="Add FAISS baselines.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Score a trained run: its test split queries its train split (mAP, P@k, NDCG ...).

    The database is put in a seeded random order (ties are broken by it; the seed is
    printed) and the order-free tie-aware mAP@100 is reported beside the stable one. AP is
    normalised by min(R, k); queries with no relevant item are excluded and counted.

    Examples:

        terrahash evaluate runs/ccls2t-64 ../shared/data/scenes/ucmerced

        terrahash evaluate runs/ccls2t-64 ../shared/data/scenes/ucmerced --k 5,20,100 --json

        terrahash evaluate runs/dpsh-64 ../shared/data/scenes/aid --db-kind image --engines
    """
    from terrahash.app.evaluation import evaluate_run, split_size
    from terrahash.data import load_dataset
    from terrahash.evaluate.protocol import parse_ks
    from terrahash.model import load_model

    try:
        ks = parse_ks(k)
        model = load_model(run_dir)
        dataset = load_dataset(data_dir)
        bar, step = _progress(split_size(model.config), "encoding")
        with bar:
            report = evaluate_run(model, dataset, query_kind, db_kind, ks, seed, step, engines)
    except TerraHashError as exc:
        msg = str(exc) if ": error:" in str(exc) else f"{run_dir}: error: {exc}"
        raise fail(msg) from exc
    rows = report.get("engines")
    if as_json:
        print(json.dumps(_json_safe(report)))
        return
    table = Table("metric", "value", title=f"{report['method']} {report['bits']} bits, "
                  f"{report['query_kind']} queries vs {report['db_kind']} database")
    for key, value in report.items():
        if key != "engines":
            table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    if rows:
        etable = Table("engine", "params", "map@100", "latency ms", "bytes/item", title="engines")
        for row in rows:
            etable.add_row(row["engine"], row["params"], f"{row['map@100']:.4f}",
                           f"{row['latency_ms']:.3f}", f"{row['bytes_per_item']:.1f}")
        console.print(etable)


def _json_safe(value):  # noqa: ANN001, ANN202 - JSON-like
    """NaN (a mean over no queries) becomes null: JSON has no NaN."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------
# service
# ---------------------------------------------------------------------------------------
@app.command()
def serve(
    index_dir: Annotated[Path, typer.Argument(help="Index folder (from `terrahash index build`).")],
    host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 for all.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (each loads the index).")] = 1,
    cors_origin: Annotated[
        list[str] | None, typer.Option(help="Allow this CORS origin (repeatable); off by default.")
    ] = None,
    max_body_mb: Annotated[float, typer.Option(help="Request body limit in MiB (413 above).")] = 32.0,
    batching: Annotated[bool, typer.Option(
        help="Answer concurrent searches together: one model pass and one scan per micro-batch.")] = True,
    batch_window_ms: Annotated[float, typer.Option(
        min=0, max=1000, help="How long a micro-batch waits for more requests after its first.")] = 5.0,
    batch_max: Annotated[int, typer.Option(min=1, help="Most queries in one micro-batch.")] = 64,
    batch_queue: Annotated[int, typer.Option(
        min=1, help="Most requests waiting for a batch; beyond it: 503 with Retry-After.")] = 256,
    batch_workers: Annotated[int, typer.Option(
        min=1, help="Threads answering micro-batches (2: a scan overlaps the next model pass).")] = 1,
) -> None:
    """Serve the retrieval HTTP API and the map web page for one index.

    The index and its model load once per worker. `POST /admin/reload` or `kill -HUP PID`
    re-opens the index without dropping requests; set `TERRAHASH_ADMIN_TOKEN` to require
    `Authorization: Bearer TOKEN` for reload. API docs: `/docs`, `/openapi.json`.

    Examples:

        terrahash serve runs/ucm-index

        terrahash serve runs/ucm-index --host 0.0.0.0 --port 8080 --workers 2

        terrahash serve runs/ucm-index --cors-origin https://maps.example.org

        terrahash serve runs/ucm-index --batch-window-ms 10 --batch-max 32 --batch-queue 128

        terrahash serve runs/ucm-index --no-batching
    """
    import os

    from terrahash.errors import lazy_import

    uvicorn = lazy_import("uvicorn", "service")
    from terrahash.service import app as service_app

    os.environ[service_app.ENV_INDEX] = str(index_dir.resolve())
    os.environ[service_app.ENV_CORS] = ",".join(cors_origin or [])
    os.environ[service_app.ENV_MAX_BODY] = str(int(max_body_mb * 1024 * 1024))
    os.environ[service_app.ENV_BATCHING] = "1" if batching else "0"
    os.environ[service_app.ENV_BATCH_WINDOW_MS] = str(batch_window_ms)
    os.environ[service_app.ENV_BATCH_MAX] = str(batch_max)
    os.environ[service_app.ENV_BATCH_QUEUE] = str(batch_queue)
    os.environ[service_app.ENV_BATCH_WORKERS] = str(batch_workers)
    try:
        service_app.app_from_env(warm=False)  # fail fast, with a clear message, on a bad index
    except TerraHashError as exc:
        raise fail(str(exc)) from exc
    err_console.print(f"serving {index_dir} on http://{host}:{port}/ (API docs at /docs)")
    # Keep-alive of 30 s (uvicorn's default is 5): under load a busy event loop can fire the
    # idle timer just as a client reuses the connection, which the client sees as a reset.
    uvicorn.run("terrahash.service.app:app_from_env", factory=True, host=host, port=port,
                workers=workers, log_level="info", timeout_graceful_shutdown=10,
                timeout_keep_alive=30)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point; ``main([...])`` is what tests call."""
    app(args=argv, prog_name="terrahash")


if __name__ == "__main__":
    main()
