"""``SQLiteChatHistory``: chat sessions in one SQLite file, the default store.

One connection per store, opened on first use and guarded by a lock; the
async methods run the blocking ``sqlite3`` calls in a worker thread. The file
is in WAL mode (readers never wait for a writer) with a busy timeout, and
every write is one ``BEGIN IMMEDIATE`` transaction, so several threads and
processes can share a file, and an interrupted program leaves whole writes
or none.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from ragstream.errors import StoreError
from ragstream.history import _schema as sql
from ragstream.history._codec import Record
from ragstream.history._schema import SQLITE, Migration
from ragstream.history._store import ChatHistoryStore, MessageRow, SessionRow, now

__all__ = ["SQLiteChatHistory", "migrate"]

T = TypeVar("T")

MEMORY = ":memory:"


class SQLiteChatHistory(ChatHistoryStore):
    """Chat history in a SQLite file (created, with its folder, on first use).

    >>> history = SQLiteChatHistory("~/.local/share/ragstream/history.db")
    >>> history.add_messages("s1", [("human", "hi"), ("ai", "Hello!")])

    ``":memory:"`` keeps the history in memory, for the life of the store.
    ``busy_timeout`` is how many seconds a write waits for another process's.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0) -> None:
        self.path: Path | str = MEMORY if str(path) == MEMORY else Path(path).expanduser()
        self.busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"SQLiteChatHistory({str(self.path)!r})"

    # -- the connection ----------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        conn = None
        try:
            if isinstance(self.path, Path):
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # autocommit (isolation_level=None): transactions are spelled out below
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None,
                check_same_thread=False,
            )
            _wal(conn, self.busy_timeout)
            # in WAL mode NORMAL loses no commit when the program dies, only
            # when the machine does
            conn.execute("PRAGMA synchronous=NORMAL")
            migrate(conn)
        except (sqlite3.Error, OSError) as exc:
            if conn is not None:
                conn.close()
            raise StoreError(f"cannot open the chat history {self.path}: {exc}") from exc
        return conn

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            if self._conn is None:
                self._conn = self._open()
            try:
                return fn(self._conn)
            except sqlite3.Error as exc:
                raise StoreError(f"chat history {self.path}: {exc}") from exc

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        # the worker thread finishes a started transaction even if this task
        # is cancelled, so a write is whole or absent
        return await asyncio.to_thread(self._call, fn)

    async def aclose(self) -> None:
        def close() -> None:
            with self._lock:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None

        await asyncio.to_thread(close)

    # -- rows --------------------------------------------------------------------

    async def _aread(self, session_id: str, limit: int | None) -> list[MessageRow]:
        def read(conn: sqlite3.Connection) -> list[MessageRow]:
            if limit is None:
                return conn.execute(sql.READ_ALL, (session_id,)).fetchall()
            return conn.execute(sql.READ_LAST, (session_id, limit)).fetchall()

        return await self._run(read)

    async def _aappend(
        self, session_id: str, records: list[Record], *, title: str | None, at: datetime
    ) -> None:
        stamp = at.isoformat(timespec="microseconds")
        n = len(records)

        def append(conn: sqlite3.Connection) -> None:
            with _write(conn):
                (last,) = conn.execute(
                    sql.UPSERT_SESSION, (session_id, title, stamp, stamp, n, n)
                ).fetchone()
                conn.executemany(
                    sql.INSERT_MESSAGE,
                    [
                        (session_id, last - n + 1 + i, r.type, r.content, r.data, stamp)
                        for i, r in enumerate(records)
                    ],
                )

        await self._run(append)

    async def _alist(self) -> list[SessionRow]:
        rows = await self._run(lambda conn: conn.execute(sql.LIST_SESSIONS).fetchall())
        return [
            (sid, title, datetime.fromisoformat(created), datetime.fromisoformat(updated), count)
            for sid, title, created, updated, count in rows
        ]

    async def _adelete(self, session_id: str) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            with _write(conn):
                found = conn.execute(sql.DELETE_SESSION, (session_id,)).rowcount
                found += conn.execute(sql.DELETE_MESSAGES, (session_id,)).rowcount
            return found > 0

        return await self._run(delete)

    async def _aclear(self) -> None:
        def clear(conn: sqlite3.Connection) -> None:
            with _write(conn):
                conn.execute("DELETE FROM chat_sessions")
                conn.execute("DELETE FROM chat_messages")

        await self._run(clear)


class _write:
    """A write transaction: ``BEGIN IMMEDIATE`` takes the write lock up front,
    so the busy timeout applies instead of a deadlock error later."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:
            self.conn.execute("ROLLBACK")


def migrate(conn: sqlite3.Connection, migrations: list[Migration] | None = None) -> list[str]:
    """Run the migrations ``conn``'s database has not had; return their names."""
    todo = sql.MIGRATIONS if migrations is None else migrations
    with _write(conn):
        conn.execute(sql.CREATE_MIGRATIONS.format(ts=SQLITE.timestamp))
        applied = {name for (name,) in conn.execute(sql.SELECT_MIGRATIONS)}
        ran = []
        for migration in sql.pending(applied, todo):
            for statement in migration(SQLITE):
                conn.execute(statement)
            conn.execute(sql.INSERT_MIGRATION, (migration.__name__, now().isoformat()))
            ran.append(migration.__name__)
    return ran


def _wal(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """Switch to WAL mode, waiting for other processes that hold the file.

    Changing the journal mode does not wait on the busy timeout as other
    statements do: two processes opening a new database at once can get
    "database is locked" at once, so wait here by hand.
    """
    deadline = time.monotonic() + busy_timeout
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
