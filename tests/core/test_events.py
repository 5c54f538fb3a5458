"""The event stream: sequences, names, tags, parent ids, filters, custom events."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

import pytest

from ragstream.core import current_run
from ragstream.errors import ConfigError
from ragstream.parsers import StrOutputParser
from ragstream.prompts import ChatPromptTemplate
from ragstream.runnables import (
    RunnableBranch,
    RunnableLambda,
    RunnableParallel,
    RunnablePassthrough,
    adispatch_custom_event,
    dispatch_custom_event,
)
from ragstream.testing import FakeChatModel

from .helpers import check_run_invariants, events, run, shape

PROMPT = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{input}")])


def simple_chain(answer: str = "a b c") -> Any:
    return PROMPT | FakeChatModel(answer) | StrOutputParser()


def test_sequence_event_sequence_v2() -> None:
    evs = events(simple_chain("a b"), {"input": "q"})
    assert shape(evs) == [
        ("on_chain_start", "RunnableSequence", []),
        ("on_prompt_start", "ChatPromptTemplate", ["seq:step:1"]),
        ("on_prompt_end", "ChatPromptTemplate", ["seq:step:1"]),
        ("on_chat_model_start", "FakeChatModel", ["seq:step:2"]),
        ("on_chat_model_stream", "FakeChatModel", ["seq:step:2"]),
        ("on_parser_start", "StrOutputParser", ["seq:step:3"]),
        ("on_parser_stream", "StrOutputParser", ["seq:step:3"]),
        ("on_chain_stream", "RunnableSequence", []),
        ("on_chat_model_stream", "FakeChatModel", ["seq:step:2"]),
        ("on_parser_stream", "StrOutputParser", ["seq:step:3"]),
        ("on_chain_stream", "RunnableSequence", []),
        ("on_chat_model_end", "FakeChatModel", ["seq:step:2"]),
        ("on_parser_end", "StrOutputParser", ["seq:step:3"]),
        ("on_chain_end", "RunnableSequence", []),
    ]
    check_run_invariants(evs)


def test_event_data_and_parent_ids() -> None:
    evs = events(simple_chain("a b"), {"input": "q"})
    root = evs[0]
    assert root["data"] == {"input": {"input": "q"}}
    assert root["parent_ids"] == []
    children = [e for e in evs if e["run_id"] != root["run_id"]]
    assert len(children) == 10
    for e in children:
        assert e["parent_ids"] == [root["run_id"]]
    model_start = next(e for e in evs if e["event"] == "on_chat_model_start")
    messages = model_start["data"]["input"]["messages"][0]
    assert [m.type for m in messages] == ["system", "human"]
    model_end = next(e for e in evs if e["event"] == "on_chat_model_end")
    assert model_end["data"]["output"].content == "a b"
    assert model_end["data"]["output"].usage_metadata["output_tokens"] == 2
    assert evs[-1]["data"] == {"output": "a b"}
    prompt_end = next(e for e in evs if e["event"] == "on_prompt_end")
    assert prompt_end["data"]["input"] == {"input": "q"}
    assert sorted(evs[0]) == ["data", "event", "metadata", "name", "parent_ids", "run_id", "tags"]


def test_v1_has_no_parent_ids() -> None:
    evs = events(simple_chain(), {"input": "q"}, version="v1")
    assert evs and all("parent_ids" not in e for e in evs)
    assert shape(evs) == shape(events(simple_chain(), {"input": "q"}))


def test_each_token_reaches_the_listener_exactly_once() -> None:
    answer = " ".join(f"t{i}" for i in range(300))
    evs = events(simple_chain(answer), {"input": "q"})
    tokens = [e["data"]["chunk"].content for e in evs if e["event"] == "on_chat_model_stream"]
    assert "".join(tokens) == answer
    assert len(tokens) == 300
    parsed = [e["data"]["chunk"] for e in evs if e["event"] == "on_parser_stream"]
    assert parsed == tokens


def test_user_tags_inherited_automatic_tags_not() -> None:
    inner = (PROMPT | FakeChatModel("x")).with_config(tags=["mine"], metadata={"k": "v"})
    chain = RunnableParallel(answer=inner)
    evs = events(chain, {"input": "q"})
    by_name = {e["name"]: e for e in evs if e["event"].endswith("_start")}
    assert by_name["RunnableParallel<answer>"]["tags"] == []
    assert by_name["RunnableSequence"]["tags"] == ["map:key:answer", "mine"]
    assert by_name["ChatPromptTemplate"]["tags"] == ["mine", "seq:step:1"]
    assert by_name["FakeChatModel"]["tags"] == ["mine", "seq:step:2"]
    assert by_name["FakeChatModel"]["metadata"] == {"k": "v"}
    assert by_name["RunnableParallel<answer>"]["metadata"] == {}


def test_tagged_model_as_in_the_guide() -> None:
    llm = FakeChatModel("rewritten question ?")
    chain = PROMPT | llm.with_config(tags=["contextualize_q_llm"]) | StrOutputParser()
    tokens = [
        e["data"]["chunk"].content
        for e in events(chain, {"input": "q"}, version="v1")
        if e["event"] == "on_chat_model_stream" and "contextualize_q_llm" in e["tags"]
    ]
    assert tokens == ["rewritten", " question", " ?"]


def test_run_name_and_config_tags_at_the_root() -> None:
    chain = simple_chain().with_config(run_name="my_chain")
    evs = events(chain, {"input": "q"}, config={"tags": ["root-tag"], "metadata": {"user": 1}})
    assert evs[0]["name"] == "my_chain"
    assert evs[0]["tags"] == ["root-tag"]
    assert all("root-tag" in e["tags"] for e in evs)
    assert all(e["metadata"].get("user") == 1 for e in evs)


def test_parallel_and_assign_names_and_map_tags() -> None:
    chain = RunnablePassthrough.assign(n=lambda d: len(d["s"]))
    evs = events(chain, {"s": "abc"})
    names = [(e["event"], e["name"], e["tags"]) for e in evs if e["event"].endswith("start")]
    assert names == [
        ("on_chain_start", "RunnableAssign<n>", []),
        ("on_chain_start", "RunnableParallel<n>", []),
        ("on_chain_start", "RunnableLambda", ["map:key:n"]),
    ]
    assert evs[-1]["data"]["output"] == {"s": "abc", "n": 3}
    check_run_invariants(evs)


def test_branch_tags_conditions_and_branches() -> None:
    branch = RunnableBranch((lambda x: x == "a", lambda x: "A"), lambda x: "other")
    evs = events(branch, "b")
    starts = [(e["name"], e["tags"]) for e in evs if e["event"] == "on_chain_start"]
    assert starts == [
        ("RunnableBranch", []),
        ("RunnableLambda", ["condition:1"]),
        ("RunnableLambda", ["branch:default"]),
    ]
    evs = events(branch, "a")
    assert ("RunnableLambda", ["branch:1"]) in [
        (e["name"], e["tags"]) for e in evs if e["event"] == "on_chain_start"
    ]


def test_filters_include_any_then_exclude() -> None:
    chain = simple_chain()
    inp = {"input": "q"}
    only_model = events(chain, inp, include_types=["chat_model"])
    assert {e["event"] for e in only_model} == {
        "on_chat_model_start", "on_chat_model_stream", "on_chat_model_end"
    }
    either = events(chain, inp, include_types=["prompt"], include_names=["StrOutputParser"])
    assert {e["name"] for e in either} == {"ChatPromptTemplate", "StrOutputParser"}
    by_tag = events(chain, inp, include_tags=["seq:step:2"])
    assert {e["name"] for e in by_tag} == {"FakeChatModel"}
    excluded = events(chain, inp, exclude_names=["RunnableSequence"], exclude_tags=["seq:step:1"])
    assert {e["name"] for e in excluded} == {"FakeChatModel", "StrOutputParser"}
    both = events(chain, inp, include_types=["chat_model", "parser"], exclude_types=["parser"])
    assert {e["name"] for e in both} == {"FakeChatModel"}


def test_bad_filter_arguments() -> None:
    with pytest.raises(ConfigError, match="unknown event types"):
        events(simple_chain(), {"input": "q"}, include_types=["chains"])
    with pytest.raises(ConfigError, match="list of strings"):
        events(simple_chain(), {"input": "q"}, include_names="FakeChatModel")
    with pytest.raises(ConfigError, match="version"):
        events(simple_chain(), {"input": "q"}, version="v3")


def test_custom_events_sync_and_async() -> None:
    def step(x: str) -> str:
        dispatch_custom_event("progress", {"step": "sync"})
        return x

    async def astep(x: str) -> str:
        await adispatch_custom_event("progress", {"step": "async"})
        return x

    chain = RunnableLambda(step).with_config(tags=["t"]) | astep
    evs = events(chain, "x")
    custom = [e for e in evs if e["event"] == "on_custom_event"]
    assert [e["data"] for e in custom] == [{"step": "sync"}, {"step": "async"}]
    step_start = next(e for e in evs if e["name"] == "step" and e["event"] == "on_chain_start")
    assert custom[0]["run_id"] == step_start["run_id"]
    assert "t" in custom[0]["tags"]
    assert custom[0]["parent_ids"] == step_start["parent_ids"]
    # filters apply to custom events by name
    only = events(chain, "x", include_names=["progress"])
    assert [e["event"] for e in only] == ["on_custom_event", "on_custom_event"]
    # without a listener it does nothing
    assert chain.invoke("y") == "y"


def test_nested_calls_in_user_functions_are_children() -> None:
    inner = RunnableLambda(lambda x: x + "!").with_config(run_name="inner")

    def sync_outer(x: str) -> str:  # runs in a worker thread
        return inner.invoke(x)

    async def async_outer(x: str) -> str:
        return await inner.ainvoke(x)

    def thread_outer(x: str) -> str:  # a thread the user starts with a copied context
        import contextvars

        out: list[str] = []
        ctx = contextvars.copy_context()
        t = threading.Thread(target=lambda: out.append(ctx.run(inner.invoke, x)))
        t.start()
        t.join()
        return out[0]

    for outer in (sync_outer, async_outer, thread_outer):
        evs = events(RunnableLambda(outer), "hi")
        outer_start = evs[0]
        inner_start = next(e for e in evs if e["name"] == "inner")
        assert inner_start["parent_ids"] == [outer_start["run_id"]], outer.__name__
        assert evs[-1]["data"]["output"] == "hi!"
        check_run_invariants(evs)


def test_no_run_state_when_nobody_listens() -> None:
    seen: list[Any] = []

    def probe(x: Any) -> Any:
        seen.append(current_run())
        return x

    chain = RunnableLambda(probe) | (lambda x: x)
    chain.invoke(1)
    list(chain.stream(1))
    assert seen == [None, None]
    events(chain, 1)
    assert seen[-1] is not None and seen[-1].name == "probe"


def test_listener_that_stops_early_cancels_the_run() -> None:
    produced: list[str] = []

    async def main() -> None:
        model = FakeChatModel(" ".join(f"w{i}" for i in range(1000)), delay=0.001)

        async def watch(chunks: Any) -> Any:
            async for c in chunks:
                produced.append(c.content)
                yield c

        stream = (model | watch).astream_events("q")
        async for e in stream:
            if e["event"] == "on_chat_model_stream":
                break
        await stream.aclose()
        count = len(produced)
        await asyncio.sleep(0.05)
        assert len(produced) <= count + 1
        assert len(produced) < 100

    run(main())


def test_reference_event_names_and_tags_match_the_guide_chains(reference: Any) -> None:
    """The multiset of (event, name, tags) equals the reference framework's for the
    guide's two chains, with our model and retriever names mapped to theirs."""
    from ragstream.chains import (
        create_history_aware_retriever,
        create_retrieval_chain,
        create_stuff_documents_chain,
    )
    from ragstream.documents import Document
    from ragstream.retrievers import BaseRetriever

    class VectorStoreRetriever(BaseRetriever):
        def __init__(self) -> None:
            self.tags = ["InMemoryVectorStore", "DeterministicFakeEmbedding"]

        async def _aget_relevant_documents(self, query: str, **kw: Any) -> list[Document]:
            return [Document(f"about {query}", {"source": "s"})]

    retriever = VectorStoreRetriever()
    qa_prompt = ChatPromptTemplate.from_messages([("system", "{context}"), ("human", "{input}")])
    rewrite = ChatPromptTemplate.from_messages(
        [("system", "rephrase"), ("placeholder", "{chat_history}"), ("human", "{input}")]
    )
    hist_qa = ChatPromptTemplate.from_messages(
        [("system", "{context}"), ("placeholder", "{chat_history}"), ("human", "{input}")]
    )
    rewrite_answer = " ".join(["r"] * 17)  # the reference's rewrite streamed 17 chunks
    cases = [(n, v) for n in ("retrieval_chain", "history_chain") for v in ("v1", "v2")]
    for name, version in cases:
        ref = reference(f"events_{version}_{name}.json")
        if name == "retrieval_chain":
            chain = create_retrieval_chain(
                retriever, create_stuff_documents_chain(FakeChatModel("a b c d e"), qa_prompt)
            )
        else:
            llm = FakeChatModel([rewrite_answer, "a b c d e"])
            har = create_history_aware_retriever(
                llm.with_config(tags=["contextualize_q_llm"]), retriever, rewrite
            )
            chain = create_retrieval_chain(har, create_stuff_documents_chain(llm, hist_qa))
        evs = events(chain, ref["input"], version=version)
        check_run_invariants(evs, version=version)
        mine = Counter(
            (e["event"],
             {"FakeChatModel": "GenericFakeChatModel", "Retriever": "VectorStoreRetriever"}.get(
                 e["name"], e["name"]),
             tuple(e["tags"]))
            for e in evs
        )
        theirs = Counter((e, n, tuple(t)) for e, n, t in ref["events"])
        if name == "history_chain":  # their rewrite streamed 17 model chunks, 13 parsed ones
            key = ("on_parser_stream", "StrOutputParser", ("seq:step:3",))
            mine[key] = theirs[key]
        assert mine == theirs, (name, version, mine - theirs, theirs - mine)
        # the guide's v1 shape: the nested retriever is "Retriever" with wrapped data
        if version == "v1":
            ret = [e for e in evs if e["event"].startswith("on_retriever")]
            assert [e["name"] for e in ret] == ["Retriever", "Retriever"]
            assert set(ret[0]["data"]["input"]) == {"query"}
            assert isinstance(ret[1]["data"]["output"]["documents"][0], Document)
        else:
            ret = [e for e in evs if e["event"].startswith("on_retriever")]
            assert ret[0]["name"] == "VectorStoreRetriever"
            assert isinstance(ret[1]["data"]["output"], list)


def test_chat_model_output_reports_usage_and_timing() -> None:
    model = FakeChatModel("one two three", delay=0.01)
    evs = events(PROMPT | model, {"input": "q"})
    end = next(e for e in evs if e["event"] == "on_chat_model_end")
    meta = end["data"]["output"].response_metadata
    assert 0.005 < meta["time_to_first_token_s"] < meta["latency_s"]
    assert meta["latency_s"] >= 0.03
    assert end["data"]["output"].usage_metadata["output_tokens"] == 3
    # streamed chunks were not changed after the fact
    streamed = [e["data"]["chunk"] for e in evs if e["event"] == "on_chat_model_stream"]
    assert all("latency_s" not in c.response_metadata for c in streamed)
    message = model.invoke("q")
    assert message.response_metadata["time_to_first_token_s"] > 0
    assert "timing" not in end["data"]  # per-step timing is asked for


def test_timings_option_adds_latency_to_every_end_event() -> None:
    async def slow(x: str) -> str:
        await asyncio.sleep(0.02)
        return x

    chain = RunnableLambda(slow) | FakeChatModel("a b", delay=0.01) | StrOutputParser()
    evs = events(chain, "q", timings=True)
    ends = {e["name"]: e["data"]["timing"] for e in evs if e["event"].endswith("_end")}
    assert set(ends) == {"slow", "FakeChatModel", "StrOutputParser", "RunnableSequence"}
    assert ends["slow"]["latency_s"] >= 0.02
    assert ends["RunnableSequence"]["latency_s"] >= ends["FakeChatModel"]["latency_s"]
    assert 0 < ends["FakeChatModel"]["first_chunk_s"] <= ends["FakeChatModel"]["latency_s"]


class RecordingObserver:
    """An observer (what a tracer is) that keeps what it is told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, list[str]]] = []
        self.ends: dict[str, dict[str, Any]] = {}

    def on_event(self, event: dict[str, Any], run_type: str) -> None:
        self.events.append((event["event"], event["name"], event["run_id"], event["parent_ids"]))
        if event["event"].endswith("_end"):
            self.ends[event["name"]] = event["data"]


def test_an_observer_sees_every_top_level_run_without_a_listener() -> None:
    from ragstream.core._run import get_observer, set_observer

    before = get_observer()
    observer = RecordingObserver()
    set_observer(observer)
    try:
        chain = simple_chain("x y")
        assert chain.invoke({"input": "q"}) == "x y"
        assert list(chain.stream({"input": "q"})) == ["x", " y"]
        evs = events(chain, {"input": "q"}, include_types=["parser"])  # a listener too
    finally:
        set_observer(before)
    assert {e["name"] for e in evs} == {"StrOutputParser"}  # the listener's filter holds
    kinds = [k for k, *_ in observer.events]
    assert kinds.count("on_chain_start") == 3 and kinds.count("on_chain_end") == 3
    assert not any(k.endswith("_stream") for k in kinds)  # observers get starts and ends
    roots = [rid for k, n, rid, parents in observer.events if k == "on_chain_start"]
    children = [(n, parents) for k, n, rid, parents in observer.events
                if k == "on_chat_model_start"]
    assert [parents for _, parents in children] == [[r] for r in roots]
    assert observer.ends["RunnableSequence"]["output"] == "x y"
    assert observer.ends["FakeChatModel"]["timing"]["latency_s"] >= 0
    # once it is gone, nothing is recorded and the fast path is back
    count = len(observer.events)
    simple_chain().invoke({"input": "q"})
    assert len(observer.events) == count


def test_every_run_type_has_its_events() -> None:
    from ragstream.prompts import PromptTemplate
    from ragstream.testing import FakeLLM
    from ragstream.tools import tool

    @tool
    def shout(text: str) -> str:
        """Upper-case a text."""
        return text.upper()

    chain = PromptTemplate.from_template("Say {x}") | FakeLLM("hello world") | shout
    evs = events(chain, {"x": "hi"})
    kinds = {e["event"] for e in evs}
    assert {"on_prompt_start", "on_prompt_end", "on_llm_start", "on_llm_stream", "on_llm_end",
            "on_tool_start", "on_tool_end", "on_chain_start", "on_chain_end"} <= kinds
    llm_end = next(e for e in evs if e["event"] == "on_llm_end")
    assert llm_end["data"]["output"] == "hello world"
    tool_start = next(e for e in evs if e["event"] == "on_tool_start")
    assert tool_start["name"] == "shout" and tool_start["data"]["input"] == "hello world"
    assert evs[-1]["data"]["output"] == "HELLO WORLD"
    only_tools = events(chain, {"x": "hi"}, include_types=["tool", "llm"])
    assert {e["name"] for e in only_tools} == {"shout", "FakeLLM"}
    assert shout.description == "Upper-case a text."
    assert shout.invoke({"text": "a"}) == "A"
