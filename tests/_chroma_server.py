"""A real Chroma server for the tests, started once per test session.

The server is the ``chroma`` command installed with ``chromadb``
(``chroma run --host 127.0.0.1 --port <free port> --path <temporary folder>``);
the fixture waits for its heartbeat, and stops it and deletes its folder when
the session ends. Set ``RAGSTREAM_TEST_CHROMA_URL`` to use a server you
already run instead.

Fixture: ``chroma_server`` (the server's URL, e.g. ``http://127.0.0.1:41234``).
Register it in a conftest (or a test module) with::

    from tests._chroma_server import chroma_server  # noqa: F401

Registering it in several places still starts one server per test process.

Tests that share the server should use their own collection names (see
``unique_collection``), since a server outlives a test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

__all__ = ["chroma_server", "find_chroma_cli", "running_chroma_server", "unique_collection"]

ENV_URL = "RAGSTREAM_TEST_CHROMA_URL"
STARTUP_TIMEOUT = 60.0


def find_chroma_cli() -> str | None:
    """The ``chroma`` command beside this Python, else on ``PATH``."""
    beside = Path(sys.executable).parent / "chroma"
    if beside.exists():
        return str(beside)
    return shutil.which("chroma")


def unique_collection(prefix: str = "test") -> str:
    """A collection name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_heartbeat(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"chroma run exited with {process.returncode}:\n{log.read_text(errors='replace')}"
            )
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"chroma run gave no heartbeat in {STARTUP_TIMEOUT:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def running_chroma_server(folder: Path) -> Iterator[str]:
    """Run ``chroma run`` with its data in ``folder``; yield its URL while it runs."""
    cli = find_chroma_cli()
    if cli is None:
        pytest.skip("the chroma command (installed with chromadb) is not available")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = folder / "chroma.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [cli, "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(folder / "db")],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        _wait_for_heartbeat(url, process, log)
        yield url
    finally:
        _stop(process)


class _Shared:
    """One server per test process, however many conftests register the fixture."""

    url: str | None = None
    users = 0
    stop: Iterator[str] | None = None
    folder: Path | None = None


@pytest.fixture(scope="session")
def chroma_server() -> Iterator[str]:
    """The URL of a Chroma server running for the whole session."""
    given = os.environ.get(ENV_URL)
    if given:
        yield given.rstrip("/")
        return
    if _Shared.users == 0:
        _Shared.folder = Path(tempfile.mkdtemp(prefix="ragstream-chroma-"))
        _Shared.stop = running_chroma_server(_Shared.folder)
        _Shared.url = next(_Shared.stop)
    _Shared.users += 1
    try:
        assert _Shared.url is not None
        yield _Shared.url
    finally:
        _Shared.users -= 1
        if _Shared.users == 0:
            if _Shared.stop is not None:
                _Shared.stop.close()  # runs the generator's finally: stops the server
            if _Shared.folder is not None:
                shutil.rmtree(_Shared.folder, ignore_errors=True)
            _Shared.url = _Shared.stop = _Shared.folder = None
