"""Every run recorded: the tree, names, types, timings, usage, errors,
cancellation, concurrency; through the real engine and a real SQLite file."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from ragstream.runnables import RunnableLambda, RunnableParallel
from ragstream.tracing import RunRecord, Tracer, get_trace, list_traces

from .conftest import ANSWER, PASSAGES, guide_chain, simple_chain


def only_trace(tracer: Tracer, **filters: Any) -> RunRecord:
    assert tracer.flush()
    found = list_traces(path=tracer.path, **filters)
    assert len(found) == 1, found
    trace = get_trace(found[0].trace_id, path=tracer.path)
    assert trace is not None
    return trace


def shape(run: RunRecord, depth: int = 0) -> list[tuple[int, str, str, str]]:
    out = [(depth, run.name, run.run_type, run.status)]
    for child in run.children:
        out.extend(shape(child, depth + 1))
    return out


def check_tree(root: RunRecord) -> None:
    """Ids, parents and times agree all the way down."""
    for run in root.walk():
        assert run.trace_id == root.run_id
        assert run.end_ns is not None and run.latency_s is not None and run.latency_s >= 0
        assert run.start_ns <= run.end_ns
        for child in run.children:
            assert child.parent_id == run.run_id
            # a child runs inside its parent (1 ms of slack: two clocks are read)
            assert child.start_ns >= run.start_ns - 1_000_000
            assert child.end_ns is not None and child.end_ns <= run.end_ns + 1_000_000


def test_a_simple_chain_is_one_trace_of_runs_with_types_timings_and_usage(
    traced: Tracer,
) -> None:
    chain = simple_chain("a b c")
    assert chain.invoke({"input": "what?"}) == "a b c"
    root = only_trace(traced)
    assert shape(root) == [
        (0, "RunnableSequence", "chain", "ok"),
        (1, "ChatPromptTemplate", "prompt", "ok"),
        (1, "FakeChatModel", "chat_model", "ok"),
        (1, "StrOutputParser", "parser", "ok"),
    ]
    check_tree(root)
    assert root.parent_id is None
    assert root.inputs == {"input": "what?"} and root.outputs == "a b c"
    prompt, model, parser = root.children
    assert prompt.tags == ["seq:step:1"] and parser.tags == ["seq:step:3"]
    assert model.inputs == {"messages": [[
        {"type": "system", "content": "Be brief."}, {"type": "human", "content": "what?"},
    ]]}
    assert model.outputs["content"] == "a b c"
    # usage from the model's message: "Be| brief|." and "what|?" in, "a| b| c" out
    assert model.usage == {"input_tokens": 5, "output_tokens": 3, "total_tokens": 8}
    assert model.model == "fake"
    assert model.first_chunk_s is not None and 0 <= model.first_chunk_s <= model.latency_s
    assert root.usage is None  # only model runs count tokens
    summary = list_traces(path=traced.path)[0]
    assert (summary.name, summary.status, summary.runs) == ("RunnableSequence", "ok", 4)
    assert (summary.input_tokens, summary.output_tokens, summary.total_tokens) == (5, 3, 8)


def test_latency_and_first_token_are_the_real_ones(traced: Tracer) -> None:
    simple_chain("a b c d", delay=0.02).invoke({"input": "q"})
    model = only_trace(traced).children[1]
    assert model.first_chunk_s is not None and model.first_chunk_s >= 0.02
    assert model.latency_s is not None and model.latency_s >= 0.08
    assert model.end_ns is not None and (model.end_ns - model.start_ns) / 1e9 >= 0.08


def test_a_streamed_step_is_timed_from_its_first_input(traced: Tracer) -> None:
    chain = simple_chain("a b c d", delay=0.02)
    assert "".join(chain.stream({"input": "q"})) == "a b c d"
    root = only_trace(traced)
    check_tree(root)
    _, model, parser = root.children
    # the parser starts when the model's first token reaches it, not before
    assert parser.start_ns >= model.start_ns + 15_000_000
    assert parser.latency_s is not None and model.latency_s is not None
    assert parser.latency_s < model.latency_s
    for run in root.walk():
        if run.first_chunk_s is not None:
            assert run.latency_s is not None and run.first_chunk_s <= run.latency_s
    assert root.first_chunk_s is not None and root.first_chunk_s >= 0.015


def test_the_guides_retrieval_chain_streamed(traced: Tracer) -> None:
    chain = guide_chain()
    chunks = list(chain.stream({"input": "What is task decomposition?"}))
    assert "".join(c.get("answer", "") for c in chunks) == ANSWER
    root = only_trace(traced)
    check_tree(root)
    assert root.name == "retrieval_chain" and root.status == "ok"
    names = [r.name for r in root.walk()]
    for name in ("retrieve_documents", "stuff_documents_chain", "format_docs",
                 "ChatPromptTemplate", "FakeChatModel", "StrOutputParser"):
        assert name in names
    retrieve = root.find("retrieve_documents")
    retriever = root.find("ListRetriever")
    assert retrieve is not None and retriever is not None
    assert retriever.run_type == "retriever" and retriever.parent_id == retrieve.run_id
    assert "ListRetriever" in retriever.tags
    assert retriever.inputs == "What is task decomposition?"
    assert retriever.outputs == [d.to_dict() for d in PASSAGES]  # documents via to_dict()
    model = root.find("FakeChatModel")
    stuff = root.find("stuff_documents_chain")
    assert model is not None and stuff is not None
    assert model.parent_id == stuff.run_id and model.usage is not None
    # a streamed step is timed by the engine: first chunk before the end
    assert root.first_chunk_s is not None and root.first_chunk_s <= (root.latency_s or 0)
    assert root.outputs["answer"] == ANSWER
    assert root.outputs["context"][0]["page_content"] == PASSAGES[0].page_content


def test_user_tags_and_metadata_reach_every_run(traced: Tracer) -> None:
    chain = guide_chain().with_config(tags=["guide"], metadata={"user": "u1"})
    chain.invoke({"input": "q"})
    root = only_trace(traced)
    for run in root.walk():
        assert "guide" in run.tags
        assert run.metadata == {"user": "u1"}
    assert list_traces(path=traced.path, name="retrieval_chain")
    assert list_traces(path=traced.path, name="RunnableSequence") == []


def test_a_failing_step_is_an_error_run_and_its_trace_too(traced: Tracer) -> None:
    def boom(x: Any) -> Any:
        raise ValueError("the index is empty")

    chain = simple_chain() | RunnableLambda(boom)
    with pytest.raises(ValueError, match="index is empty"):
        chain.invoke({"input": "q"})
    root = only_trace(traced)
    assert root.status == "error" and root.error_type == "ValueError"
    failed = root.find("boom")
    assert failed is not None and failed.status == "error"
    assert failed.error_message == "the index is empty"
    assert [r.status for r in root.children[:3]] == ["ok", "ok", "ok"]
    summary = list_traces(path=traced.path)[0]
    assert (summary.status, summary.error_type) == ("error", "ValueError")


def test_a_stream_stopped_early_is_cancelled(traced: Tracer) -> None:
    """The engine tells observers (not listeners) when a run is cancelled, so
    runs of a stream its consumer stops reading end as ``cancelled`` at once."""
    chain = simple_chain("one two three four five", delay=0.01)
    for _chunk in chain.stream({"input": "q"}):
        break
    traced.flush()
    root = only_trace(traced)
    assert shape(root) == [
        (0, "RunnableSequence", "chain", "cancelled"),
        (1, "ChatPromptTemplate", "prompt", "ok"),
        (1, "FakeChatModel", "chat_model", "cancelled"),
        (1, "StrOutputParser", "parser", "cancelled"),
    ]
    assert root.end_ns is not None and root.latency_s is not None
    assert list_traces(path=traced.path)[0].status == "cancelled"


def test_a_branch_cancelled_by_its_sibling_failing_is_cancelled(traced: Tracer) -> None:
    async def slow(x: Any) -> Any:
        await asyncio.sleep(5)
        return x

    def fail(x: Any) -> Any:
        raise RuntimeError("no model")

    with pytest.raises(RuntimeError):
        RunnableParallel(slow=RunnableLambda(slow), fail=RunnableLambda(fail)).invoke("q")
    root = only_trace(traced)
    assert root.status == "error"
    slow_run, fail_run = root.find("slow"), root.find("fail")
    assert slow_run is not None and fail_run is not None
    assert fail_run.status == "error"
    assert slow_run.status == "cancelled" and slow_run.end_ns is not None
    assert "trace ended" in (slow_run.error_message or "")


def test_an_end_reporting_cancellation_is_cancelled(tmp_path: Path) -> None:
    """What the tracer makes of an end event that carries a cancellation (the
    engine's shape, sent by hand: the engine does not send it today)."""
    tracer = Tracer(path=tmp_path / "t.db")
    start = {"event": "on_chain_start", "name": "answer", "run_id": "r1", "tags": [],
             "metadata": {}, "data": {"input": "q"}, "parent_ids": []}
    end = {**start, "event": "on_chain_end",
           "data": {"error": asyncio.CancelledError(), "timing": {"latency_s": 0.5}}}
    tracer.on_event(start, "chain")
    tracer.on_event(end, "chain")
    tracer.close()
    run = get_trace("r1", path=tracer.path)
    assert run is not None
    assert (run.status, run.error_type) == ("cancelled", "CancelledError")
    assert run.end_ns is not None and run.latency_s is not None and run.latency_s < 0.5


def test_concurrent_traces_are_kept_apart(traced: Tracer) -> None:
    chain = simple_chain("x y z", delay=0.001)

    async def many() -> list[str]:
        return await asyncio.gather(*(chain.ainvoke({"input": f"q{i}"}) for i in range(6)))

    asyncio.run(many())
    threads = [threading.Thread(target=chain.invoke, args=({"input": f"t{i}"},))
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    chain.batch([{"input": "b0"}, {"input": "b1"}])
    assert traced.flush()
    found = list_traces(limit=50, path=traced.path)
    assert len(found) == 12
    questions = set()
    for summary in found:
        root = get_trace(summary.trace_id, path=traced.path)
        assert root is not None and len(root.walk()) == 4
        check_tree(root)
        question = root.inputs["input"]
        questions.add(question)
        model = root.children[1]
        assert model.inputs["messages"][0][1]["content"] == question  # its own input
    assert questions == {*(f"q{i}" for i in range(6)), *(f"t{i}" for i in range(4)),
                         "b0", "b1"}


def test_astream_events_is_traced_and_its_listener_unaffected(traced: Tracer) -> None:
    chain = simple_chain("a b")

    async def listen() -> list[dict[str, Any]]:
        return [e async for e in chain.astream_events({"input": "q"}, include_types=["parser"])]

    events = asyncio.run(listen())
    assert {e["name"] for e in events} == {"StrOutputParser"}
    root = only_trace(traced)
    assert [r.status for r in root.walk()] == ["ok"] * 4


def test_nothing_is_recorded_once_tracing_is_disabled(tmp_path: Path,
                                                     restore_observer: None) -> None:
    from ragstream.tracing import disable_tracing, enable_tracing

    tracer = enable_tracing(path=tmp_path / "t.db")
    simple_chain().invoke({"input": "q"})
    disable_tracing()
    simple_chain().invoke({"input": "q"})
    assert len(list_traces(path=tracer.path)) == 1


def test_enable_tracing_twice_replaces_the_first_tracer(tmp_path: Path,
                                                       restore_observer: None) -> None:
    from ragstream.tracing import enable_tracing

    first = enable_tracing(path=tmp_path / "a.db")
    simple_chain().invoke({"input": "q"})
    second = enable_tracing(path=tmp_path / "b.db")
    simple_chain().invoke({"input": "q"})
    second.flush()
    assert len(list_traces(path=first.path)) == 1  # written out when it was replaced
    assert len(list_traces(path=second.path)) == 1
