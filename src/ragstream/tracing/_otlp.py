"""``OTLPExport``: finished runs as OpenTelemetry spans, sent to a collector.

Each run becomes one span with the run's own times. Its ids come from the
run tree, not from a generator: the trace id is the root run's UUID and the
span id the low 64 bits of the run's, so a child exported before its parent
(children end first) still points at it. The SDK's batch processor sends
the spans from its own thread, so a slow collector never holds up the local
store. The provider is private to ragstream: an application's own global
OpenTelemetry setup is left alone.

The usual ``OTEL_*`` variables apply: ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES`` (service name ``ragstream`` by default),
``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_EXPORTER_OTLP_INSECURE``,
``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*``.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import TYPE_CHECKING, Any

from ragstream.errors import ConfigError, MissingDependencyError
from ragstream.tracing._runs import CANCELLED, ERROR, RunRecord

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

__all__ = ["OTLPExport", "span_id_of", "trace_id_of"]

_MASK64 = (1 << 64) - 1


def trace_id_of(run_id: str) -> int:
    """The 128-bit OpenTelemetry trace id of the trace whose root is ``run_id``."""
    try:
        value = uuid.UUID(run_id).int
    except ValueError:  # a run id the caller chose
        value = int.from_bytes(hashlib.blake2b(run_id.encode(), digest_size=16).digest(), "big")
    return value or 1


def span_id_of(run_id: str) -> int:
    """The 64-bit OpenTelemetry span id of run ``run_id``."""
    return (trace_id_of(run_id) & _MASK64) or 1


class OTLPExport:
    """Sends finished runs to an OTLP endpoint (gRPC, or HTTP with
    ``protocol="http/protobuf"`` and its exporter package installed)."""

    def __init__(self, endpoint: str, *, protocol: str | None = None) -> None:
        self.endpoint = endpoint
        self.protocol = (protocol or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                         or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc")
        self._provider: TracerProvider | None = None
        self._ids: Any = None
        self._tracer: Any = None

    def __repr__(self) -> str:
        return f"OTLPExport({self.endpoint!r}, protocol={self.protocol!r})"

    def start(self) -> None:
        """Load OpenTelemetry and connect the exporter (no spans are sent yet)."""
        if self._provider is not None:
            return
        try:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError as exc:
            raise MissingDependencyError("opentelemetry-sdk", "otel") from exc
        exporter = _exporter(self.endpoint, self.protocol)

        resource = Resource.create({})
        named = str(resource.attributes.get("service.name", ""))
        if not named or named.startswith("unknown_service"):  # OTEL_SERVICE_NAME is unset
            resource = resource.merge(Resource({"service.name": "ragstream"}))
        ids = _given_ids()
        provider = TracerProvider(resource=resource, id_generator=ids, shutdown_on_exit=False)
        provider.add_span_processor(BatchSpanProcessor(exporter))
        from ragstream import __version__

        self._tracer = provider.get_tracer("ragstream", __version__)
        self._provider, self._ids = provider, ids

    def export(self, records: list[RunRecord]) -> None:
        """Hand these finished runs to the batch processor."""
        if self._provider is None:
            self.start()
        for rec in records:
            if rec.end_ns is not None:
                self._span(rec)

    def _span(self, rec: RunRecord) -> None:
        from opentelemetry import context as otel_context
        from opentelemetry import trace
        from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags

        trace_id = trace_id_of(rec.trace_id)
        ctx = otel_context.Context()  # a root: nothing above it, whatever is current
        if rec.parent_id is not None:
            parent = SpanContext(trace_id, span_id_of(rec.parent_id), is_remote=False,
                                 trace_flags=TraceFlags(TraceFlags.SAMPLED))
            ctx = trace.set_span_in_context(trace.NonRecordingSpan(parent), ctx)
        self._ids.next_trace, self._ids.next_span = trace_id, span_id_of(rec.run_id)
        span = self._tracer.start_span(
            rec.name, context=ctx, attributes=_attributes(rec), start_time=rec.start_ns,
            kind=trace.SpanKind.CLIENT if rec.run_type in ("chat_model", "llm")
            else trace.SpanKind.INTERNAL,
        )
        if rec.status in (ERROR, CANCELLED):
            span.set_status(Status(StatusCode.ERROR, f"{rec.error_type}: {rec.error_message}"))
            span.add_event("exception", {
                "exception.type": rec.error_type or "", "exception.message":
                rec.error_message or "",
            }, timestamp=rec.end_ns)
        else:
            span.set_status(Status(StatusCode.OK))
        span.end(end_time=rec.end_ns)

    def flush(self, timeout: float = 10.0) -> bool:
        """Send what is waiting; false if the collector did not take it in time."""
        if self._provider is None:
            return True
        return bool(self._provider.force_flush(int(timeout * 1000)))

    def close(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()
            self._provider = None


def _attributes(rec: RunRecord) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "ragstream.run_id": rec.run_id,
        "ragstream.run_type": rec.run_type,
        "ragstream.status": rec.status,
        "ragstream.tags": list(rec.tags),
    }
    if rec.latency_s is not None:
        attrs["ragstream.latency_s"] = rec.latency_s
    if rec.first_chunk_s is not None:
        attrs["ragstream.first_chunk_s"] = rec.first_chunk_s
    if rec.inputs_json is not None:
        attrs["ragstream.input"] = rec.inputs_json
    if rec.outputs_json is not None:
        attrs["ragstream.output"] = rec.outputs_json
    metadata = rec.metadata if rec.metadata_json not in (None, "{}") else None
    if isinstance(metadata, dict):
        for key, value in metadata.items():
            if isinstance(value, str | bool | int | float):
                attrs[f"ragstream.metadata.{key}"] = value
    if rec.run_type in ("chat_model", "llm"):
        # the GenAI semantic conventions, so LLM views in the usual tools fill in
        chat = rec.run_type == "chat_model"
        attrs["gen_ai.operation.name"] = "chat" if chat else "text_completion"
        if rec.model:
            attrs["gen_ai.response.model"] = rec.model
    if rec.usage:
        if "input_tokens" in rec.usage:
            attrs["gen_ai.usage.input_tokens"] = rec.usage["input_tokens"]
        if "output_tokens" in rec.usage:
            attrs["gen_ai.usage.output_tokens"] = rec.usage["output_tokens"]
    if rec.error_type:
        attrs["error.type"] = rec.error_type
    return attrs


def _exporter(endpoint: str, protocol: str) -> Any:
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise MissingDependencyError("opentelemetry-exporter-otlp-proto-grpc", "otel") \
                from exc
        return OTLPSpanExporter(endpoint=endpoint)
    if protocol == "http/protobuf":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found, unused-ignore]
                OTLPSpanExporter as HTTPSpanExporter,
            )
        except ImportError as exc:
            raise MissingDependencyError("opentelemetry-exporter-otlp-proto-http", "otel") \
                from exc
        if endpoint.rstrip("/").count("/") <= 2:  # a bare http://host:port
            endpoint = endpoint.rstrip("/") + "/v1/traces"
        return HTTPSpanExporter(endpoint=endpoint)
    raise ConfigError(
        f"OTLP protocol {protocol!r} is not supported; use 'grpc' or 'http/protobuf' "
        "(OTEL_EXPORTER_OTLP_PROTOCOL)"
    )


def _given_ids() -> Any:
    from opentelemetry.sdk.trace.id_generator import IdGenerator

    class GivenIds(IdGenerator):
        """Hands out the ids it was told to: the run tree's (one writer thread
        sets them just before it starts each span)."""

        next_trace = 0
        next_span = 0

        def generate_span_id(self) -> int:
            return self.next_span

        def generate_trace_id(self) -> int:
            return self.next_trace

    return GivenIds()
