"""Latency of the chat history stores, SQLite and PostgreSQL.

For each backend, medians of:
- appending one question/answer pair (sync twin and async method),
- the same statements run by hand with the driver, in one transaction
  (the floor the store is compared with: what it adds is validation,
  encoding and the hops between threads),
- reading a 20-message session (whole, and the last 6),
- listing 100 sessions,
and the throughput of 8 concurrent tasks appending to one session.

PostgreSQL runs on a private temporary server on 127.0.0.1 (the tests'
helper; needs the Debian ``postgresql`` package), with fsync off.

Run: python benchmarks/history.py [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ragstream.history import ChatHistoryStore, open_history

PAIR = [("human", "What is task decomposition?"),
        ("ai", "Task decomposition breaks a complicated task into smaller steps.")]


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def amedian_ms(fn: Callable[[], Awaitable[Any]], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def raw_sqlite(path: str) -> Callable[[], None]:
    from ragstream.history import _schema as sql
    from ragstream.history._sqlite import migrate

    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    migrate(conn)

    def write() -> None:
        at = datetime.now(UTC).isoformat()
        conn.execute("BEGIN IMMEDIATE")
        (last,) = conn.execute(sql.UPSERT_SESSION, ("s", PAIR[0][1], at, at, 2, 2)).fetchone()
        conn.executemany(sql.INSERT_MESSAGE, [
            ("s", last - 1 + i, kind, text, "{}", at) for i, (kind, text) in enumerate(PAIR)
        ])
        conn.execute("COMMIT")

    return write


def raw_postgres(dsn: str) -> Callable[[], None]:
    import psycopg

    from ragstream.history import _schema as sql
    from ragstream.history._postgres import migrate

    async def prepare() -> None:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as aconn:
            await migrate(aconn)

    asyncio.run(prepare())
    conn = psycopg.connect(dsn, autocommit=True)
    upsert, insert = (sql.UPSERT_SESSION.replace("?", "%s"),
                      sql.INSERT_MESSAGE.replace("?", "%s"))

    def write() -> None:
        at = datetime.now(UTC)
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(upsert, ("s", PAIR[0][1], at, at, 2, 2))  # type: ignore[arg-type]
            row = cur.fetchone()
            assert row is not None
            cur.executemany(insert, [  # type: ignore[arg-type]
                ("s", row[0] - 1 + i, kind, text, "{}", at) for i, (kind, text) in enumerate(PAIR)
            ])

    return write


def measure(name: str, location: str, raw: Callable[[], None], repeat: int) -> None:
    store = open_history(location)
    store.list_sessions()  # connect and migrate outside the timings
    store.add_messages("read", [PAIR[i % 2] for i in range(20)])
    for i in range(100):
        store.add_messages(f"listed-{i}", PAIR)

    append_sync = median_ms(lambda: store.add_messages("sync", PAIR), repeat)
    raw_ms = median_ms(raw, repeat)
    read_all = median_ms(lambda: store.get_messages("read"), repeat)
    read_last = median_ms(lambda: store.get_messages("read", limit=6), repeat)
    listing = median_ms(store.list_sessions, max(repeat // 5, 5))

    async def concurrent(store: ChatHistoryStore) -> tuple[float, float, float]:
        append_async = await amedian_ms(lambda: store.aadd_messages("async", PAIR), repeat)
        read_async = await amedian_ms(lambda: store.aget_messages("read"), repeat)

        async def writer(tag: str) -> None:
            for _ in range(50):
                await store.aadd_messages("busy", PAIR)

        start = time.perf_counter()
        await asyncio.gather(*(writer(str(t)) for t in range(8)))
        pairs_per_s = 8 * 50 / (time.perf_counter() - start)
        await store.aclose()
        return append_async, read_async, pairs_per_s

    append_async, read_async, pairs_per_s = asyncio.run(concurrent(store))
    store.close()
    print(f"\n{name}")
    print(f"  append a pair, sync twin        {append_sync:8.3f} ms")
    print(f"  append a pair, async            {append_async:8.3f} ms")
    print(f"  the same SQL by hand            {raw_ms:8.3f} ms   "
          f"(store / by hand: {append_sync / raw_ms:.2f}x)")
    print(f"  read 20 messages, sync          {read_all:8.3f} ms")
    print(f"  read 20 messages, async         {read_async:8.3f} ms")
    print(f"  read the last 6                 {read_last:8.3f} ms")
    print(f"  list 100 sessions               {listing:8.3f} ms")
    print(f"  8 concurrent writers, 1 session {pairs_per_s:8.0f} pairs/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "history.db")
        measure("SQLite (WAL, file on disk)", path, raw_sqlite(str(Path(folder) / "raw.db")),
                args.repeat)

    from tests._postgres_server import PostgresServer, find_bin_dir

    if find_bin_dir() is None:
        print("\nPostgreSQL: not installed (apt-get install -y postgresql); skipped")
        return
    server = PostgresServer.start()
    try:
        dsn = server.create_database("bench")
        measure("PostgreSQL (127.0.0.1, fsync off)", dsn, raw_postgres(dsn), args.repeat)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
