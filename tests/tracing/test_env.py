"""Tracing turned on by the environment, in a real program that exits."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ragstream.errors import ConfigError
from ragstream.tracing import get_trace, list_traces, tracer_from_env

from .conftest import Collector

SCRIPT = textwrap.dedent("""
    from ragstream.parsers import StrOutputParser
    from ragstream.prompts import ChatPromptTemplate
    from ragstream.testing import FakeChatModel

    prompt = ChatPromptTemplate.from_messages([("human", "{input}")])
    chain = prompt | FakeChatModel("one two three four", delay=0.05) | StrOutputParser()
    print(chain.invoke({"input": "whole"}))
    for chunk in chain.stream({"input": "stopped"}):
        print(chunk)
        break
""")


def run_script(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("RAGSTREAM_", "LANGCHAIN_", "LANGSMITH_", "OTEL_"))}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env={**clean, **env}, text=True,
                          capture_output=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["one", "two", "three", "four", "one"]
    return done


def test_ragstream_tracing_writes_to_the_data_directory_and_exports(
    tmp_path: Path, collector: Collector
) -> None:
    collector.clear()
    home = tmp_path / "home"
    run_script(tmp_path, RAGSTREAM_TRACING="1", RAGSTREAM_HOME=str(home),
               OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint, OTEL_SERVICE_NAME="guide-app")
    path = home / "traces.db"
    stopped, whole = list_traces(path=path)  # newest first; nothing lost at exit
    assert whole.status == "ok" and whole.runs == 4
    root = get_trace(stopped.trace_id, path=path)
    assert root is not None and root.inputs == {"input": "stopped"}
    # a stream stopped early ends as cancelled
    assert [(r.name, r.status) for r in root.walk()] == [
        ("RunnableSequence", "cancelled"), ("ChatPromptTemplate", "ok"),
        ("FakeChatModel", "cancelled"), ("StrOutputParser", "cancelled"),
    ]
    assert root.error_type == "CancelledError"
    spans = collector.spans()
    assert len(spans) == 8  # both traces reached the collector before the exit
    assert {resource["service.name"] for resource, _ in spans} == {"guide-app"}


def test_the_reference_frameworks_variable_and_a_chosen_file(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "runs.db"
    run_script(tmp_path, LANGCHAIN_TRACING_V2="true", RAGSTREAM_TRACES_DB=str(path),
               RAGSTREAM_HOME=str(tmp_path / "home"))
    assert [t.status for t in list_traces(path=path)] == ["cancelled", "ok"]
    assert not (tmp_path / "home").exists()


def test_tracer_from_env_reads_where_to_write_and_send(
    tmp_path: Path, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith(("RAGSTREAM_", "OTEL_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    tracer = tracer_from_env()
    tracer.close()
    assert tracer.path == tmp_path / "xdg" / "ragstream" / "traces.db"  # the default home
    assert tracer.otlp_endpoint is None
    monkeypatch.setenv("RAGSTREAM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
    monkeypatch.setenv("RAGSTREAM_OTLP_ENDPOINT", collector.endpoint)  # ours wins
    tracer = tracer_from_env()
    tracer.close()
    assert tracer.path == tmp_path / "home" / "traces.db" and tracer.path.exists()
    assert tracer.otlp_endpoint == collector.endpoint
    monkeypatch.setenv("RAGSTREAM_TRACES_DB", "off")
    tracer = tracer_from_env()
    tracer.close()
    assert tracer.path is None
    monkeypatch.delenv("RAGSTREAM_OTLP_ENDPOINT")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    with pytest.raises(ConfigError, match="RAGSTREAM_TRACES_DB=off leaves tracing nowhere"):
        tracer_from_env()
