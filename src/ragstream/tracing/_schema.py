"""The trace store's table, its migrations, and the statements run on it.

Schema changes are an append-only list of small migration functions; the
name of each one that ran is recorded in ``_migrations`` in the same
transaction as its statements. Opening a store runs the ones not recorded
yet. Never edit or reorder a migration that has shipped: append a new one.

Times are integer nanoseconds since the epoch (UTC); in the ``sqlite3``
shell, ``datetime(start_ns / 1e9, 'unixepoch')`` shows one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["COLUMNS", "MIGRATIONS", "Migration", "migrate"]

Migration = Callable[[], list[str]]
MIGRATIONS: list[Migration] = []


def _migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


@_migration
def m001_runs() -> list[str]:
    return [
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            trace_id TEXT NOT NULL,
            parent_id TEXT,
            name TEXT NOT NULL,
            run_type TEXT NOT NULL,
            status TEXT NOT NULL,
            start_ns INTEGER NOT NULL,
            end_ns INTEGER,
            latency_s REAL,
            first_chunk_s REAL,
            tags TEXT NOT NULL,
            metadata TEXT,
            inputs TEXT,
            outputs TEXT,
            error_type TEXT,
            error_message TEXT,
            input_tokens INTEGER,
            output_tokens INTEGER,
            total_tokens INTEGER,
            model TEXT,
            truncated INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX runs_by_trace ON runs (trace_id)",
        # the listing reads roots newest first
        "CREATE INDEX roots_by_start ON runs (start_ns) WHERE parent_id IS NULL",
    ]


COLUMNS = (
    "run_id", "trace_id", "parent_id", "name", "run_type", "status", "start_ns", "end_ns",
    "latency_s", "first_chunk_s", "tags", "metadata", "inputs", "outputs", "error_type",
    "error_message", "input_tokens", "output_tokens", "total_tokens", "model", "truncated",
)

# A run is written when it starts (so a long one shows while it runs) and
# again when it ends: the later row replaces the earlier one whole.
UPSERT_RUN = (
    f"INSERT INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    " ON CONFLICT (run_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
)
SELECT_RUNS = f"SELECT {', '.join(COLUMNS)} FROM runs WHERE trace_id = ? ORDER BY start_ns"
LIST_ROOTS = (
    "SELECT run_id, name, run_type, status, start_ns, latency_s, error_type FROM runs"
    " WHERE parent_id IS NULL{where} ORDER BY start_ns DESC LIMIT ?"
)
TOTALS = (
    "SELECT trace_id, COUNT(*), COALESCE(SUM(input_tokens), 0),"
    " COALESCE(SUM(output_tokens), 0), COALESCE(SUM(total_tokens), 0)"
    " FROM runs WHERE trace_id IN ({marks}) GROUP BY trace_id"
)
MATCH_TRACES = (
    "SELECT DISTINCT trace_id FROM runs WHERE trace_id >= ? AND trace_id < ? LIMIT 2"
)
DELETE_TRACE = "DELETE FROM runs WHERE trace_id = ?"
OLD_TRACES = "SELECT run_id FROM runs WHERE parent_id IS NULL AND start_ns < ?"


def migrate(conn: sqlite3.Connection, migrations: list[Migration] | None = None) -> list[str]:
    """Run the migrations ``conn``'s database has not had; return their names."""
    todo = MIGRATIONS if migrations is None else migrations
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS _migrations"
                     " (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        applied = {name for (name,) in conn.execute("SELECT name FROM _migrations")}
        ran = []
        for migration in todo:
            if migration.__name__ in applied:
                continue
            for statement in migration():
                conn.execute(statement)
            conn.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                (migration.__name__, datetime.now(UTC).isoformat()),
            )
            ran.append(migration.__name__)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return ran
