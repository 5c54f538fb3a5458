"""The SQLite store: migrations, reading, prefixes, deleting; and the
writer's queue, which drops and counts rather than hold a run up."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from ragstream.errors import InputError
from ragstream.tracing import Tracer, TraceStore, enable_tracing, get_trace, list_traces
from ragstream.tracing._schema import MIGRATIONS, migrate

from .conftest import simple_chain


def test_reading_a_missing_store_finds_nothing_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "traces.db"
    assert list_traces(path=path) == []
    assert get_trace("abc", path=path) is None
    assert TraceStore(path).match("ab") == []
    assert not path.parent.exists()


def test_migrations_run_once_and_are_recorded(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    assert migrate(conn) == [m.__name__ for m in MIGRATIONS]
    assert migrate(conn) == []

    def m999_extra() -> list[str]:
        return ["ALTER TABLE runs ADD COLUMN note TEXT"]

    assert migrate(conn, [*MIGRATIONS, m999_extra]) == ["m999_extra"]
    names = [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY name")]
    assert names == sorted([m.__name__ for m in MIGRATIONS] + ["m999_extra"])
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] in ("delete", "wal")


def test_the_file_is_in_wal_mode_and_readable_while_written(traced: Tracer) -> None:
    simple_chain().invoke({"input": "q"})
    assert traced.flush()
    with sqlite3.connect(traced.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_listing_order_limit_name_and_prefixes(traced: Tracer) -> None:
    for i in range(5):
        simple_chain().invoke({"input": f"q{i}"})
    simple_chain().with_config(run_name="named").invoke({"input": "n"})
    assert traced.flush()
    found = list_traces(limit=3, path=traced.path)
    assert [t.name for t in found] == ["named", "RunnableSequence", "RunnableSequence"]
    assert found[0].start_time >= found[1].start_time >= found[2].start_time
    assert [t.name for t in list_traces(name="named", path=traced.path)] == ["named"]
    with pytest.raises(InputError, match="limit"):
        list_traces(limit=0, path=traced.path)
    store = TraceStore(traced.path)
    trace_id = found[0].trace_id
    assert store.match(trace_id[:8]) == [trace_id]
    assert len(store.match("")) == 0
    assert store.get_trace(trace_id[:8]) is None  # the library wants the whole id
    assert store.delete_traces(trace_ids=[trace_id]) == 1
    assert store.get_trace(trace_id) is None
    assert store.delete_traces(older_than=0) == 5
    assert list_traces(path=traced.path) == []
    store.close()


def test_an_unwritable_store_is_reported_when_tracing_is_enabled(
    tmp_path: Path, restore_observer: None
) -> None:
    from ragstream.errors import StoreError

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot open the trace store"):
        enable_tracing(path=blocker / "traces.db")


def test_a_store_failing_later_is_counted_and_never_breaks_a_run(tmp_path: Path) -> None:
    from ragstream.core._run import get_observer, set_observer

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    tracer = Tracer(path=blocker / "traces.db")  # no start(): fails on the writer thread
    before = get_observer()
    set_observer(tracer)
    try:
        assert simple_chain("ok then").invoke({"input": "q"}) == "ok then"
        tracer.flush()
    finally:
        set_observer(before)
        tracer.close()
    assert tracer.failures >= 1 and "cannot open" in str(tracer.last_error)


def test_a_full_queue_drops_and_counts_and_never_blocks(tmp_path: Path,
                                                       restore_observer: None) -> None:
    tracer = enable_tracing(path=tmp_path / "traces.db", max_queue=40)
    # another connection holds the write lock: the writer waits on it
    blocker = sqlite3.connect(tracer.path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    chain = simple_chain("a b")
    chain.invoke({"input": "first"})
    assert not tracer.flush(timeout=0.5)  # the writer is stuck in its write
    done = threading.Event()

    def many() -> None:
        for i in range(50):
            chain.invoke({"input": f"q{i}"})
        done.set()

    worker = threading.Thread(target=many)
    worker.start()
    finished = done.wait(30)
    stuck = not tracer.flush(timeout=0.01)  # still stuck: the lock is still held
    blocker.execute("ROLLBACK")
    blocker.close()
    worker.join()
    assert finished and stuck  # 50 runs finished while nothing could be written
    # 8 events a run: 40 waited, the rest were dropped
    assert tracer.dropped == 50 * 8 - 40
    assert tracer.flush()
    found = list_traces(limit=100, path=tracer.path)
    assert len(found) == 1 + 40 // 8  # the first run, and the five that fitted
    assert {t.status for t in found} == {"ok"}
