"""What the embedded index's checksums cost: open time with and without hashing, and the
hashing a write adds. Writes ``bench/results/checksums.json`` and ``checksums.md``.

The page cache is warm (each open follows another), as for a server's reload; a cold open
adds the disk's read time for the hashed files.

    .venv/bin/python bench/checksums.py                        # builds a 1 M item index
    .venv/bin/python bench/checksums.py --index /tmp/idx1m     # an index built before
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    load_average,
    load_note,
    provenance,
    provenance_line,
    script_command,
)
from bench.scale import synthetic  # noqa: E402

EMBEDDING_DIM = 128


def build(root: Path, n: int) -> float:
    """A synthetic ``n``-item index with 64-bit codes, records and 128-d embeddings; seconds."""
    from terrahash.index import Index

    ids, codes, records = synthetic(n)
    embeddings = np.random.default_rng(1).standard_normal((n, EMBEDDING_DIM), dtype=np.float32)
    start = time.perf_counter()
    with Index.create(root, bits=64) as index:
        index.add(ids, codes, records=records, embeddings=embeddings)
    return time.perf_counter() - start


def open_times(root: Path, hashed: tuple[str, ...], repeat: int) -> list[float]:
    """Seconds per ``Index.open`` + close with ``hashed`` files verified by SHA-256."""
    import terrahash.index.embedded.generation as generation
    from terrahash.index import Index

    shipped = generation.verify_files

    def verify(gen: Path, checksums: dict[str, Any] | None, where: str,
               hashed_: tuple[str, ...] = hashed) -> None:
        shipped(gen, checksums, where, hashed_)

    generation.verify_files = verify  # type: ignore[assignment]
    try:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            Index.open(root).close()
            times.append(time.perf_counter() - start)
        return times
    finally:
        generation.verify_files = shipped


def markdown(result: dict[str, Any]) -> str:
    rows = "\n".join(f"| {name} | {t['median_s']:.3f} | {t['min_s']:.3f} |"
                     for name, t in result["open"].items())
    sizes = ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in result["bytes"].items())
    built = (f"the build itself took {result['build_s']} s" if result["build_s"] is not None
             else "the index was built before this run, so its build is not timed here")
    loads = [part[0] for key in ("load_average_before", "load_average_after") if (part := result.get(key))]
    note = load_note(loads, result["machine"]["nproc"])
    return f"""# Embedded index checksums: what they cost

{provenance_line(result)} {note}

Index: {result['count']:,} items, {sizes}.

| `Index.open` (warm page cache, {result['repeat']} runs) | median s | min s |
|---|---|---|
{rows}

Hashing every file of the generation at write time (`checksums_of`): {result['write_hash_s']:.2f} s
({built}).

Shipped: every file's size is checked on open, and the SHA-256 of the raw memory-mapped arrays
(codes, seqs, embeddings), which nothing else would check. The SQLite catalog (the largest file)
and the `.npz` files (zip members with a CRC) are only size-checked on open.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="items, when building")
    parser.add_argument("--index", type=Path, help="an index built before (default: build one)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    from terrahash.index.embedded.generation import HASHED_ON_OPEN
    from terrahash.index.embedded.storage import checksums_of

    with tempfile.TemporaryDirectory() as tmp:
        root, build_s = args.index, None
        if root is None:
            root = Path(tmp) / "index"
            build_s = round(build(root, args.n), 1)
        manifest = json.loads((root / "manifest.json").read_text())
        if "checksums" not in manifest:
            raise SystemExit(f"{root}: error: written without checksums; build it with this version")
        gen = root / manifest["generation"]
        every = tuple(manifest["checksums"]["files"])
        modes = {"sizes only (no hashing)": (), "shipped: SHA-256 of codes, seqs, embeddings": HASHED_ON_OPEN,
                 "SHA-256 of every file": every}
        opened, load_before = {}, load_average()
        for name, hashed in modes.items():
            times = open_times(root, hashed, args.repeat)
            opened[name] = {"median_s": float(np.median(times)), "min_s": min(times), "runs_s": times}
        start = time.perf_counter()
        checksums_of(gen)
        write_hash_s = time.perf_counter() - start
        result = {
            **provenance(script_command(__file__)),
            "count": int(manifest["count"]),
            "bytes": {p.name: p.stat().st_size for p in sorted(gen.iterdir())},
            "repeat": args.repeat,
            "open": opened,
            "write_hash_s": write_hash_s,
            "build_s": build_s,
            "load_average_before": load_before,
            "load_average_after": load_average(),
        }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "checksums.json").write_text(json.dumps(result, indent=2))
    (args.out / "checksums.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
