"""The tables, their migrations, and the statements both backends run on them.

Schema changes are an append-only list of small migration functions. Each
takes the backend's ``Dialect`` and returns its SQL statements; the name of
each one that ran is recorded in the ``_migrations`` table, in the same
transaction as its statements. Opening a store runs the ones not recorded
yet, so an old database is brought up to date and a current one is left
alone. Never edit or reorder a migration that has shipped: append a new one.

Statements use ``?`` placeholders; the PostgreSQL backend turns them into
``%s``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["MIGRATIONS", "POSTGRES", "SQLITE", "Dialect", "Migration", "pending"]


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the backends' SQL."""

    name: str
    timestamp: str  # column type of a point in time
    json: str  # column type of a JSON object


SQLITE = Dialect("sqlite", timestamp="TEXT", json="TEXT")  # ISO 8601 text sorts by time
POSTGRES = Dialect("postgres", timestamp="TIMESTAMPTZ", json="JSONB")

Migration = Callable[[Dialect], list[str]]
MIGRATIONS: list[Migration] = []


def _migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


CREATE_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at {ts} NOT NULL)"
)
SELECT_MIGRATIONS = "SELECT name FROM _migrations"
INSERT_MIGRATION = "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)"


def pending(applied: set[str], migrations: list[Migration]) -> list[Migration]:
    """The migrations whose names are not in ``applied``, in order."""
    return [m for m in migrations if m.__name__ not in applied]


@_migration
def m001_messages(d: Dialect) -> list[str]:
    # (session_id, seq) orders a session and refuses two messages in one place
    return [
        f"""CREATE TABLE chat_messages (
            session_id TEXT NOT NULL,
            seq BIGINT NOT NULL,
            type TEXT NOT NULL,
            content TEXT NOT NULL,
            data {d.json} NOT NULL,
            created_at {d.timestamp} NOT NULL,
            PRIMARY KEY (session_id, seq)
        )"""
    ]


@_migration
def m002_sessions(d: Dialect) -> list[str]:
    # last_seq hands out the next sequence numbers: the upsert that bumps it
    # locks the session's row, so concurrent writers take turns per session
    return [
        f"""CREATE TABLE chat_sessions (
            id TEXT PRIMARY KEY,
            title TEXT,
            created_at {d.timestamp} NOT NULL,
            updated_at {d.timestamp} NOT NULL,
            message_count BIGINT NOT NULL,
            last_seq BIGINT NOT NULL
        )""",
        """INSERT INTO chat_sessions
               (id, title, created_at, updated_at, message_count, last_seq)
           SELECT m.session_id,
                  (SELECT substr(h.content, 1, 200) FROM chat_messages h
                    WHERE h.session_id = m.session_id AND h.type = 'human'
                    ORDER BY h.seq LIMIT 1),
                  MIN(m.created_at), MAX(m.created_at), COUNT(*), MAX(m.seq)
             FROM chat_messages m GROUP BY m.session_id""",
    ]


@_migration
def m003_sessions_by_update(d: Dialect) -> list[str]:
    return ["CREATE INDEX chat_sessions_by_update ON chat_sessions (updated_at)"]


# -- the statements on the tables ------------------------------------------------

READ_ALL = "SELECT type, content, data FROM chat_messages WHERE session_id = ? ORDER BY seq"
READ_LAST = (
    "SELECT type, content, data FROM (SELECT seq, type, content, data FROM chat_messages"
    " WHERE session_id = ? ORDER BY seq DESC LIMIT ?) AS recent ORDER BY seq"
)
# Creates the session or bumps its counters; returns the last sequence number
# now taken, so the new messages are numbered last_seq - n + 1 ... last_seq.
UPSERT_SESSION = """
    INSERT INTO chat_sessions (id, title, created_at, updated_at, message_count, last_seq)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET
        title = COALESCE(chat_sessions.title, excluded.title),
        updated_at = excluded.updated_at,
        message_count = chat_sessions.message_count + excluded.message_count,
        last_seq = chat_sessions.last_seq + excluded.last_seq
    RETURNING last_seq"""
INSERT_MESSAGE = (
    "INSERT INTO chat_messages (session_id, seq, type, content, data, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
LIST_SESSIONS = (
    "SELECT id, title, created_at, updated_at, message_count FROM chat_sessions"
    " ORDER BY updated_at DESC, id"
)
# The session row first: deleting it waits for a writer that holds it, so the
# messages deleted next include that writer's.
DELETE_SESSION = "DELETE FROM chat_sessions WHERE id = ?"
DELETE_MESSAGES = "DELETE FROM chat_messages WHERE session_id = ?"
