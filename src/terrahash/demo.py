"""``make demo``: the whole product end to end on the bundled UC Merced data, in minutes.

It runs the same commands a user types (printed before each step), so the demo doubles as
a tour of the CLI: read metadata, train CCLS2T and a CSQ baseline with the same budget,
build an index, search by image, image + metadata and text with a filter, evaluate both
runs and draw a contact sheet and PR curves under ``demo-output/``.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from terrahash.data import default_data_dir

OUT = Path(os.environ.get("TERRAHASH_DEMO_OUT", "demo-output"))
EPOCHS = int(os.environ.get("TERRAHASH_DEMO_EPOCHS", "12"))
#: The demo's text search: a land cover the text reader knows, so it needs no text encoder
#: (UC Merced trains without one: every image shares one prompt).
TEXT_QUERY = "dense residential area"
console = Console()


def run(*args: str, capture: bool = False) -> str:
    """Run ``terrahash ARGS`` as a user would, echoing the command; fail loudly."""
    console.print(f"\n[bold cyan]$ terrahash {shlex.join(args)}[/]")
    proc = subprocess.run(
        [sys.executable, "-m", "terrahash.cli", *args],
        stdout=subprocess.PIPE if capture else None,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        console.print(f"[red]step failed (exit {proc.returncode}): terrahash {shlex.join(args)}[/]")
        raise SystemExit(proc.returncode)
    return proc.stdout or ""


def pr_curves(runs: dict[str, Path], data_dir: Path, path: Path) -> None:
    """Precision-recall over Hamming radii for each run (test queries vs train database)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from terrahash.app.evaluation import DEFAULT_DB_KIND, encode_split
    from terrahash.data import load_dataset
    from terrahash.evaluate.radius import pr_curve
    from terrahash.model import load_model

    dataset = load_dataset(data_dir)
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, run_dir in runs.items():
        model = load_model(run_dir)
        db_kind = DEFAULT_DB_KIND if DEFAULT_DB_KIND in model.query_kinds else "image"
        split = encode_split(model, dataset, sorted({"image", db_kind}))
        curve = pr_curve(split.codes("queries", "image"), split.codes("database", db_kind), split.relevance)
        ax.plot(curve.recall, curve.precision, marker=".", label=f"{name} ({model.bits} bits)")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("UC Merced, image queries, Hamming radius sweep")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    start = time.perf_counter()
    data = default_data_dir()
    ucm = data / "scenes" / "ucmerced"
    if not (ucm / "manifest.csv").is_file():
        console.print(f"[red]{ucm}: error: the bundled data is missing (set TERRAHASH_DATA)[/]")
        raise SystemExit(2)
    OUT.mkdir(parents=True, exist_ok=True)
    meta_dir = data / "metadata"
    naip = meta_dir / "naip_fgdc" / "m_3008501_ne_16_1_20110815.txt"

    console.rule("[bold]1. Metadata: any vendor format -> one record -> the R2STFT prompt")
    gf2 = meta_dir / "cresda_xml" / "GF2_PMS1_W91.0_N17.6_20200510_L1A0004793969-MSS1.xml"
    run("meta", "--json", str(gf2))
    run("prompt", str(meta_dir / "landsat_mtl" / "LC08_L2SP_047027_20201204_20210313_02_T1_MTL.txt"))

    console.rule(f"[bold]2. Train CCLS2T and a CSQ baseline ({EPOCHS} epochs each, 64 bits)")
    runs = {"ccls2t": OUT / "run-ccls2t", "csq": OUT / "run-csq"}
    for method, run_dir in runs.items():
        run("train", str(ucm), "--out", str(run_dir), "--method", method, "--bits", "64",
            "--epochs", str(EPOCHS), "--seed", "0")

    console.rule("[bold]3. Index the archive (codes + SQLite catalog + semantic tree)")
    index = OUT / "index"
    run("index", "build", str(runs["ccls2t"]), str(ucm), "--out", str(index))
    run("index", "info", str(index))

    console.rule("[bold]4. Search")
    query = ucm / "128" / "denseresidential" / "denseresidential07.jpg"
    run("search", str(index), "--image", str(query), "-k", "8", "--show", str(OUT / "contact-sheet.png"))
    run("search", str(index), "--image", str(query), "--meta", str(naip), "-k", "5")
    run("search", str(index), "--text", TEXT_QUERY, "--gsd-max", "1", "-k", "5")

    console.rule("[bold]5. Evaluate (test split queries vs train split database)")
    results = {}
    for method, run_dir in runs.items():
        results[method] = json.loads(run("evaluate", str(run_dir), str(ucm), "--json", capture=True))
    pr_curves(runs, ucm, OUT / "pr-curve.png")

    table = Table(title="UC Merced, 64 bits, image queries vs the train-split database")
    keys = ("map@100", "tie_aware_map@100", "map@all", "p@10", "ndcg@100", "unique_codes")
    table.add_column("method")
    for key in keys:
        table.add_column(key, justify="right")
    for method, res in results.items():
        table.add_row(method, *(f"{res[k]:.4f}" if isinstance(res[k], float) else str(res[k]) for k in keys))
    console.print(table)
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    wall = time.perf_counter() - start
    console.rule("[bold green]Done")
    console.print(
        f"In {wall / 60:.1f} min TerraHash read vendor metadata, trained CCLS2T and CSQ on UC Merced, "
        f"indexed {ucm.name}, searched it three ways and evaluated both models.\n"
        f"Look at: {OUT}/contact-sheet.png (query + results), {OUT}/pr-curve.png, "
        f"{OUT}/results.json, {runs['ccls2t']}/loss_curve.png, and try "
        f"'.venv/bin/terrahash serve {index}' then open http://127.0.0.1:8000/."
    )


if __name__ == "__main__":
    main()
