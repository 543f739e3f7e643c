"""Load test of ``terrahash serve``: micro-batched vs one-request-at-a-time, in the same run.

Builds (once, under --work) a real index: ``terrahash train`` for --epochs on UC Merced
(--image-size px, 64 bits), then ``terrahash index build`` of all 2,100 images. Then, for
each mode (``--no-batching`` first, then micro-batching with the serve defaults or the
--batch-* options), starts ``terrahash serve`` in its own process and drives it from this
process with --clients concurrent clients for --duration seconds per scenario:

- ``image``: POST /search with a real UC Merced image (one of --query-images, in turn):
  upload decode, model encode, exact Hamming scan of every code, re-ranking;
- ``id``: GET /search?id=... ("more like this": the stored code, no model).

Targets (issue 15): image-query throughput of the batched mode >= 3x the unbatched mode of
the same run, p99 <= 1 s, no errors. Writes bench/results/service.{json,md,png}, each
stating the command, commit, date and machine.

    .venv/bin/python bench/service.py --duration 25
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import (  # noqa: E402
    load_average,
    markdown_table,
    provenance,
    save_report,
    script_command,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
#: Issue 15's targets for image queries at 50 clients.
TARGET_SPEEDUP, TARGET_P99_MS = 3.0, 1000.0


def build_index(work: Path, data: Path, epochs: int, image_size: int) -> Path:
    """A briefly trained run on ``data`` and an index of all its images (reused when built)."""
    from terrahash.cli import main

    run, index_dir = work / "run", work / "index"
    steps = []
    if not (run / "model.safetensors").is_file():
        steps.append(["train", str(data), "--out", str(run), "--epochs", str(epochs), "--bits", "64",
                      "--image-size", str(image_size), "--seed", "0"])
    if not (index_dir / "manifest.json").is_file():
        steps.append(["index", "build", str(run), str(data), "--out", str(index_dir)])
    for argv in steps:
        try:
            main(argv)
        except SystemExit as exc:
            if exc.code:
                raise SystemExit(f"terrahash {' '.join(argv)} exited {exc.code}") from exc
    return index_dir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``), to split the cost per request."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def serving(index_dir: Path, options: list[str], log: Path) -> Iterator[tuple[str, int]]:
    """``terrahash serve INDEX OPTIONS`` in a subprocess; yields (URL, pid) once /health answers."""
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "terrahash.cli", "serve", str(index_dir), "--port", str(port), *options],
            stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
        )
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            else:
                raise SystemExit(f"server did not start; see {log}")
            yield url, server.pid
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


#: A request as the bytes sent on a keep-alive connection (built once: the load generator
#: shares the 2 cores with the server, so it must cost far less than what it measures).
Request = Callable[[int], bytes]


def http_request(method: str, target: str, body: bytes = b"", content_type: str = "") -> bytes:
    head = f"{method} {target} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(body)}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    return (head + "\r\n").encode() + body


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body and its content type."""
    boundary = "terrahashbench7d1f"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    for name, (filename, data, ctype) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'.encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, bytes]:
    """Send one request on a keep-alive connection; (status, body) of its response."""
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next((int(line.split(":", 1)[1]) for line in lines
                   if line.lower().startswith("content-length:")), 0)
    return int(lines[0].split()[1]), await reader.readexactly(length)


async def drive(url: str, make_request: Request, clients: int, duration: float) -> dict[str, Any]:
    """``clients`` concurrent keep-alive connections sending ``make_request`` for ``duration`` s.

    A request counts as an error unless it answers 200 with at least one result (a non-empty
    ``features`` list); every latency counts, errors included.
    """
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + duration

    async def worker(n: int) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        turn = n
        try:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                try:
                    status, body = await exchange(reader, writer, make_request(turn))
                    if status != 200 or b'"features":[{' not in body:
                        errors.append(f"{status} {body[:120]!r}")
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    errors.append(repr(exc))
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                latencies.append((time.perf_counter() - t) * 1000.0)
                turn += clients
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(clients)))
    wall = time.perf_counter() - start
    lat = np.asarray(latencies)
    return {
        "requests": len(latencies), "errors": len(errors), "error_samples": errors[:3],
        "seconds": round(wall, 2), "throughput_rps": round(len(latencies) / wall, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 1), "p95_ms": round(float(np.percentile(lat, 95)), 1),
        "p99_ms": round(float(np.percentile(lat, 99)), 1), "mean_ms": round(float(lat.mean()), 1),
    }


def scenarios(data: Path, n_images: int) -> dict[str, Request]:
    """The two request kinds, cycling through ``n_images`` real images (and their ids)."""
    from terrahash.data import load_dataset

    items = list(load_dataset(data))[:: max(1, 2100 // n_images)][:n_images]
    image_requests, id_requests = [], []
    for it in items:
        ext = Path(it.path).suffix.lstrip(".")
        body, ctype = multipart({"k": "20"}, {"image": (f"{it.id}.{ext}", Path(it.path).read_bytes(),
                                                        f"image/{ext}")})
        image_requests.append(http_request("POST", "/search", body, ctype))
        id_requests.append(http_request("GET", f"/search?id={it.id}&k=20"))
    return {"image": lambda turn: image_requests[turn % len(image_requests)],
            "id": lambda turn: id_requests[turn % len(id_requests)]}


def run_mode(index_dir: Path, options: list[str], requests: dict[str, Request], args: argparse.Namespace,
             log: Path) -> dict[str, Any]:
    """One server, every scenario (after a short warm-up each); plus its /health batching counters."""
    import httpx

    out: dict[str, Any] = {"serve_options": options, "scenarios": {}}
    with serving(index_dir, options, log) as (url, pid):
        for name, make in requests.items():
            asyncio.run(drive(url, make, args.clients, args.warmup))
            server0, client0, load0 = cpu_seconds(pid), time.process_time(), load_average()[0]
            result = asyncio.run(drive(url, make, args.clients, args.duration))
            # the machine's load, before and after (1-minute averages; this test's own included)
            result["load_avg_1m"] = [load0, load_average()[0]]
            per_request = 1000.0 / max(1, result["requests"])
            result["server_cpu_ms_per_request"] = round((cpu_seconds(pid) - server0) * per_request, 2)
            result["client_cpu_ms_per_request"] = round((time.process_time() - client0) * per_request, 2)
            out["scenarios"][name] = result
            print(options or "batched", name, out["scenarios"][name], flush=True)
        health = httpx.get(f"{url}/health", timeout=10).json()
    out["items"], out["bits"], out["batching"] = health["items"], health["bits"], health["batching"]
    if health["batching"] and health["batching"]["batches"]:
        out["mean_batch"] = round(health["batching"]["queries"] / health["batching"]["batches"], 2)
    return out


def verdict(modes: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets on the image scenario, as measured."""
    plain, batched = modes["unbatched"]["scenarios"]["image"], modes["batched"]["scenarios"]["image"]
    speedup = batched["throughput_rps"] / plain["throughput_rps"] if plain["throughput_rps"] else None
    return {
        "image_speedup": round(speedup, 2) if speedup else None,
        "speedup_ok": bool(speedup and speedup >= TARGET_SPEEDUP),
        "p99_ok": batched["p99_ms"] <= TARGET_P99_MS,
        "errors_ok": batched["errors"] == 0,
    }


def write_markdown(path: Path, report: dict[str, Any]) -> None:
    m, v = report["machine"], report["verdict"]
    p99 = report["modes"]["batched"]["scenarios"]["image"]["p99_ms"]
    rows = [[mode, name, r["requests"], r["errors"], *(f"{r[key]:g}" for key in
                                                       ("throughput_rps", "p50_ms", "p95_ms", "p99_ms")),
             f"{part['mean_batch']:g}" if "mean_batch" in part else "–",
             r.get("server_cpu_ms_per_request", "–"), r.get("client_cpu_ms_per_request", "–"),
             " → ".join(f"{x:g}" for x in r.get("load_avg_1m", []))]
            for mode, part in report["modes"].items() for name, r in part["scenarios"].items()]
    ok = {True: "met", False: "NOT met"}
    lines = [
        "# Service load test: micro-batched vs unbatched", "",
        f"Wall-clock figures on {m['nproc']} cores; the load column is the 1-minute load average before "
        "→ after each scenario, this test's own server and clients included.", "",
        f"Index: {report['items']} real UC Merced images, {report['bits']} bits, built by `terrahash index "
        f"build` from a {report['epochs']}-epoch `terrahash train` run at {report['image_size']} px. "
        f"{report['clients']} concurrent clients (one asyncio process, keep-alive loopback connections, "
        f"requests pre-built), {report['duration_s']:g} s "
        f"per scenario after a {report['warmup_s']:g} s warm-up; both servers run one after the other in "
        "this run, one worker process each.", "",
        markdown_table(["mode", "scenario", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms",
                        "mean batch", "server CPU ms/req", "client CPU ms/req", "load avg"], rows),
        "",
        f"Image queries: batched throughput **{v['image_speedup']}x** unbatched (target >= "
        f"{TARGET_SPEEDUP:g}x: {ok[v['speedup_ok']]}); batched p99 {p99} ms (target <= {TARGET_P99_MS:g} ms: "
        f"{ok[v['p99_ok']]}); errors: {ok[v['errors_ok']]} (0 wanted).", "",
        "`image`: POST /search with a real UC Merced image (cycling through "
        f"{report['query_images']}), k = 20: upload decode, model encode, Hamming scan, re-ranking. "
        "`id`: GET /search?id=… (stored code, no model). `mean batch`: queries per model pass / scan "
        "(the batched server's /health counters, warm-up included; id queries skip the batcher). "
        "`CPU ms/req`: CPU time of the server process (all its threads) and of the load generator "
        "over the measured seconds, per request. `load avg`: the machine's 1-minute load average "
        "before and after the measured seconds (this bench's own two processes add about 2; more is "
        "other users, who slow whichever mode they overlap). Batched options: "
        f"`{' '.join(report['modes']['batched']['serve_options']) or '(serve defaults)'}`.", "",
    ]
    save_report(path.with_suffix(".json"), report, "\n".join(lines))


def plot(path: Path, report: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(report["modes"])
    names = list(report["modes"][modes[0]]["scenarios"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / len(modes)
    for j, mode in enumerate(modes):
        runs = report["modes"][mode]["scenarios"]
        xs = np.arange(len(names)) + j * width
        axes[0].bar(xs, [runs[n]["throughput_rps"] for n in names], width, label=mode)
        for q, hatch in (("p50_ms", ""), ("p99_ms", "//")):
            axes[1].bar(xs + (width / 2 if q == "p99_ms" else 0), [runs[n][q] for n in names], width / 2,
                        label=f"{mode} {q[:3]}", hatch=hatch, color=f"C{j}", alpha=0.6 if hatch else 1.0)
    for ax, title in ((axes[0], "throughput (requests/s)"), (axes[1], "latency (ms)")):
        ax.set_xticks(np.arange(len(names)) + width * (len(modes) - 1) / 2, names)
        ax.set_title(title)
        ax.legend(fontsize=8)
    axes[1].axhline(TARGET_P99_MS, color="red", lw=1, ls="--")
    m = report["machine"]
    fig.suptitle(f"{report['clients']} clients, {report['items']} items; {report['command']}\n"
                 f"commit {report['commit']}, {m['date']}, {m['cpu_model']} ({m['nproc']} cores, shared)",
                 fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="dataset folder (default: UC Merced)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=25.0, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds per scenario")
    parser.add_argument("--query-images", type=int, default=50)
    parser.add_argument("--scenarios", default="image,id", help="comma-separated: image, id")
    parser.add_argument("--batch-options", default="", help="extra serve options of the batched mode")
    parser.add_argument("--work", type=Path, default=Path("/tmp/terrahash-bench-service"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    from terrahash.data import default_data_dir

    data = args.data or default_data_dir() / "scenes" / "ucmerced"
    args.work.mkdir(parents=True, exist_ok=True)
    index_dir = build_index(args.work, data, args.epochs, args.image_size)
    wanted = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    requests = {name: make for name, make in scenarios(data, args.query_images).items() if name in wanted}
    if "image" not in requests:
        raise SystemExit("--scenarios must include image (the targets are about image queries)")
    modes = {
        "unbatched": run_mode(index_dir, ["--no-batching"], requests, args, args.work / "unbatched.log"),
        "batched": run_mode(index_dir, shlex.split(args.batch_options), requests, args,
                            args.work / "batched.log"),
    }
    report = {
        **provenance(script_command(__file__)), "dataset": str(data),
        "epochs": args.epochs, "image_size": args.image_size, "items": modes["batched"]["items"],
        "bits": modes["batched"]["bits"], "clients": args.clients, "duration_s": args.duration,
        "warmup_s": args.warmup, "query_images": args.query_images, "modes": modes,
        "verdict": verdict(modes), "png": "service.png",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_markdown(args.out / "service.md", report)
    plot(args.out / "service.png", report)
    print((args.out / "service.md").read_text())


if __name__ == "__main__":
    main()
