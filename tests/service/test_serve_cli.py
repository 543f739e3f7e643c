"""`terrahash serve` as a real process: starts, answers, reloads on SIGHUP, stops on SIGINT."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from terrahash.cli import app


def test_serve_help_has_examples() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0 and "terrahash serve" in result.output


def test_serve_bad_index_fails_clearly(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "missing" in result.output and "Traceback" not in result.output


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="SIGHUP is POSIX only")
def test_serve_process_and_sighup_reload(index_dir: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "terrahash.cli", "serve", str(index_dir),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        before = None
        for _ in range(300):
            try:
                before = httpx.get(f"{url}/health", timeout=1).json()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert before is not None, "server did not start"
        assert before["items"] == 87
        proc.send_signal(signal.SIGHUP)
        for _ in range(100):
            after = httpx.get(f"{url}/health", timeout=5).json()
            if after["loaded_at"] != before["loaded_at"]:
                break
            time.sleep(0.1)
        assert after["loaded_at"] > before["loaded_at"]
        r = httpx.get(f"{url}/search", params={"id": "agricultural00", "k": 3}, timeout=10)
        assert r.status_code == 200 and r.json()["features"][0]["id"] == "agricultural00"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    assert proc.returncode == 0
