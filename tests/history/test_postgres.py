"""The PostgreSQL store, on a real server: the contract, and what only a server
shared by many replicas can get wrong."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

import psycopg
import pytest

from ragstream.errors import ConfigError, MissingDependencyError, StoreError
from ragstream.history import PostgresChatHistory, open_history
from ragstream.history._postgres import migrate
from ragstream.history._schema import MIGRATIONS, Migration
from ragstream.messages import HumanMessage
from tests._postgres_server import PostgresServer, _free_port

from .contract import ALL_NAMES, HistoryContract


class TestPostgresContract(HistoryContract):
    store_type = PostgresChatHistory

    @pytest.fixture
    def location(self, postgres_dsn: str) -> str:
        # a fresh schema per test is 100x cheaper than a fresh database; the
        # search_path in the URL puts the store's tables there
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        return f"{postgres_dsn}?options=-csearch_path%3D{schema}"

    def migrate(self, location: str, migrations: list[Migration]) -> list[str]:
        async def run() -> list[str]:
            async with await psycopg.AsyncConnection.connect(location, autocommit=True) as conn:
                return await migrate(conn, migrations)

        return asyncio.run(run())

    def query(self, location: str, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        with psycopg.connect(location, autocommit=True) as conn:
            cur = conn.execute(statement.replace("?", "%s"), params)
            return cur.fetchall() if cur.description else []


def test_open_history_takes_both_url_schemes(postgres_dsn: str) -> None:
    assert isinstance(open_history(postgres_dsn), PostgresChatHistory)
    short = "postgres://" + postgres_dsn.split("://", 1)[1]
    with open_history(short) as store:
        store.add_messages("short-scheme", [("human", "q")])
        assert store.get_messages("short-scheme") == [HumanMessage("q")]


def test_an_unreachable_server_is_named_without_the_password() -> None:
    port = _free_port()
    store = PostgresChatHistory(f"postgresql://app:s3cret-pw@127.0.0.1:{port}/chatdb")
    with pytest.raises(StoreError) as caught:
        store.get_messages("s1")
    message = str(caught.value)
    assert f"postgresql://app@127.0.0.1:{port}/chatdb" in message
    assert "s3cret-pw" not in message and "s3cret-pw" not in repr(store)
    assert "s3cret-pw" not in "".join(map(str, [caught.value.__cause__, caught.value.__context__]))


def test_a_missing_database_is_named(postgres_server: PostgresServer) -> None:
    store = PostgresChatHistory(postgres_server.dsn("no_such_db"))
    with pytest.raises(StoreError, match=r"127\.0\.0\.1:\d+/no_such_db: .*does not exist"):
        store.add_messages("s1", [("human", "q")])


def test_bad_configuration_is_refused_before_any_connection() -> None:
    with pytest.raises(ConfigError, match="not a PostgreSQL connection string"):
        PostgresChatHistory("postgresql://host:notaport:x/db?bad")
    with pytest.raises(ConfigError, match="pool_size must be at least 1, not 0"):
        PostgresChatHistory("postgresql://localhost/db", pool_size=0)


def test_without_psycopg_the_error_names_the_extra_to_install() -> None:
    script = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from ragstream.history import open_history\n"
        "try:\n"
        "    open_history('postgresql://localhost/db')\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.stdout.strip() == (
        'MissingDependencyError psycopg is not installed; '
        'install it with: pip install "ragstream[postgres]"'
    )
    assert issubclass(MissingDependencyError, ImportError)


def test_replicas_starting_together_migrate_once(postgres_server: PostgresServer) -> None:
    dsn = postgres_server.create_database("replicas")

    async def main() -> None:
        stores = [PostgresChatHistory(dsn) for _ in range(6)]
        await asyncio.gather(
            *(s.aadd_messages(f"s{i}", [("human", "q")]) for i, s in enumerate(stores))
        )
        for store in stores:
            await store.aclose()

    asyncio.run(main())
    with psycopg.connect(dsn) as conn:
        names = [n for (n,) in conn.execute("SELECT name FROM _migrations ORDER BY name")]
        assert names == ALL_NAMES
        assert conn.execute("SELECT count(*) FROM chat_sessions").fetchone() == (6,)


def test_a_pool_caps_the_connections_per_loop(postgres_server: PostgresServer) -> None:
    dsn = postgres_server.create_database("pool")

    async def main() -> int:
        async with PostgresChatHistory(dsn, pool_size=2) as store:
            await asyncio.gather(
                *(store.aadd_messages("s", [("human", str(i))]) for i in range(20))
            )
            assert len(await store.aget_messages("s")) == 20
            with psycopg.connect(dsn) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid()"
                ).fetchone()
                assert row is not None
                return int(row[0])

    assert asyncio.run(main()) == 2


def test_a_server_restart_costs_no_failed_request(postgres_server: PostgresServer) -> None:
    dsn = postgres_server.create_database("restart")
    with PostgresChatHistory(dsn) as store:
        store.add_messages("s1", [("human", "before")])
        with psycopg.connect(dsn, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert killed == (1,)
        time.sleep(1.1)  # idle long enough to be checked before reuse
        store.add_messages("s1", [("ai", "after")])
        assert [m.content for m in store.get_messages("s1")] == ["before", "after"]


def test_migrate_with_a_partial_list_leaves_the_rest_pending(
    postgres_server: PostgresServer,
) -> None:
    dsn = postgres_server.create_database("partial")

    async def main() -> tuple[list[str], list[str], list[str]]:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            return (
                await migrate(conn, MIGRATIONS[:2]),
                await migrate(conn, MIGRATIONS),
                await migrate(conn, MIGRATIONS),
            )

    first, second, third = asyncio.run(main())
    assert first == ALL_NAMES[:2] and second == ALL_NAMES[2:] and third == []
