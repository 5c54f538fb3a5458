"""``TraceStore``: run records in one SQLite file, and reading them back.

The tracer's writer thread is the only writer in a process; it writes a
batch of records per transaction. The file is in WAL mode, so the CLI (or
any reader) can list traces while a server keeps writing them, and several
processes can share one file (writes wait for each other, up to
``busy_timeout``). Reading a file that does not exist finds nothing and
creates nothing.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from ragstream.errors import StoreError
from ragstream.tracing import _schema as sql
from ragstream.tracing._runs import RunRecord, TraceSummary

__all__ = ["TraceStore"]

T = TypeVar("T")


class TraceStore:
    """The traces in a SQLite file.

    >>> store = TraceStore("~/.local/share/ragstream/traces.db")
    >>> for summary in store.list_traces(limit=5):
    ...     print(summary.name, summary.status, summary.latency_s)
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path).expanduser()
        self.busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"TraceStore({str(self.path)!r})"

    # -- the connection ----------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        conn = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None,
                check_same_thread=False,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # loses nothing unless the machine dies
            sql.migrate(conn)
        except (sqlite3.Error, OSError) as exc:
            if conn is not None:
                conn.close()
            raise StoreError(f"cannot open the trace store {self.path}: {exc}") from exc
        return conn

    def _call(self, fn: Callable[[sqlite3.Connection], T], *, create: bool) -> T | None:
        with self._lock:
            if self._conn is None:
                if not create and not self.path.exists():
                    return None
                self._conn = self._open()
            try:
                return fn(self._conn)
            except sqlite3.Error as exc:
                raise StoreError(f"trace store {self.path}: {exc}") from exc

    def open(self) -> None:
        """Create the file (and its folder) and bring its tables up to date now."""
        self._call(lambda conn: None, create=True)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- writing -----------------------------------------------------------------

    def write(self, records: Iterable[RunRecord]) -> None:
        """Insert or replace these runs, in one transaction."""
        rows = [_row(r) for r in records]
        if not rows:
            return

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(sql.UPSERT_RUN, rows)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        self._call(write, create=True)

    def delete_traces(self, *, older_than: float | None = None,
                      trace_ids: Iterable[str] = ()) -> int:
        """Delete whole traces: those started more than ``older_than`` seconds
        ago, and those named; return how many."""

        def delete(conn: sqlite3.Connection) -> int:
            ids = set(trace_ids)
            if older_than is not None:
                cutoff = time.time_ns() - int(older_than * 1e9)
                ids.update(r for (r,) in conn.execute(sql.OLD_TRACES, (cutoff,)))
            conn.execute("BEGIN IMMEDIATE")
            try:
                found = 0
                for trace_id in ids:
                    found += conn.execute(sql.DELETE_TRACE, (trace_id,)).rowcount > 0
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return found

        return self._call(delete, create=False) or 0

    # -- reading -----------------------------------------------------------------

    def list_traces(self, limit: int = 20, name: str | None = None) -> list[TraceSummary]:
        """The latest ``limit`` traces (those whose root is named ``name``), newest first."""
        if limit <= 0:
            from ragstream.errors import InputError

            raise InputError(f"limit must be positive, not {limit}")

        def read(conn: sqlite3.Connection) -> list[TraceSummary]:
            where, args = ("", [limit]) if name is None else (" AND name = ?", [name, limit])
            roots = conn.execute(sql.LIST_ROOTS.format(where=where), args).fetchall()
            if not roots:
                return []
            ids = [r[0] for r in roots]
            totals = {
                row[0]: row[1:] for row in conn.execute(
                    sql.TOTALS.format(marks=", ".join("?" * len(ids))), ids
                )
            }
            out = []
            for run_id, rname, run_type, status, start_ns, latency, error_type in roots:
                runs, tin, tout, ttotal = totals.get(run_id, (1, 0, 0, 0))
                out.append(TraceSummary(
                    trace_id=run_id, name=rname, run_type=run_type, status=status,
                    start_time=datetime.fromtimestamp(start_ns / 1e9, UTC), latency_s=latency,
                    runs=runs, input_tokens=tin, output_tokens=tout, total_tokens=ttotal,
                    error_type=error_type,
                ))
            return out

        return self._call(read, create=False) or []

    def match(self, prefix: str) -> list[str]:
        """The trace ids that start with ``prefix`` (at most two: one, or ambiguous)."""
        if not prefix:
            return []
        rows = self._call(
            lambda conn: conn.execute(sql.MATCH_TRACES, (prefix, prefix + "\U0010ffff"))
            .fetchall(),
            create=False,
        )
        return [r[0] for r in rows or []]

    def get_trace(self, trace_id: str) -> RunRecord | None:
        """The root run of trace ``trace_id`` with every run below it, or ``None``."""
        rows = self._call(
            lambda conn: conn.execute(sql.SELECT_RUNS, (trace_id,)).fetchall(), create=False
        )
        if not rows:
            return None
        records = [_record(row) for row in rows]
        by_id = {r.run_id: r for r in records}
        roots = []
        for rec in records:
            parent = by_id.get(rec.parent_id) if rec.parent_id else None
            if parent is None:
                roots.append(rec)  # the root, or a run whose parent was not recorded
            else:
                parent.children.append(rec)
        root = by_id.get(trace_id)
        if root is None:
            root = roots[0]
        for orphan in roots:
            if orphan is not root:
                root.children.append(orphan)
        for rec in records:
            if len(rec.children) > 1:
                rec.children.sort(key=_order)
        return root


def _order(rec: RunRecord) -> tuple[int, int]:
    # a sequence's steps in their order: a streamed later step starts pulling
    # from the one before it first
    for tag in rec.tags:
        if tag.startswith("seq:step:") and tag[9:].isdigit():
            return int(tag[9:]), rec.start_ns
    return 0, rec.start_ns


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _row(r: RunRecord) -> tuple[Any, ...]:
    usage = r.usage or {}
    return (
        r.run_id, r.trace_id, r.parent_id, r.name, r.run_type, r.status, r.start_ns, r.end_ns,
        r.latency_s, r.first_chunk_s, _dump(r.tags), r.metadata_json, r.inputs_json,
        r.outputs_json, r.error_type, r.error_message, usage.get("input_tokens"),
        usage.get("output_tokens"), usage.get("total_tokens"), r.model, int(r.truncated),
    )


def _record(row: tuple[Any, ...]) -> RunRecord:
    (run_id, trace_id, parent_id, name, run_type, status, start_ns, end_ns, latency,
     first, tags, metadata, inputs, outputs, error_type, error_message, tin, tout, ttotal,
     model, truncated) = row
    usage = {k: v for k, v in (("input_tokens", tin), ("output_tokens", tout),
                               ("total_tokens", ttotal)) if v is not None}
    return RunRecord(
        run_id=run_id, trace_id=trace_id, parent_id=parent_id, name=name, run_type=run_type,
        status=status, start_ns=start_ns, end_ns=end_ns, latency_s=latency,
        first_chunk_s=first, tags=json.loads(tags) if tags else [], metadata_json=metadata,
        inputs_json=inputs, outputs_json=outputs, error_type=error_type,
        error_message=error_message, usage=usage or None, model=model,
        truncated=bool(truncated),
    )
