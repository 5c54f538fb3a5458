"""``ragstream traces``: the list and one trace as a tree, plain and JSON."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ragstream.cli import main
from ragstream.runnables import RunnableLambda
from ragstream.tracing import RunRecord, Tracer, TraceStore, enable_tracing, list_traces

from .conftest import guide_chain, simple_chain

Run = Callable[..., Result]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("RAGSTREAM_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    monkeypatch.setenv("RAGSTREAM_HOME", str(home))
    monkeypatch.setenv("NO_COLOR", "1")
    return home


@pytest.fixture
def cli(home: Path) -> Run:
    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return run


@pytest.fixture
def recorded(home: Path, restore_observer: None) -> Tracer:
    """Three traces in the data directory: the guide's chain, a failure, a stopped stream."""
    tracer = enable_tracing()  # RAGSTREAM_HOME/traces.db

    def no_index(x: Any) -> Any:
        raise LookupError("collection 'docs' is empty")

    guide_chain().invoke({"input": "What is task decomposition?"})
    with pytest.raises(LookupError):
        (simple_chain() | RunnableLambda(no_index)).invoke({"input": "q"})
    for _ in simple_chain("a b c d e f g h", delay=0.02).stream({"input": "stop"}):
        break
    assert tracer.flush()
    assert tracer.path == home / "traces.db"
    return tracer


def test_list_shows_time_id_name_status_latency_tokens_and_runs(cli: Run,
                                                                recorded: Tracer) -> None:
    result = cli("traces")
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [r[2:4] for r in rows] == [
        ["RunnableSequence", "cancelled"], ["RunnableSequence", "error"],
        ["retrieval_chain", "ok"],
    ]
    started, short, _, _, latency, tokens, runs = rows[2]
    assert len(short) == 8 and started[:2] == "20"
    assert latency.endswith(" ms") and int(tokens) > 0 and int(runs) == 15
    assert rows[0][4].endswith(" ms")  # a stopped stream ends when it is stopped
    assert cli("traces", "list", "-n", "1").stdout.count("\n") == 1
    named = cli("traces", "--name", "retrieval_chain").stdout
    assert named.count("\n") == 1 and "retrieval_chain" in named


def test_list_as_json(cli: Run, recorded: Tracer) -> None:
    listed = json.loads(cli("traces", "--json").stdout)
    assert [t["status"] for t in listed] == ["cancelled", "error", "ok"]
    assert listed[1]["error_type"] == "LookupError"
    assert listed[2]["total_tokens"] == listed[2]["input_tokens"] + listed[2]["output_tokens"]


def test_show_prints_the_run_tree_with_timings_and_tokens(cli: Run, recorded: Tracer) -> None:
    trace_id = list_traces(name="retrieval_chain", path=recorded.path)[0].trace_id
    result = cli("traces", "show", trace_id[:6])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"trace {trace_id}  20") and " ok  " in lines[0]
    assert lines[0].endswith(" tokens")
    assert lines[1] == 'input: {"input": "What is task decomposition?"}'
    assert lines[2].startswith('output: {"input": "What is task decomposition?", "context": [')
    assert lines[3].startswith("retrieval_chain (chain)  ok  ")
    assert any(line.startswith("├─ RunnableAssign<context> (chain)  ok") for line in lines)
    model = next(line for line in lines if "FakeChatModel" in line)
    assert "├─ FakeChatModel (chat_model)  ok  " in model  # the parser comes after it
    assert "first token " in model and " in / " in model and model.endswith("  fake")
    assert any("ListRetriever (retriever)  ok" in line for line in lines)
    assert lines[-1].lstrip("│ ").startswith("└─ ")


def test_show_marks_errors_and_runs_without_an_end(cli: Run, recorded: Tracer) -> None:
    failed, stopped = (t.trace_id for t in list_traces(path=recorded.path)[:2][::-1])
    lines = cli("traces", "show", failed).stdout.splitlines()
    assert lines[2].startswith("RunnableSequence (chain)  error")
    assert "│  LookupError: collection 'docs' is empty" in lines
    assert lines[-2].startswith("└─ no_index (chain)  error")
    assert lines[-1] == "      LookupError: collection 'docs' is empty"
    lines = cli("traces", "show", stopped).stdout.splitlines()
    assert lines[0].split("  ")[2] == "cancelled"
    assert any(line.startswith("├─ FakeChatModel (chat_model)  cancelled") for line in lines)


def test_show_as_json_is_the_whole_tree(cli: Run, recorded: Tracer) -> None:
    trace_id = list_traces(name="retrieval_chain", path=recorded.path)[0].trace_id
    tree = json.loads(cli("traces", "show", trace_id, "--json").stdout)
    assert tree["run_id"] == trace_id and tree["parent_id"] is None

    def count(node: dict[str, Any]) -> int:
        return 1 + sum(count(c) for c in node["children"])

    assert count(tree) == 15


def test_an_unknown_trace_exits_4_and_an_ambiguous_prefix_2(cli: Run, home: Path) -> None:
    store = TraceStore(home / "traces.db")
    store.write([RunRecord(run_id=r, trace_id=r, parent_id=None, name="x", run_type="chain",
                           status="ok", start_ns=time.time_ns()) for r in ("abc-1", "abc-2")])
    store.close()
    result = cli("traces", "show", "0000nope")
    assert result.exit_code == 4
    assert "no trace '0000nope'" in result.stderr and "ragstream traces" in result.stderr
    result = cli("traces", "show", "abc")
    assert result.exit_code == 2 and "ambiguous" in result.stderr
    assert cli("traces", "show", "abc-2").stdout.startswith("trace abc-2  ")


def test_no_traces_yet_is_a_note_not_an_error(cli: Run, home: Path) -> None:
    result = cli("traces")
    assert result.exit_code == 0 and result.stdout == ""
    assert "no traces in" in result.stderr and "RAGSTREAM_TRACING=1" in result.stderr
    assert cli("traces", "show", "abc").exit_code == 4
    assert not home.exists()  # reading created nothing


def test_the_store_is_chosen_by_db_then_environment_then_data_dir(
    cli: Run, tmp_path: Path, restore_observer: None
) -> None:
    elsewhere = tmp_path / "elsewhere.db"
    tracer = enable_tracing(path=elsewhere)
    simple_chain().invoke({"input": "q"})
    tracer.flush()
    assert cli("traces").stdout == ""
    assert "RunnableSequence" in cli("traces", "--db", str(elsewhere)).stdout
    assert "RunnableSequence" in cli("traces", "list", "--db", str(elsewhere)).stdout
    env = {"RAGSTREAM_TRACES_DB": str(elsewhere)}
    assert "RunnableSequence" in cli("traces", env=env).stdout
    other = tmp_path / "other"
    assert cli("traces", "--data-dir", str(other), env={"RAGSTREAM_TRACES_DB": ""}).stdout == ""


def test_delete_by_id_and_by_age(cli: Run, recorded: Tracer) -> None:
    first, second, third = (t.trace_id for t in list_traces(path=recorded.path))
    assert cli("traces", "delete").exit_code == 2  # nothing named
    refused = cli("traces", "delete", first[:8])
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert cli("traces", "delete", "0000nope", "--yes").exit_code == 4
    done = cli("traces", "delete", first[:8], "--yes")
    assert done.exit_code == 0 and done.stdout == "deleted 1 trace\n"
    assert [t.trace_id for t in list_traces(path=recorded.path)] == [second, third]
    assert cli("traces", "delete", "--older-than", "1", "--yes").stdout == "deleted 0 traces\n"
    assert cli("traces", "delete", "--older-than", "0", "--yes").stdout == "deleted 2 traces\n"
    assert list_traces(path=recorded.path) == []
