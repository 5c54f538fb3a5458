"""A real PostgreSQL server for the tests, started once per test session.

The server binaries come from the Debian package ``postgresql`` (found in
``/usr/lib/postgresql/*/bin``, else on ``PATH``). The server runs from a
temporary cluster (``initdb`` with trust authentication), listens on
127.0.0.1 on a free port, and is stopped, its folder deleted, when the
session ends. PostgreSQL refuses to run as root, so under root the cluster
belongs to the ``postgres`` system user and the server runs as that user.

Set ``RAGSTREAM_TEST_POSTGRES_DSN`` to use a server you already run instead.

Fixtures: ``postgres_server`` (a ``PostgresServer``: ``dsn()``,
``create_database()``) and ``postgres_dsn`` (a database made for the session).
Register them in a conftest with::

    from tests._postgres_server import postgres_dsn, postgres_server  # noqa: F401
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["PostgresServer", "find_bin_dir", "postgres_dsn", "postgres_server"]

BIN_GLOB = "/usr/lib/postgresql/*/bin"
INSTALL = "apt-get update && apt-get install -y postgresql"
ENV_DSN = "RAGSTREAM_TEST_POSTGRES_DSN"


def find_bin_dir() -> Path | None:
    """The folder holding ``initdb`` and ``postgres``, newest version first."""
    found = [Path(p) for p in glob.glob(BIN_GLOB) if (Path(p) / "initdb").exists()]
    found.sort(key=lambda p: _version(p.parent.name), reverse=True)
    if found:
        return found[0]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """A PostgreSQL server the tests may use as they like."""

    def __init__(self, *, host: str, port: int, user: str = "postgres",
                 base_dsn: str | None = None) -> None:
        self.host = host
        self.port = port
        self.user = user
        self._base_dsn = base_dsn
        self._process: subprocess.Popen[bytes] | None = None
        self._folder: Path | None = None

    def dsn(self, dbname: str = "postgres") -> str:
        """A connection URL to database ``dbname`` (no password: trust auth)."""
        if self._base_dsn is not None:
            from psycopg.conninfo import conninfo_to_dict, make_conninfo

            return make_conninfo("", **{**conninfo_to_dict(self._base_dsn), "dbname": dbname})
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    def create_database(self, prefix: str = "test") -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        admin = self._base_dsn if self._base_dsn is not None else self.dsn()
        with psycopg.connect(admin, autocommit=True) as conn:
            # a file copy of the template is 6x faster than the WAL-logged default
            strategy = " STRATEGY FILE_COPY" if conn.info.server_version >= 150000 else ""
            conn.execute(f'CREATE DATABASE "{name}"{strategy}')
        return self.dsn(name)

    # -- a private cluster ---------------------------------------------------------

    @classmethod
    def start(cls) -> PostgresServer:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            pytest.fail(
                f"PostgreSQL is not installed (no initdb in {BIN_GLOB} or on PATH); "
                f"install it with: {INSTALL}",
                pytrace=False,
            )
        as_root = os.geteuid() == 0
        user = "postgres" if as_root else None
        folder = Path(tempfile.mkdtemp(prefix="ragstream-pg-"))
        if as_root:
            try:
                shutil.chown(folder, "postgres", "postgres")
            except LookupError:
                shutil.rmtree(folder)
                pytest.fail(
                    "running as root, but there is no 'postgres' user to run PostgreSQL "
                    f"as; install the Debian package: {INSTALL}",
                    pytrace=False,
                )
        run_as: dict[str, Any] = (
            {"user": "postgres", "group": "postgres", "extra_groups": []} if user else {}
        )
        env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "LANG": "C"}
        data = folder / "data"
        init = subprocess.run(
            [bin_dir / "initdb", "-D", data, "-U", "postgres", "-A", "trust",
             "-E", "UTF8", "--no-sync", "--no-instructions"],
            cwd=folder, env=env, capture_output=True, **run_as,
        )
        if init.returncode != 0:
            shutil.rmtree(folder, ignore_errors=True)
            pytest.fail(f"initdb failed:\n{init.stdout.decode()}{init.stderr.decode()}",
                        pytrace=False)
        port = _free_port()
        command = [
            str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(folder),
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
            "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=200",
        ]
        setpriv = shutil.which("setpriv")
        if setpriv:
            # the server dies with the test process, even one killed with SIGKILL
            prefix = [setpriv, "--pdeathsig", "SIGINT"]
            if user:
                prefix += ["--reuid=postgres", "--regid=postgres", "--init-groups"]
            command = [*prefix, "--", *command]
            run_as = {}
        log = open(folder / "server.log", "wb")  # noqa: SIM115 - lives with the server
        process = subprocess.Popen(
            command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, **run_as,
        )
        log.close()
        server = cls(host="127.0.0.1", port=port)
        server._process, server._folder = process, folder
        server._wait_ready(folder / "server.log")
        return server

    def _wait_ready(self, log: Path) -> None:
        import psycopg

        assert self._process is not None
        deadline = time.monotonic() + 60
        while True:
            try:
                psycopg.connect(self.dsn(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                output = log.read_text(errors="replace")
                self.stop()
                pytest.fail(f"the test PostgreSQL server did not start:\n{output}",
                            pytrace=False)
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its cluster; idempotent."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        folder, self._folder = self._folder, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


_lock = threading.Lock()
_shared: PostgresServer | None = None


def _server() -> PostgresServer:
    # one server per process, however many conftests register the fixture
    global _shared
    with _lock:
        if _shared is None:
            dsn = os.environ.get(ENV_DSN)
            if dsn:
                from psycopg.conninfo import conninfo_to_dict

                params = conninfo_to_dict(dsn)
                _shared = PostgresServer(
                    host=str(params.get("host", "")), port=int(params.get("port") or 5432),
                    user=str(params.get("user", "")), base_dsn=dsn,
                )
            else:
                _shared = PostgresServer.start()
        return _shared


def _stop() -> None:
    global _shared
    with _lock:
        if _shared is not None:
            _shared.stop()
            _shared = None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A running PostgreSQL server, for the whole session."""
    yield _server()
    _stop()


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server: PostgresServer) -> str:
    """The URL of an empty database made for this session."""
    return postgres_server.create_database("ragstream")
