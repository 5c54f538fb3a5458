"""A client that goes away cancels the chain: the upstream model request
closes within a second, no task keeps running, the partial answer is kept."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai
import pytest

from ragstream.messages import AIMessageChunk, BaseMessage
from ragstream.models import BaseChatModel, ChatOpenAI
from ragstream.server import create_rag_server
from tests.server._live import FakeRagApp, LiveServer, aiter_sse, run
from tests.servers import OpenAIServer, Reply

LONG = " ".join(f"word{i}" for i in range(300))


class RecordingModel(BaseChatModel):
    """Streams many tokens slowly; records how many it yielded and when its
    stream was closed."""

    def __init__(self, delay: float = 0.03) -> None:
        self.delay = delay
        self.yielded = 0
        self.closed_at: float | None = None

    async def _astream_chat(self, messages: list[BaseMessage], **kwargs: Any
                            ) -> AsyncIterator[AIMessageChunk | str]:
        self.closed_at = None
        try:
            for i in range(1000):
                await asyncio.sleep(self.delay)
                self.yielded += 1
                yield f" t{i}"
        finally:
            self.closed_at = time.monotonic()


def _wait_until(check: Any, timeout: float = 2.0) -> float:
    """Poll ``check()`` until true; the seconds it took."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)
    return time.monotonic() - started


def _tasks(server: LiveServer) -> int:
    return int(httpx.get(f"{server.url}/test/tasks", timeout=5).json()["tasks"])


def _open_streams(server: LiveServer) -> int:
    return int(httpx.get(f"{server.url}/healthz", timeout=5).json()["open_streams"])


@pytest.fixture
def recording(tmp_path) -> Iterator[tuple[LiveServer, RecordingModel, FakeRagApp]]:
    from starlette.routing import Route

    from tests.server.conftest import _task_count

    model = RecordingModel()
    rag = FakeRagApp(tmp_path, model=model)
    app = create_rag_server(rag, keepalive=None)
    app.router.routes.append(Route("/test/tasks", _task_count))
    with LiveServer(app) as server:
        yield server, model, rag


def test_leaving_a_chat_turn_stops_the_model_and_keeps_the_partial_answer(
    recording: tuple[LiveServer, RecordingModel, FakeRagApp],
) -> None:
    server, model, _ = recording
    baseline = _tasks(server)

    async def main() -> tuple[str, list[str], float]:
        tokens: list[str] = []
        session = ""
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
            async with c.stream("POST", "/chat", json={"question": "What is it?"}) as r:
                async for event in aiter_sse(r):
                    if event.event == "session":
                        session = event.json()["session_id"]
                    if event.event == "token":
                        tokens.append(event.json()["text"])
                        if len(tokens) == 5:
                            break
            left = time.monotonic()  # the connection is closed here
        return session, tokens, left

    session, tokens, left = run(main())
    _wait_until(lambda: model.closed_at is not None, timeout=1.0)
    assert model.closed_at is not None and model.closed_at - left < 1.0
    yielded = model.yielded
    time.sleep(0.2)
    assert model.yielded == yielded  # nothing runs on
    _wait_until(lambda: _open_streams(server) == 0, timeout=1.0)
    _wait_until(lambda: _tasks(server) <= baseline, timeout=1.0)

    saved = httpx.get(f"{server.url}/sessions/{session}", timeout=5).json()["messages"]
    assert saved[-1]["type"] == "ai" and saved[-1]["incomplete"] is True
    assert saved[-1]["content"].startswith("".join(tokens))
    assert saved[-1]["response_metadata"]["incomplete"] is True


def test_leaving_an_invoke_cancels_it(
    recording: tuple[LiveServer, RecordingModel, FakeRagApp],
) -> None:
    server, model, _ = recording
    baseline = _tasks(server)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server.url}/rag/invoke", json={"input": {"input": "What is it?"}},
                   timeout=0.3)
    left = time.monotonic()
    _wait_until(lambda: model.closed_at is not None, timeout=1.0)
    assert model.closed_at is not None and model.closed_at - left < 1.0
    _wait_until(lambda: _tasks(server) <= baseline, timeout=1.0)


@pytest.fixture
def openai_backed(
    tmp_path, openai_server: OpenAIServer
) -> Iterator[tuple[LiveServer, OpenAIServer]]:
    model = ChatOpenAI(model="test-model", base_url=openai_server.base_url, api_key="test-key",
                       max_retries=0)
    app = create_rag_server(FakeRagApp(tmp_path, model=model), keepalive=None)
    with LiveServer(app) as server:
        yield server, openai_server


def test_model_server_sees_the_upstream_close_within_a_second_rag_stream(
    openai_backed: tuple[LiveServer, OpenAIServer],
) -> None:
    server, upstream = openai_backed
    upstream.default = Reply(text=LONG, delay=0.02)

    async def main() -> float:
        async with (
            httpx.AsyncClient(base_url=server.url, timeout=10) as c,
            c.stream("POST", "/rag/stream", json={"input": {"input": "What is it?"}}) as r,
        ):
            answers = 0
            async for event in aiter_sse(r):
                if event.event == "data" and "answer" in event.json():
                    answers += 1
                    if answers == 5:
                        break
        return time.monotonic()

    left = run(main())
    request = upstream.wait_requests(1)[-1]
    closed = upstream.wait_disconnected(request, timeout=3)
    assert closed - left < 1.0
    _wait_until(lambda: _open_streams(server) == 0, timeout=1.0)


def test_model_server_sees_the_upstream_close_within_a_second_openai_client(
    openai_backed: tuple[LiveServer, OpenAIServer],
) -> None:
    server, upstream = openai_backed
    upstream.default = Reply(text=LONG, delay=0.02)
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0)
    stream = client.chat.completions.create(
        model="ragstream", messages=[{"role": "user", "content": "What is it?"}], stream=True)
    got = 0
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            got += 1
            if got == 5:
                break
    stream.close()
    left = time.monotonic()
    request = upstream.wait_requests(1)[-1]
    closed = upstream.wait_disconnected(request, timeout=3)
    assert closed - left < 1.0
