"""ChatAnthropic against an Anthropic-compatible server on 127.0.0.1, through the real SDK."""

from __future__ import annotations

import asyncio
import sys

import pytest

from ragstream.errors import ConfigError, InputError, MissingDependencyError
from ragstream.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from ragstream.models import ChatAnthropic
from tests.servers import AnthropicServer, Reply

TOKENS = ["Task", " decomposition", " breaks", " tasks", " down", "."]


def sent_key(headers: dict[str, str]) -> str:
    """The key a request carried (the SDK sends it as a bearer token or x-api-key)."""
    return headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")


def test_streams_tokens_with_usage_from_message_start_and_message_delta(
    anthropic_server: AnthropicServer, key: str
) -> None:
    anthropic_server.script(Reply(text=TOKENS))
    model = ChatAnthropic(base_url=anthropic_server.url, api_key=key)
    chunks = list(model.stream([("system", "Be brief."), ("human", "What is it?")]))
    assert [c.content for c in chunks] == ["", *TOKENS, ""]
    assert chunks[0].id is not None and chunks[0].id.startswith("msg_")
    last = chunks[-1]
    assert last.response_metadata == {"finish_reason": "end_turn", "model_name": "claude-haiku-4-5"}
    # input tokens from message_start (the server counts word tokens: 3 + 4), output
    # tokens from the last message_delta (message_start said 1)
    assert last.usage_metadata == {"input_tokens": 7, "output_tokens": 6, "total_tokens": 13}


def test_system_messages_move_to_the_system_field(
    anthropic_server: AnthropicServer, key: str
) -> None:
    model = ChatAnthropic(
        model="claude-test-model", base_url=anthropic_server.url, api_key=key,
        max_tokens=99, temperature=0.5,
    )
    model.invoke([
        SystemMessage("Be brief."),
        HumanMessage("What is task decomposition?"),
        AIMessage("Breaking tasks down."),
        SystemMessage("Cite sources."),
        HumanMessage("And CoT?"),
    ])
    (request,) = anthropic_server.requests
    assert (request.method, request.path) == ("POST", "/v1/messages")
    assert sent_key(request.headers) == key
    assert "anthropic-version" in request.headers
    assert request.json == {
        "model": "claude-test-model",
        "max_tokens": 99,
        "temperature": 0.5,
        "stream": True,
        "system": "Be brief.\n\nCite sources.",
        "messages": [
            {"role": "user", "content": "What is task decomposition?"},
            {"role": "assistant", "content": "Breaking tasks down."},
            {"role": "user", "content": "And CoT?"},
        ],
    }


def test_bind_stop_becomes_stop_sequences(anthropic_server: AnthropicServer, key: str) -> None:
    anthropic_server.script(Reply(text=["Hi"], finish_reason="stop_sequence"))
    model = ChatAnthropic(base_url=anthropic_server.url, api_key=key)
    message = model.bind(stop=["\n\n"], max_tokens=7, top_k=3).invoke("hi")
    body = anthropic_server.requests[0].json
    assert body["stop_sequences"] == ["\n\n"]
    assert body["max_tokens"] == 7
    assert body["top_k"] == 3
    assert message.response_metadata["finish_reason"] == "stop_sequence"


def test_reads_key_and_base_url_from_the_environment(
    anthropic_server: AnthropicServer, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic_server.url)
    assert ChatAnthropic().invoke("hi").content == "Hello from the test server."
    assert sent_key(anthropic_server.requests[0].headers) == key


def test_anthropic_itself_without_a_key_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        ChatAnthropic().invoke("hi")


def test_sync_and_async_use_of_one_instance(anthropic_server: AnthropicServer, key: str) -> None:
    model = ChatAnthropic(base_url=anthropic_server.url, api_key=key)

    async def ask() -> str:
        return "".join([c.content async for c in model.astream("hi")])

    assert model.invoke("hi").content == "Hello from the test server."
    assert asyncio.run(ask()) == "Hello from the test server."
    assert asyncio.run(ask()) == "Hello from the test server."
    assert model.invoke("hi").content == "Hello from the test server."


def test_tool_messages_are_refused_with_a_clear_error(
    anthropic_server: AnthropicServer, key: str
) -> None:
    model = ChatAnthropic(base_url=anthropic_server.url, api_key=key)
    with pytest.raises(InputError, match="ToolMessage"):
        model.invoke([ToolMessage("42", tool_call_id="t1")])
    assert anthropic_server.requests == []


def test_without_the_sdk_the_error_says_what_to_install(
    anthropic_server: AnthropicServer, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "anthropic", None)  # as if it were not installed
    model = ChatAnthropic(base_url=anthropic_server.url, api_key=key)
    with pytest.raises(MissingDependencyError, match=r'pip install "ragstream\[anthropic\]"'):
        model.invoke("hi")


def test_max_tokens_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="max_tokens"):
        ChatAnthropic(max_tokens=0)


def test_repr_names_model_and_server() -> None:
    model = ChatAnthropic(model="claude-x", base_url="http://127.0.0.1:9", api_key="k")
    assert repr(model) == "ChatAnthropic(model='claude-x', base_url='http://127.0.0.1:9')"
