"""Runs exported as OpenTelemetry spans to a real OTLP/gRPC collector."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from ragstream.errors import ConfigError, MissingDependencyError
from ragstream.runnables import RunnableLambda
from ragstream.tracing import enable_tracing, get_trace, list_traces
from ragstream.tracing._otlp import OTLPExport, span_id_of, trace_id_of

from .conftest import Collector, attributes, guide_chain, simple_chain

OK, ERROR = 1, 2  # opentelemetry.proto.trace.v1.Status.StatusCode


def test_every_run_is_a_span_with_the_trees_ids_times_and_usage(
    tmp_path: Path, collector: Collector, restore_observer: None
) -> None:
    collector.clear()
    tracer = enable_tracing(path=tmp_path / "traces.db", otlp_endpoint=collector.endpoint)
    guide_chain().with_config(tags=["guide"]).invoke({"input": "What is it?"})
    assert tracer.flush()
    root = get_trace(list_traces(path=tracer.path)[0].trace_id, path=tracer.path)
    assert root is not None
    runs = {r.run_id: r for r in root.walk()}
    spans = collector.spans()
    assert len(spans) == len(runs)
    resource = spans[0][0]
    assert resource["service.name"] == "ragstream"
    by_span_id = {span.span_id: span for _, span in spans}
    for run in runs.values():
        span = by_span_id[span_id_of(run.run_id).to_bytes(8, "big")]
        assert span.name == run.name
        assert span.trace_id.hex() == root.run_id.replace("-", "")
        assert span.trace_id == trace_id_of(root.run_id).to_bytes(16, "big")
        if run.parent_id is None:
            assert span.parent_span_id == b""
        else:
            assert span.parent_span_id == span_id_of(run.parent_id).to_bytes(8, "big")
        assert (span.start_time_unix_nano, span.end_time_unix_nano) == (run.start_ns, run.end_ns)
        attrs = attributes(span)
        assert attrs["ragstream.run_type"] == run.run_type
        assert attrs["ragstream.tags"] == run.tags and "guide" in run.tags
        assert span.status.code == OK
    model = root.find("FakeChatModel")
    assert model is not None and model.usage is not None
    attrs = attributes(by_span_id[span_id_of(model.run_id).to_bytes(8, "big")])
    assert attrs["gen_ai.usage.input_tokens"] == model.usage["input_tokens"]
    assert attrs["gen_ai.usage.output_tokens"] == model.usage["output_tokens"]
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.response.model"] == "fake"
    root_attrs = attributes(by_span_id[span_id_of(root.run_id).to_bytes(8, "big")])
    assert '"What is it?"' in root_attrs["ragstream.input"]


def test_an_error_run_is_an_error_span(tmp_path: Path, collector: Collector,
                                       restore_observer: None) -> None:
    collector.clear()

    def broken(x: Any) -> Any:
        raise KeyError("context")

    tracer = enable_tracing(path=tmp_path / "traces.db", otlp_endpoint=collector.endpoint)
    with pytest.raises(KeyError):
        (simple_chain() | RunnableLambda(broken)).invoke({"input": "q"})
    assert tracer.flush()
    spans = {span.name: span for _, span in collector.spans()}
    assert spans["broken"].status.code == ERROR
    assert "KeyError" in spans["broken"].status.message
    assert spans["RunnableSequence"].status.code == ERROR
    assert spans["FakeChatModel"].status.code == OK
    (event,) = spans["broken"].events
    assert event.name == "exception"
    assert attributes(event)["exception.type"] == "KeyError"
    assert attributes(spans["broken"])["error.type"] == "KeyError"


def test_export_only_keeps_no_file(tmp_path: Path, collector: Collector,
                                   restore_observer: None, monkeypatch: pytest.MonkeyPatch
                                   ) -> None:
    collector.clear()
    monkeypatch.setenv("RAGSTREAM_HOME", str(tmp_path))
    tracer = enable_tracing(local=False, otlp_endpoint=collector.endpoint)
    simple_chain().invoke({"input": "q"})
    assert tracer.flush()
    assert tracer.path is None and list(tmp_path.iterdir()) == []
    assert sorted(span.name for _, span in collector.spans()) == [
        "ChatPromptTemplate", "FakeChatModel", "RunnableSequence", "StrOutputParser",
    ]


def test_a_missing_exporter_package_is_named(monkeypatch: pytest.MonkeyPatch,
                                             restore_observer: None, tmp_path: Path) -> None:
    # an entry of None in sys.modules makes the import fail, as if not installed
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.grpc.trace_exporter", None)
        with pytest.raises(MissingDependencyError,
                           match="opentelemetry-exporter-otlp-proto-grpc"):
            enable_tracing(path=tmp_path / "t.db", otlp_endpoint="http://127.0.0.1:4317")
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "opentelemetry.sdk.trace", None)
        with pytest.raises(MissingDependencyError, match=r"opentelemetry-sdk .*ragstream\[otel\]"):
            OTLPExport("http://127.0.0.1:4317").start()


def test_an_unknown_protocol_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'thrift'"):
        OTLPExport("http://127.0.0.1:4317", protocol="thrift").start()
