"""ChatOpenAI against an OpenAI-compatible server on 127.0.0.1, through the real SDK."""

from __future__ import annotations

import asyncio
import sys

import pytest

from ragstream.errors import ConfigError, MissingDependencyError
from ragstream.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage, ToolMessage
from ragstream.models import ChatOpenAI
from tests.servers import OpenAIServer, Reply

TOKENS = ["Task", " decomposition", " breaks", " tasks", " down", "."]


def test_streams_the_server_tokens_between_an_opening_and_a_closing_chunk(
    openai_server: OpenAIServer, key: str
) -> None:
    openai_server.script(Reply(text=TOKENS))
    chunks = list(ChatOpenAI(base_url=openai_server.base_url, api_key=key).stream("hi"))
    assert all(type(c) is AIMessageChunk for c in chunks)
    # like the guide's output: an empty chunk first, the tokens, an empty closing chunk
    assert [c.content for c in chunks] == ["", *TOKENS, ""]
    assert chunks[0].id is not None and chunks[0].id.startswith("chatcmpl-")
    assert chunks[-1].response_metadata == {"finish_reason": "stop", "model_name": "gpt-4o-mini"}
    assert chunks[-1].usage_metadata == {
        "input_tokens": 1, "output_tokens": len(TOKENS), "total_tokens": 1 + len(TOKENS),
    }


def test_invoke_adds_up_text_usage_and_finish_reason(
    openai_server: OpenAIServer, key: str
) -> None:
    openai_server.script(Reply(text=TOKENS, finish_reason="length"))
    message = ChatOpenAI(base_url=openai_server.base_url, api_key=key).invoke("two words")
    assert type(message) is AIMessage
    assert message.content == "Task decomposition breaks tasks down."
    assert message.response_metadata["finish_reason"] == "length"
    assert message.usage_metadata == {"input_tokens": 2, "output_tokens": 6, "total_tokens": 8}


def test_sends_the_request_the_openai_api_expects(openai_server: OpenAIServer, key: str) -> None:
    model = ChatOpenAI(
        model="llama3.2", base_url=openai_server.base_url, api_key=key,
        temperature=0.25, max_tokens=50, model_kwargs={"seed": 7},
    )
    model.invoke([
        SystemMessage("Be brief."),
        HumanMessage("What is task decomposition?"),
        AIMessage("Breaking tasks down."),
        ToolMessage("42", tool_call_id="call_1"),
        ("human", "And CoT?"),
    ])
    (request,) = openai_server.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == f"Bearer {key}"
    assert request.json == {
        "model": "llama3.2",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is task decomposition?"},
            {"role": "assistant", "content": "Breaking tasks down."},
            {"role": "tool", "content": "42", "tool_call_id": "call_1"},
            {"role": "user", "content": "And CoT?"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.25,
        "max_tokens": 50,
        "seed": 7,
    }


def test_bind_passes_stop_temperature_max_tokens_and_extra_fields(
    openai_server: OpenAIServer, key: str
) -> None:
    model = ChatOpenAI(base_url=openai_server.base_url, api_key=key, temperature=1.0)
    bound = model.bind(stop=["\n"], temperature=0.0, max_tokens=5, top_p=0.5)
    bound.invoke("hi")
    body = openai_server.requests[0].json
    assert body["stop"] == ["\n"]
    assert body["temperature"] == 0.0
    assert body["max_tokens"] == 5
    assert body["top_p"] == 0.5


def test_stream_usage_off_leaves_stream_options_out(openai_server: OpenAIServer, key: str) -> None:
    # some local servers refuse stream_options; the answer then has no usage
    model = ChatOpenAI(base_url=openai_server.base_url, api_key=key, stream_usage=False)
    message = model.invoke("hi")
    assert "stream_options" not in openai_server.requests[0].json
    assert message.content == "Hello from the test server."
    assert message.usage_metadata is None


def test_reads_key_and_base_url_from_the_environment(
    openai_server: OpenAIServer, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    assert ChatOpenAI().invoke("hi").content == "Hello from the test server."
    assert openai_server.requests[0].headers["authorization"] == f"Bearer {key}"


def test_a_local_server_needs_no_key(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = ChatOpenAI(model="llama3.2", base_url=openai_server.base_url)
    assert model.invoke("hi").content == "Hello from the test server."
    assert openai_server.requests[0].headers["authorization"].startswith("Bearer ")


def test_openai_itself_without_a_key_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        ChatOpenAI().invoke("hi")


def test_one_instance_serves_sync_calls_and_several_event_loops(
    openai_server: OpenAIServer, key: str
) -> None:
    model = ChatOpenAI(base_url=openai_server.base_url, api_key=key)

    async def ask() -> list[str]:
        return [c.content async for c in model.astream("hi")]

    expected = ["", "Hello", " from", " the", " test", " server", ".", ""]
    assert [c.content for c in model.stream("hi")] == expected  # the shared background loop
    assert asyncio.run(ask()) == expected  # a loop of its own
    assert asyncio.run(ask()) == expected  # and another: its connections must be new
    assert model.invoke("hi").content == "Hello from the test server."
    # the client made for a finished asyncio.run loop was closed with that loop
    openai_server.wait_disconnected(openai_server.requests[2], timeout=1.0)


def test_concurrent_calls_from_threads_and_a_loop(openai_server: OpenAIServer, key: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    model = ChatOpenAI(base_url=openai_server.base_url, api_key=key)
    openai_server.default = Reply(text=["a", "b", "c"], delay=0.01)

    async def in_a_loop() -> list[str]:
        results = await asyncio.gather(*(model.ainvoke("q") for _ in range(4)))
        return [m.content for m in results]

    with ThreadPoolExecutor(4) as pool:
        sync_calls = [pool.submit(model.invoke, "q") for _ in range(4)]
        looped = pool.submit(lambda: asyncio.run(in_a_loop()))
        assert [f.result().content for f in sync_calls] == ["abc"] * 4
        assert looped.result() == ["abc"] * 4
    assert len(openai_server.requests) == 8


def test_repr_names_model_and_server() -> None:
    model = ChatOpenAI(model="m", base_url="http://user:pw@127.0.0.1:9/v1?token=t", api_key="k")
    assert repr(model) == "ChatOpenAI(model='m', base_url='http://127.0.0.1:9/v1')"
    assert model.model_name == "m"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"first_token_timeout": 0}, "first_token_timeout"),
        ({"total_timeout": -5}, "total_timeout"),
        ({"retry_backoff": -1}, "retry_backoff"),
    ],
)
def test_bad_limits_are_config_errors(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        ChatOpenAI(base_url="http://127.0.0.1:9/v1", **kwargs)  # type: ignore[arg-type]


def test_without_the_sdk_the_error_says_what_to_install(
    openai_server: OpenAIServer, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # as if it were not installed
    model = ChatOpenAI(base_url=openai_server.base_url, api_key=key)
    with pytest.raises(MissingDependencyError, match=r'pip install "ragstream\[openai\]"'):
        model.invoke("hi")
    assert openai_server.requests == []
