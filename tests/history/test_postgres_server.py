"""The tests' PostgreSQL helper: a clear failure without binaries, a clean stop."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from tests import _postgres_server
from tests._postgres_server import PostgresServer


def test_missing_binaries_fail_with_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_postgres_server, "BIN_GLOB", str(tmp_path / "none" / "*" / "bin"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pytest.fail.Exception) as failed:
        PostgresServer.start()
    assert "PostgreSQL is not installed" in str(failed.value)
    assert "apt-get update && apt-get install -y postgresql" in str(failed.value)


def test_the_session_server_listens_on_loopback_as_the_right_user(postgres_dsn: str) -> None:
    if os.environ.get(_postgres_server.ENV_DSN):
        pytest.skip(f"{_postgres_server.ENV_DSN} names a server this helper did not start")
    with psycopg.connect(postgres_dsn) as conn:
        row = conn.execute(
            "SELECT current_setting('listen_addresses'), pg_read_file('postmaster.pid')"
        ).fetchone()
    assert row is not None
    assert row[0] == "127.0.0.1"
    data_dir = Path(row[1].splitlines()[1])
    if os.geteuid() == 0:
        assert data_dir.owner() == "postgres"


def test_stop_ends_the_server_and_deletes_its_cluster() -> None:
    server = PostgresServer.start()
    folder = server._folder
    assert folder is not None and (folder / "data" / "PG_VERSION").exists()
    with psycopg.connect(server.dsn()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    server.stop()
    assert not folder.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.dsn(), connect_timeout=2)
    server.stop()  # a second stop does nothing
