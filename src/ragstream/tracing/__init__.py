"""Tracing: every run recorded locally, and sent to OpenTelemetry.

Turn it on with ``RAGSTREAM_TRACING=1`` (the reference framework's
``LANGCHAIN_TRACING_V2=true`` works too) or ``enable_tracing()``: from then
on, each top-level ``invoke``/``stream``/``batch``/``astream_events`` and
every step inside it is one run record (name, type, tags, metadata, inputs,
outputs, times, time to first chunk, token usage, error) in
``$RAGSTREAM_HOME/traces.db``, and one span at the OTLP endpoint when
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``RAGSTREAM_OTLP_ENDPOINT``) is set.
``ragstream traces`` lists them.

>>> from ragstream.tracing import enable_tracing, get_trace, list_traces
>>> tracer = enable_tracing(path="traces.db")
>>> rag_chain.invoke({"input": "What is task decomposition?"})
>>> tracer.flush()
>>> trace = get_trace(list_traces(limit=1, path="traces.db")[0].trace_id, path="traces.db")
>>> [(run.name, run.status) for run in trace.walk()][:2]
[('retrieval_chain', 'ok'), ('RunnableAssign<context>', 'ok')]
"""

from ragstream.tracing._otlp import OTLPExport
from ragstream.tracing._runs import RunRecord, TraceSummary
from ragstream.tracing._serialize import is_secret_key
from ragstream.tracing._setup import (
    default_traces_path,
    disable_tracing,
    enable_tracing,
    get_trace,
    list_traces,
    otlp_endpoint_from_env,
    tracer_from_env,
)
from ragstream.tracing._store import TraceStore
from ragstream.tracing._tracer import Tracer

__all__ = [
    "OTLPExport",
    "RunRecord",
    "TraceStore",
    "TraceSummary",
    "Tracer",
    "default_traces_path",
    "disable_tracing",
    "enable_tracing",
    "get_trace",
    "is_secret_key",
    "list_traces",
    "otlp_endpoint_from_env",
    "tracer_from_env",
]
