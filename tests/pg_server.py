"""A real, throw-away PostgreSQL server for the tests (a pytest plugin module).

Test files import its fixtures: ``from tests.pg_server import pg_index_uri, pg_server``.
The server comes from Debian's packages: when ``initdb`` is missing and the tests run as
root, ``apt-get install postgresql postgresql-15-postgis-3`` is tried once.
PostgreSQL refuses to run as root, so the cluster belongs to an unprivileged OS user
(``terrahash-pg``, created if needed, else ``nobody``) and lives in a temp dir, listening
on a free loopback port. ``TERRAHASH_TEST_DSN`` points the tests at an existing server.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

DSN_ENV = "TERRAHASH_TEST_DSN"
PG_USER = "terrahash-pg"


def _bin_dir() -> Path | None:
    """The newest PostgreSQL server bin dir (Debian keeps them out of PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _apt_install() -> str | None:
    """Install the server (and PostGIS where the archive has it); returns why not, or None."""
    if os.geteuid() != 0:
        return "PostgreSQL server binaries (initdb) are not installed and tests do not run as root"
    if shutil.which("apt-get") is None:
        return "PostgreSQL server binaries are not installed and apt-get is not available"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "check": False}
    subprocess.run(["apt-get", "update", "-qq"], timeout=600, **quiet)
    done = subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], timeout=900, **quiet)
    if done.returncode != 0:
        return f"apt-get install postgresql failed: {done.stderr.decode(errors='replace')[-300:]}"
    subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql-15-postgis-3"], timeout=900,
                   **quiet)
    return None


def _os_user() -> str | None:
    """The unprivileged user to run the server as (None: the current, non-root, user)."""
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(KeyError):
        pwd.getpwnam(PG_USER)
        return PG_USER
    made = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/bin/false",
                           PG_USER], capture_output=True, check=False)
    return PG_USER if made.returncode == 0 else "nobody"


def _as_user(user: str | None, cmd: list[str]) -> list[str]:
    if user is None:
        return cmd
    if shutil.which("runuser"):
        return ["runuser", "-u", user, "--", *cmd]
    return ["su", "-s", "/bin/sh", user, "-c", " ".join(cmd)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateServer:
    """A cluster in a temp dir, run by ``pg_ctl``; ``stop``/``start`` keep its port and data."""

    def __init__(self, bin_dir: Path, user: str | None) -> None:
        self.bin_dir, self.user = bin_dir, user
        self.root = Path(tempfile.mkdtemp(prefix="terrahash-pg-"))
        self.data, self.log = self.root / "data", self.root / "server.log"
        if user is not None:
            shutil.chown(self.root, user=user)
        self.root.chmod(0o700)
        self.port = _free_port()
        self.base = f"postgresql://postgres@127.0.0.1:{self.port}"
        self.running = False

    def run(self, *cmd: str) -> None:
        done = subprocess.run(_as_user(self.user, list(cmd)), capture_output=True, timeout=120,
                              check=False)
        if done.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.decode()}\n{tail}")

    def init(self) -> None:
        self.run(str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                 "-E", "UTF8", "--no-sync", "--no-instructions")

    def start(self) -> None:
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=60 -c shared_buffers=128MB")
        self.run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", opts,
                 "-w", "-t", "60", "start")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: sessions are closed, as in a restart or a failover)."""
        self.run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")
        self.running = False

    def remove(self) -> None:
        if self.running:
            with contextlib.suppress(Exception):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def private_server() -> Iterator[PrivateServer]:
    """Start a private server with a database ``terrahash`` (skips when none can be had);
    stop and delete it after."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install terrahash[postgres])")
    bin_dir = _bin_dir()
    if bin_dir is None:
        reason = _apt_install()
        bin_dir = _bin_dir()
        if bin_dir is None:
            pytest.skip(f"cannot run a PostgreSQL server: {reason or 'install found no initdb'}")
    server = PrivateServer(bin_dir, _os_user())
    try:
        server.init()
        server.start()
        import psycopg

        with psycopg.connect(f"{server.base}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE terrahash")
        yield server
    finally:
        server.remove()


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a private server and yield a DSN for a fresh database; stop and delete it after."""
    with private_server() as server:
        yield f"{server.base}/terrahash"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """DSN of a database on a real PostgreSQL server (skips only if none can be had)."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install terrahash[postgres])")
    if os.environ.get(DSN_ENV):
        yield os.environ[DSN_ENV]
        return
    with postgres_server() as dsn:
        yield dsn


@pytest.fixture
def pg_index_uri(pg_server: str) -> str:
    """A location for a new, empty index: the test database plus a unique schema."""
    return f"{pg_server}?schema=t_{uuid.uuid4().hex[:12]}"
