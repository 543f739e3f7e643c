"""Load test of ``terrahash serve``: N concurrent clients on loopback against a 100 k index.

Builds (once, under --work) a 1-epoch model run on eo-learn and an index of --items items
(random 64-bit codes, synthetic records spread over Europe 2015-2024 so filters bite),
starts the server in its own process, then drives it from this process with --clients
concurrent clients for --duration seconds per scenario:

- ``image``: POST /search with a real eo-learn PNG (model encode + exact scan of all items);
- ``filtered``: GET /search?id=... with bbox + datetime + platform + cloud filters.

Writes JSON and Markdown to bench/results/service.{json,md}.

    .venv/bin/python bench/service.py --duration 60
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def build_index(work: Path, n_items: int, seed: int = 0) -> Path:
    """A run and an ``n_items`` index recording that run (skipped when already built)."""
    from terrahash.app import model_provenance
    from terrahash.cli import main
    from terrahash.data import default_data_dir
    from terrahash.index import Index
    from terrahash.metadata.record import SceneRecord, polygon
    from terrahash.model import load_model

    run, index_dir = work / "run", work / f"index-{n_items}"
    if not (run / "model.safetensors").is_file():
        data = default_data_dir() / "scenes" / "eolearn_slovenia"
        try:
            main(["train", str(data), "--out", str(run), "--epochs", "1", "--bits", "64",
                  "--image-size", "32"])
        except SystemExit as exc:
            if exc.code:
                raise
    if (index_dir / "manifest.json").is_file():
        return index_dir
    model = load_model(run)
    rng = np.random.default_rng(seed)
    index = Index.create(index_dir, bits=64, model=model_provenance(model, run), code_kind="fused")
    platforms = ["sentinel-2a", "sentinel-2b", "landsat-8", "landsat-9", "gf-2"]
    labels = ["forest", "water", "urban", "cropland", "grassland", "bare"]
    t0 = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)
    batch = 20_000
    for start in range(0, n_items, batch):
        n = min(batch, n_items - start)
        lon = rng.uniform(-10, 30, n)
        lat = rng.uniform(35, 60, n)
        days = rng.uniform(0, 3650, n)
        records = [
            SceneRecord(
                id=f"s{start + i}", platform=platforms[i % 5], gsd_m=[10.0, 10.0, 30.0, 30.0, 0.8][i % 5],
                datetime=t0 + dt.timedelta(days=float(days[i])), cloud_cover=float(rng.uniform(0, 100)),
                footprint=polygon([(lon[i], lat[i]), (lon[i] + 0.1, lat[i]),
                                   (lon[i] + 0.1, lat[i] + 0.1), (lon[i], lat[i] + 0.1),
                                   (lon[i], lat[i])]),
            ).to_json_dict()
            for i in range(n)
        ]
        codes = rng.integers(0, 256, (n, 8), dtype=np.uint8)
        index.add([f"s{start + i}" for i in range(n)], codes, records=records,
                  labels=[labels[(start + i) % 6] for i in range(n)])
    index.close()
    return index_dir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def drive(url: str, make_request, clients: int, duration: float) -> dict:  # noqa: ANN001
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60.0, limits=limits) as client:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                try:
                    r = await make_request(client)
                    if r.status_code != 200 or not r.json().get("features"):
                        errors.append(f"{r.status_code} {r.text[:120]}")
                except Exception as exc:  # noqa: BLE001 - every failure is counted
                    errors.append(repr(exc))
                latencies.append((time.perf_counter() - t) * 1000.0)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - start
    lat = np.asarray(latencies)
    return {
        "requests": len(latencies), "errors": len(errors), "error_samples": errors[:3],
        "seconds": round(wall, 2), "throughput_rps": round(len(latencies) / wall, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 1), "p95_ms": round(float(np.percentile(lat, 95)), 1),
        "p99_ms": round(float(np.percentile(lat, 99)), 1), "mean_ms": round(float(lat.mean()), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per scenario")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/terrahash-bench-service"))
    args = parser.parse_args()
    from terrahash.data import default_data_dir

    t = time.perf_counter()
    index_dir = build_index(args.work, args.items)
    build_s = time.perf_counter() - t
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server_log = open(args.work / "server.log", "wb")  # noqa: SIM115 - open while serving
    server = subprocess.Popen(
        [sys.executable, "-m", "terrahash.cli", "serve", str(index_dir), "--port", str(port),
         "--workers", str(args.workers)],
        stdout=server_log, stderr=subprocess.STDOUT, cwd=ROOT,
    )
    try:
        import httpx

        for _ in range(600):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise SystemExit(f"server did not start; see {args.work / 'server.log'}")
        image = (default_data_dir() / "scenes" / "eolearn_slovenia"
                 / "TestEOPatch_2015-08-20_r000_c000.png").read_bytes()

        def image_query(client):  # noqa: ANN001, ANN202
            return client.post("/search", files={"image": ("q.png", image, "image/png")},
                               data={"k": "20"})

        filters = {"id": "s12345", "k": "20", "bbox": "0,40,20,55",
                   "datetime": "2018-01-01T00:00:00Z/2020-12-31T23:59:59Z",
                   "platform": "sentinel-2a,sentinel-2b", "cloud_max": "30"}

        def filtered_query(client):  # noqa: ANN001, ANN202
            return client.get("/search", params=filters)

        results = {}
        for name, fn in (("image", image_query), ("filtered", filtered_query)):
            results[name] = asyncio.run(drive(url, fn, args.clients, args.duration))
            print(name, results[name], flush=True)
        health = httpx.get(f"{url}/health").json()
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        server_log.close()
    report = {
        "items": health["items"], "bits": health["bits"], "clients": args.clients,
        "duration_s": args.duration, "workers": args.workers, "index_build_s": round(build_s, 1),
        "cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
        "filtered_query": filters, "scenarios": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "service.json").write_text(json.dumps(report, indent=1))
    rows = "\n".join(
        f"| {name} | {r['requests']} | {r['errors']} | {r['throughput_rps']} | {r['p50_ms']} | "
        f"{r['p95_ms']} | {r['p99_ms']} |" for name, r in results.items()
    )
    (RESULTS / "service.md").write_text(
        f"# Service load test\n\n{report['items']} items, {report['bits']} bits, {args.clients} "
        f"concurrent clients on loopback (second process), {args.duration:g} s per scenario, "
        f"{args.workers} worker(s), {report['cpus']} CPUs shared.\n\n"
        "| scenario | requests | errors | req/s | p50 ms | p95 ms | p99 ms |\n"
        "|---|---|---|---|---|---|---|\n" + rows + "\n\n"
        "`image`: POST /search with a 32x32 PNG (decode, model encode, exact scan of every code).\n"
        f"`filtered`: GET /search?id=… with bbox + datetime + platform + cloud_max "
        f"(`{json.dumps(filters)}`).\n"
    )
    print((RESULTS / "service.md").read_text())


if __name__ == "__main__":
    main()
