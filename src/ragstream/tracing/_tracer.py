"""``Tracer``: the observer that records every run, off the event loop.

The engine calls ``on_event`` on the loop that runs the chain, for each
run's start and end. All it does is append ``(time, event)`` to a bounded
queue, well under a microsecond; when the queue is full the event is
dropped and counted, so tracing never holds a run up. One writer thread
wakes every ``flush_interval`` seconds (sooner when the queue fills up),
folds the events into run records, writes them to the SQLite store in one
transaction per batch, and hands the finished ones to the OTLP exporter.

The objects an event carries (inputs, outputs) are read on the writer
thread, a fraction of a second later: a step that changes its input in
place after it ran may be recorded with the change.

At exit (``atexit``) the queue is written out, runs that never ended are
closed as ``cancelled``, and waiting spans are sent, so a short script
loses nothing.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import deque
from pathlib import Path
from typing import Any

from ragstream.tracing._otlp import OTLPExport
from ragstream.tracing._runs import RunAssembler, RunRecord
from ragstream.tracing._store import TraceStore

__all__ = ["Tracer"]

logger = logging.getLogger("ragstream.tracing")

_EXIT_REASON = "the program exited before the run ended"


class _Flush:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class Tracer:
    """Records every run the engine reports: to a SQLite file, and to an
    OpenTelemetry collector when ``otlp_endpoint`` is given.

    >>> from ragstream.tracing import enable_tracing, list_traces
    >>> tracer = enable_tracing(path="traces.db")   # a Tracer, installed
    >>> chain.invoke({"input": "What is task decomposition?"})
    >>> tracer.flush()
    >>> list_traces(limit=1, path="traces.db")[0].name
    'retrieval_chain'

    ``path=None`` uses ``RAGSTREAM_TRACES_DB``, else ``$RAGSTREAM_HOME/traces.db``;
    ``local=False`` keeps nothing locally (export only). ``field_size`` caps
    each recorded input, output and metadata at about that many characters.
    ``max_queue`` events may wait for the writer; more are dropped and
    counted in ``dropped``.
    """

    def __init__(
        self,
        *,
        path: str | Path | None = None,
        otlp_endpoint: str | None = None,
        local: bool = True,
        field_size: int = 10_000,
        max_queue: int = 10_000,
        flush_interval: float = 0.25,
    ) -> None:
        from ragstream.errors import ConfigError

        if field_size < 100:
            raise ConfigError(f"field_size must be at least 100 characters, not {field_size}")
        if max_queue < 1:
            raise ConfigError(f"max_queue must be positive, not {max_queue}")
        if flush_interval <= 0:
            raise ConfigError(f"flush_interval must be positive, not {flush_interval}")
        if not local and not otlp_endpoint:
            raise ConfigError("a tracer with local=False needs an otlp_endpoint to send to")
        if local:
            from ragstream.tracing._setup import default_traces_path

            self.path: Path | None = Path(path).expanduser() if path else default_traces_path()
        else:
            self.path = None
        self.otlp_endpoint = otlp_endpoint
        self.field_size = field_size
        self.max_queue = max_queue
        self.flush_interval = flush_interval
        self._queue: deque[Any] = deque()
        self._wake_at = max(1, max_queue // 2)
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._store: TraceStore | None = None
        self._export: OTLPExport | None = None
        self._closed = False
        self._stopping = False
        self._abandon = False
        self._dropped = 0
        self._failures = 0
        self.last_error: BaseException | None = None

    def __repr__(self) -> str:
        where = [str(self.path)] if self.path else []
        if self.otlp_endpoint:
            where.append(f"otlp={self.otlp_endpoint}")
        return f"Tracer({', '.join(where)})"

    @property
    def dropped(self) -> int:
        """Events dropped because the queue was full."""
        return self._dropped

    @property
    def failures(self) -> int:
        """Batches the store or the exporter failed to take (see ``last_error``)."""
        return self._failures

    # -- the observer --------------------------------------------------------------

    def on_event(self, event: dict[str, Any], run_type: str) -> None:
        """Queue a run's start or end event; never blocks, never raises."""
        if self._closed:  # runs started before close() still report here
            return
        try:
            queue = self._queue
            if self._thread is None:
                self._start_thread()
            if len(queue) >= self.max_queue:
                with self._lock:
                    self._dropped += 1
                return
            queue.append((time.time_ns(), event, run_type))
            if len(queue) >= self._wake_at:
                self._wake.set()
        except Exception:  # tracing must never break the run it watches
            with self._lock:
                self._dropped += 1

    # -- life cycle ----------------------------------------------------------------

    def start(self) -> Tracer:
        """Open the store and connect the exporter now, so a bad path or a
        missing package is reported here rather than in the background."""
        with self._lock:
            if self._store is None and self.path is not None:
                store = TraceStore(self.path)
                store.open()
                self._store = store
            if self._export is None and self.otlp_endpoint:
                export = OTLPExport(self.otlp_endpoint)
                export.start()
                self._export = export
        self._start_thread()
        return self

    def _start_thread(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            thread = threading.Thread(target=self._work, name="ragstream-tracing", daemon=True)
            self._thread = thread
            _LIVE.add(self)
            atexit.register(self._at_exit)
            thread.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Write every event queued so far (and send the spans); false if that
        took longer than ``timeout`` seconds. Call it from sync code."""
        if self._thread is None or not self._thread.is_alive():
            return True
        marker = _Flush()
        self._queue.append(marker)
        self._wake.set()
        deadline = time.monotonic() + timeout
        done = marker.done.wait(timeout)
        if done and self._export is not None:
            done = self._export.flush(max(0.0, deadline - time.monotonic()))
        return done

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, stop the writer and let go of the store.

        Runs still going on keep reporting to this tracer; it ignores them."""
        self._shutdown(timeout, abandon=False)

    def _at_exit(self) -> None:
        self._shutdown(10.0, abandon=True)

    def _shutdown(self, timeout: float, *, abandon: bool) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        atexit.unregister(self._at_exit)
        if thread is not None:
            self._abandon = abandon
            self._stopping = True
            self._wake.set()
            thread.join(timeout)
        if self._export is not None:
            try:
                self._export.close()
            except Exception as exc:
                self._failed(exc, "the OTLP exporter")
        if self._store is not None:
            self._store.close()

    # -- the writer thread ---------------------------------------------------------

    def _work(self) -> None:
        assembler = RunAssembler(field_size=self.field_size)
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            stopping = self._stopping
            self._drain(assembler)
            if stopping:
                if self._abandon:
                    self._write(assembler.close_all(time.time_ns(), _EXIT_REASON))
                return

    def _drain(self, assembler: RunAssembler) -> None:
        queue = self._queue
        changed: dict[str, RunRecord] = {}
        waiting: list[_Flush] = []
        while queue:
            item = queue.popleft()
            if isinstance(item, _Flush):
                waiting.append(item)
                continue
            try:
                for rec in assembler.add(*item):
                    changed[rec.run_id] = rec
            except Exception as exc:
                self._failed(exc, "an event")
            if len(changed) >= 1000:
                self._write(list(changed.values()))
                changed = {}
        self._write(list(changed.values()))
        for marker in waiting:
            marker.done.set()

    def _write(self, records: list[RunRecord]) -> None:
        if not records:
            return
        if self.path is not None:
            try:
                if self._store is None:
                    self._store = TraceStore(self.path)
                self._store.write(records)
            except Exception as exc:
                self._failed(exc, f"the trace store {self.path}")
        if self.otlp_endpoint:
            try:
                if self._export is None:
                    self._export = OTLPExport(self.otlp_endpoint)
                self._export.export([r for r in records if r.end_ns is not None])
            except Exception as exc:
                self._failed(exc, f"the OTLP exporter ({self.otlp_endpoint})")

    def _failed(self, exc: BaseException, what: str) -> None:
        with self._lock:
            self._failures += 1
            first = self.last_error is None
            self.last_error = exc
        if first:  # once: a broken store would otherwise log every quarter second
            logger.warning("ragstream tracing: %s failed: %s", what, exc)

    def _after_fork(self) -> None:
        # the writer thread does not exist in a forked child: start afresh there
        self._queue = deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread = None
        self._store = None
        self._export = None


_LIVE: weakref.WeakSet[Tracer] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for tracer in list(_LIVE):
        tracer._after_fork()


os.register_at_fork(after_in_child=_reset_after_fork)
