"""Turning tracing on and off, from code or from the environment, and
reading what it recorded.

    RAGSTREAM_TRACING=1                 record every run (LANGCHAIN_TRACING_V2=true too)
    RAGSTREAM_TRACES_DB=PATH            where (default $RAGSTREAM_HOME/traces.db); off: nowhere
    RAGSTREAM_OTLP_ENDPOINT=URL         also send spans to an OpenTelemetry collector
    OTEL_EXPORTER_OTLP_ENDPOINT=URL     the same, read when the first is not set
"""

from __future__ import annotations

import os
from pathlib import Path

from ragstream.tracing._runs import RunRecord, TraceSummary
from ragstream.tracing._store import TraceStore
from ragstream.tracing._tracer import Tracer

__all__ = [
    "default_traces_path",
    "disable_tracing",
    "enable_tracing",
    "get_trace",
    "list_traces",
    "otlp_endpoint_from_env",
    "tracer_from_env",
]

_OFF = ("off", "none", "0", "false")
_current: Tracer | None = None


def default_traces_path() -> Path:
    """``RAGSTREAM_TRACES_DB``, else ``traces.db`` in the data directory
    (``RAGSTREAM_HOME``, else the default one)."""
    given = os.environ.get("RAGSTREAM_TRACES_DB", "").strip()
    if given and given.lower() not in _OFF:
        return Path(given).expanduser()
    home = os.environ.get("RAGSTREAM_HOME", "").strip()
    if home:
        return Path(home).expanduser() / "traces.db"
    from ragstream.config import default_home

    return default_home() / "traces.db"


def otlp_endpoint_from_env() -> str | None:
    """The collector to send spans to, if the environment names one."""
    for name in ("RAGSTREAM_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                 "OTEL_EXPORTER_OTLP_ENDPOINT"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def tracer_from_env() -> Tracer:
    """The tracer the environment asks for, started (the engine calls this on
    the first run when ``RAGSTREAM_TRACING=1``)."""
    global _current
    local = os.environ.get("RAGSTREAM_TRACES_DB", "").strip().lower() not in _OFF
    endpoint = otlp_endpoint_from_env()
    if not local and endpoint is None:
        from ragstream.errors import ConfigError

        raise ConfigError(
            "RAGSTREAM_TRACES_DB=off leaves tracing nowhere to write: set "
            "OTEL_EXPORTER_OTLP_ENDPOINT (or RAGSTREAM_OTLP_ENDPOINT), or unset RAGSTREAM_TRACING"
        )
    tracer = Tracer(local=local, otlp_endpoint=endpoint).start()
    _current = tracer
    return tracer


def enable_tracing(
    *, path: str | Path | None = None, otlp_endpoint: str | None = None, local: bool = True,
    field_size: int = 10_000, max_queue: int = 10_000,
) -> Tracer:
    """Record every run from now on; return the tracer (``flush()`` it to
    read what it wrote at once). Replaces the tracer installed before.

    >>> from ragstream.tracing import enable_tracing, get_trace
    >>> tracer = enable_tracing(path="traces.db", otlp_endpoint="http://127.0.0.1:4317")
    >>> rag_chain.invoke({"input": "What is task decomposition?"})
    """
    from ragstream.core._run import set_observer

    global _current
    tracer = Tracer(path=path, otlp_endpoint=otlp_endpoint, local=local,
                    field_size=field_size, max_queue=max_queue).start()
    previous, _current = _current, tracer
    set_observer(tracer)
    if previous is not None:
        previous.close()
    return tracer


def disable_tracing() -> None:
    """Stop recording runs; write out what the tracer still holds."""
    from ragstream.core._run import set_observer

    global _current
    set_observer(None)
    previous, _current = _current, None
    if previous is not None:
        previous.close()


def _store(path: str | Path | None) -> TraceStore:
    where = Path(path).expanduser() if path else default_traces_path()
    current = _current
    if current is not None and current.path == where:
        current.flush()  # read what this process has just traced
    return TraceStore(where)


def list_traces(
    limit: int = 20, name: str | None = None, *, path: str | Path | None = None
) -> list[TraceSummary]:
    """The latest traces, newest first (those whose root run is named ``name``)."""
    store = _store(path)
    try:
        return store.list_traces(limit, name)
    finally:
        store.close()


def get_trace(trace_id: str, *, path: str | Path | None = None) -> RunRecord | None:
    """The root run of a trace with every run below it, or ``None``."""
    store = _store(path)
    try:
        return store.get_trace(trace_id)
    finally:
        store.close()
