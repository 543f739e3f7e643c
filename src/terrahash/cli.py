"""The ``terrahash`` command line: thin wrappers over the library, one command per job."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from terrahash.errors import TerraHashError

app = typer.Typer(
    name="terrahash",
    help="Content-based remote sensing image retrieval with spatiotemporal hash codes.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_show_locals=False,
)
console = Console()
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
    features: Annotated[bool, typer.Option("--features", help="Also print the numeric features as JSON.")] = False,
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


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point; ``main([...])`` is what tests call."""
    app(args=argv, prog_name="terrahash")


if __name__ == "__main__":
    main()
