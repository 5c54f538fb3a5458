"""``PostgresChatHistory``: chat sessions in PostgreSQL, shared by server replicas.

Writers of one session take turns on its row in ``chat_sessions``: the upsert
that numbers the new messages locks that row until the transaction commits,
so concurrent writers (tasks, processes, replicas) never lose or interleave
each other's messages. Migrations run under an advisory lock, so replicas
starting together apply each one once.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ragstream.errors import ConfigError, MissingDependencyError, StoreError
from ragstream.history import _schema as sql
from ragstream.history._codec import Record
from ragstream.history._pool import LoopPools
from ragstream.history._schema import POSTGRES, Migration
from ragstream.history._store import ChatHistoryStore, MessageRow, SessionRow, now

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresChatHistory", "migrate"]

# pg_advisory_xact_lock key for migrations: "ragstrea" as a 64-bit int
_MIGRATION_LOCK = int.from_bytes(b"ragstrea", "big") & 0x7FFF_FFFF_FFFF_FFFF


def _pg(statement: str) -> str:
    return statement.replace("?", "%s")


class PostgresChatHistory(ChatHistoryStore):
    """Chat history in a PostgreSQL database (tables created on first use).

    >>> history = PostgresChatHistory("postgresql://app@db.internal:5432/chat")
    >>> history.add_messages("s1", [("human", "hi"), ("ai", "Hello!")])

    ``pool_size`` caps the connections open at once per event loop;
    ``connect_timeout`` is in seconds. Needs ``pip install "ragstream[postgres]"``.
    """

    def __init__(self, dsn: str, *, pool_size: int = 4, connect_timeout: float = 10.0) -> None:
        try:
            from psycopg.conninfo import conninfo_to_dict
        except ImportError as exc:
            raise MissingDependencyError("psycopg", "postgres") from exc
        import psycopg

        try:
            params = conninfo_to_dict(dsn)
        except psycopg.Error as exc:
            raise ConfigError(f"not a PostgreSQL connection string: {exc}") from None
        if pool_size < 1:
            raise ConfigError(f"pool_size must be at least 1, not {pool_size}")
        self.dsn = dsn
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self._password = str(params.get("password") or "")
        host = params.get("host") or params.get("hostaddr") or "localhost"
        self.where = (
            f"postgresql://{params.get('user') or ''}{'@' if params.get('user') else ''}"
            f"{host}:{params.get('port') or 5432}/{params.get('dbname') or ''}"
        )
        self._pools = LoopPools(self._connect, size=pool_size)
        self._migrated = False

    def __repr__(self) -> str:
        return f"PostgresChatHistory({self.where!r})"

    def _error(self, doing: str, exc: BaseException) -> StoreError:
        reason = str(exc).strip()
        if self._password:
            reason = reason.replace(self._password, "***")
        return StoreError(f"{doing} {self.where}: {reason}")

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        import psycopg

        try:
            conn = await psycopg.AsyncConnection.connect(
                self.dsn, autocommit=True, connect_timeout=max(1, round(self.connect_timeout))
            )
        except psycopg.Error as exc:
            raise self._error("cannot connect to the chat history database", exc) from None
        if not self._migrated:
            try:
                await migrate(conn)
            except BaseException:
                await conn.close()
                raise
            self._migrated = True
        return conn

    async def _execute(self, doing: str, work: Any) -> Any:
        import psycopg

        try:
            async with self._pools.connection() as conn:
                return await work(conn)
        except psycopg.Error as exc:
            raise self._error(f"chat history: failed to {doing} in", exc) from exc

    async def aclose(self) -> None:
        await self._pools.aclose()

    # -- rows --------------------------------------------------------------------

    async def _aread(self, session_id: str, limit: int | None) -> list[MessageRow]:
        async def read(conn: psycopg.AsyncConnection[Any]) -> list[MessageRow]:
            if limit is None:
                cur = await conn.execute(_pg(sql.READ_ALL), (session_id,))
            else:
                cur = await conn.execute(_pg(sql.READ_LAST), (session_id, limit))
            return await cur.fetchall()

        return await self._execute("read messages", read)  # type: ignore[no-any-return]

    async def _aappend(
        self, session_id: str, records: list[Record], *, title: str | None, at: datetime
    ) -> None:
        n = len(records)

        async def append(conn: psycopg.AsyncConnection[Any]) -> None:
            async with conn.transaction():
                cur = await conn.execute(
                    _pg(sql.UPSERT_SESSION), (session_id, title, at, at, n, n)
                )
                row = await cur.fetchone()
                assert row is not None  # RETURNING always gives the row
                first = row[0] - n + 1
                await cur.executemany(
                    _pg(sql.INSERT_MESSAGE),
                    [
                        (session_id, first + i, r.type, r.content, r.data, at)
                        for i, r in enumerate(records)
                    ],
                )

        await self._execute("add messages", append)

    async def _alist(self) -> list[SessionRow]:
        async def list_(conn: psycopg.AsyncConnection[Any]) -> list[SessionRow]:
            cur = await conn.execute(sql.LIST_SESSIONS)
            return await cur.fetchall()

        return await self._execute("list sessions", list_)  # type: ignore[no-any-return]

    async def _adelete(self, session_id: str) -> bool:
        async def delete(conn: psycopg.AsyncConnection[Any]) -> bool:
            async with conn.transaction():
                cur = await conn.execute(_pg(sql.DELETE_SESSION), (session_id,))
                found = cur.rowcount
                cur = await conn.execute(_pg(sql.DELETE_MESSAGES), (session_id,))
                return found + cur.rowcount > 0

        return await self._execute("delete a session", delete)  # type: ignore[no-any-return]

    async def _aclear(self) -> None:
        async def clear(conn: psycopg.AsyncConnection[Any]) -> None:
            # TRUNCATE locks both tables, so no writer slips in between them
            await conn.execute("TRUNCATE chat_sessions, chat_messages")

        await self._execute("clear", clear)


async def migrate(
    conn: psycopg.AsyncConnection[Any], migrations: list[Migration] | None = None
) -> list[str]:
    """Run the migrations ``conn``'s database has not had; return their names."""
    todo = sql.MIGRATIONS if migrations is None else migrations
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        await conn.execute(sql.CREATE_MIGRATIONS.format(ts=POSTGRES.timestamp))
        cur = await conn.execute(sql.SELECT_MIGRATIONS)
        applied = {name for (name,) in await cur.fetchall()}
        ran = []
        for migration in sql.pending(applied, todo):
            for statement in migration(POSTGRES):
                await conn.execute(statement)
            await conn.execute(_pg(sql.INSERT_MIGRATION), (migration.__name__, now()))
            ran.append(migration.__name__)
    return ran
