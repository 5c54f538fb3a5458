"""A small pool of async PostgreSQL connections, one per event loop.

An async connection belongs to the event loop that opened it, and a store is
used from several loops: the caller's, and the background loop that runs the
sync twins. So the store keeps one pool per loop, each holding up to ``size``
connections; pools of loops that have closed are dropped on the next use.
A connection that saw an error or a cancellation is closed, not reused; one
that sat idle for a while is checked with an empty query before it is handed
out, so a server restart costs no failed request.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

__all__ = ["LoopPools"]

Connect = Callable[[], Awaitable[Any]]

PING_AFTER = 1.0  # seconds idle after which a connection is checked before use


class _Pool:
    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.loop = loop
        self.slots = asyncio.Semaphore(size)
        self.idle: list[tuple[Any, float]] = []  # (connection, idle since)
        self.closed = False


class LoopPools:
    """Connections for every loop a store is used from."""

    def __init__(self, connect: Connect, *, size: int) -> None:
        self._connect = connect
        self._size = size
        self._pools: dict[asyncio.AbstractEventLoop, _Pool] = {}
        self._lock = threading.Lock()  # loops on several threads share the dict

    def _pool(self) -> _Pool:
        loop = asyncio.get_running_loop()
        with self._lock:
            pool = self._pools.get(loop)
            if pool is None:
                for old in [p for p in self._pools.values() if p.loop.is_closed()]:
                    _drop(old)
                    del self._pools[old.loop]
                pool = self._pools[loop] = _Pool(loop, self._size)
            return pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """A connection to use for one operation (at most ``size`` at a time per loop)."""
        pool = self._pool()
        async with pool.slots:
            conn = None
            while pool.idle and conn is None:
                conn, since = pool.idle.pop()
                if not await _usable(conn, time.monotonic() - since):
                    conn = None
            if conn is None:
                conn = await self._connect()
            try:
                yield conn
            except BaseException:
                await conn.close()
                raise
            from psycopg.pq import TransactionStatus

            if pool.closed or conn.info.transaction_status != TransactionStatus.IDLE:
                await conn.close()
            else:
                pool.idle.append((conn, time.monotonic()))

    async def aclose(self) -> None:
        """Close every idle connection; pools reopen on the next use."""
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.closed = True
            if pool.loop is current:
                idle, pool.idle = pool.idle, []
                for conn, _ in idle:
                    await conn.close()
            else:
                _drop(pool)


def _drop(pool: _Pool) -> None:
    # the loop is gone or busy elsewhere: close the sockets directly (libpq's
    # finish), which an idle connection allows from any thread
    pool.closed = True
    idle, pool.idle = pool.idle, []
    for conn, _ in idle:
        conn.pgconn.finish()


async def _usable(conn: Any, idle_for: float) -> bool:
    import psycopg

    if conn.closed:
        return False
    if idle_for < PING_AFTER:
        return True
    try:
        await conn.execute("")
    except psycopg.Error:
        await conn.close()
        return False
    except BaseException:  # cancelled mid-check: the connection is in no known state
        await conn.close()
        raise
    return True
