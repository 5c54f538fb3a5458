"""LangServe's own client, ``RemoteRunnable``, against our routes.

Needs ``langserve`` (and ``fastapi``, which its package imports); skipped
without them.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.server._live import LiveServer
from tests.server.conftest import ANSWER

langserve = pytest.importorskip("langserve")
pytest.importorskip("langchain_core")

from langchain_core.documents import Document as LCDocument  # noqa: E402
from langchain_core.messages import AIMessage as LCAIMessage  # noqa: E402
from langchain_core.messages import AIMessageChunk as LCAIMessageChunk  # noqa: E402
from langchain_core.messages import HumanMessage as LCHumanMessage  # noqa: E402


def test_invoke_batch_stream(runnable_server: LiveServer) -> None:
    remote = langserve.RemoteRunnable(f"{runnable_server.url}/chain/")
    assert remote.invoke({"question": "hi"}) == ANSWER
    assert remote.batch([{"question": "a"}, {"question": "b"}]) == [ANSWER, ANSWER]
    chunks = list(remote.stream({"question": "hi"}))
    assert len(chunks) > 5 and "".join(chunks) == ANSWER


def test_objects_decode_into_the_clients_own_types(runnable_server: LiveServer) -> None:
    out = langserve.RemoteRunnable(f"{runnable_server.url}/echo/").invoke({"n": 1})
    assert isinstance(out["doc"], LCDocument) and out["doc"].page_content == "hello"
    assert out["doc"].metadata == {"source": "a.txt"} and out["doc"].id == "d1"
    assert isinstance(out["message"], LCAIMessage) and out["message"].content == "hi"
    chunks = list(langserve.RemoteRunnable(f"{runnable_server.url}/model/").stream("hi"))
    assert all(isinstance(c, LCAIMessageChunk) for c in chunks)
    assert chunks[-1].usage_metadata["output_tokens"] == len(chunks)


def test_astream_events_with_filters(runnable_server: LiveServer) -> None:
    remote = langserve.RemoteRunnable(f"{runnable_server.url}/chain/")

    async def main() -> list[dict]:
        return [e async for e in remote.astream_events(
            {"question": "hi"}, include_tags=["answer_llm"])]

    events = asyncio.run(main())
    streamed = [e["data"]["chunk"] for e in events if e["event"] == "on_chat_model_stream"]
    assert all(isinstance(c, LCAIMessageChunk) for c in streamed)
    assert "".join(c.content for c in streamed) == ANSWER
    assert {e["event"] for e in events} == {
        "on_chat_model_start", "on_chat_model_stream", "on_chat_model_end"}


def test_server_errors_raise_in_the_client(runnable_server: LiveServer) -> None:
    with pytest.raises(httpx.HTTPStatusError) as info:
        list(langserve.RemoteRunnable(f"{runnable_server.url}/failing/").stream("hi"))
    assert info.value.response.status_code == 502
    with pytest.raises(httpx.HTTPStatusError) as info:
        langserve.RemoteRunnable(f"{runnable_server.url}/echo/").invoke({"n": "x"})
    assert info.value.response.status_code == 422


def test_rag_chain_with_client_side_messages(rag_server: LiveServer) -> None:
    remote = langserve.RemoteRunnable(f"{rag_server.url}/rag/")
    out = remote.invoke({
        "input": "What is task decomposition?",
        "chat_history": [LCHumanMessage("hi"), LCAIMessage("hello")],
    })
    assert isinstance(out["context"][0], LCDocument)
    assert out["context"][0].metadata["title"] == "LLM Powered Autonomous Agents"
    assert [type(m) for m in out["chat_history"]] == [LCHumanMessage, LCAIMessage]
    assert out["answer"].startswith("Task decomposition")
    keys = [next(iter(c)) for c in remote.stream({"input": "What is task decomposition?"})]
    assert keys[:2] == ["input", "context"] and set(keys[2:]) == {"answer"}
