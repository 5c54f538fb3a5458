"""The test servers speak the wire formats other tests rely on (checked here
with plain httpx, no SDK), and record what they receive."""

from __future__ import annotations

import json

import httpx

from tests.servers import AnthropicServer, OpenAIServer, Reply
from tests.servers.fixtures import anthropic_server, openai_server  # noqa: F401


def _events(body: str) -> list[tuple[str | None, str]]:
    out = []
    for block in body.strip().split("\n\n"):
        event = None
        data = ""
        for line in block.split("\n"):
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
        out.append((event, data))
    return out


def test_openai_stream_frames(openai_server: OpenAIServer) -> None:  # noqa: F811
    openai_server.script(Reply(text=["Hi", " there"]))
    body = {"model": "m", "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "hello"}]}
    response = httpx.post(f"{openai_server.base_url}/chat/completions", json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = [data for _, data in _events(response.text)]
    assert frames[-1] == "[DONE]"
    chunks = [json.loads(f) for f in frames[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [c["choices"][0]["delta"]["content"] for c in chunks[1:3]] == ["Hi", " there"]
    assert chunks[3]["choices"][0]["finish_reason"] == "stop"
    assert chunks[4]["choices"] == [] and chunks[4]["usage"]["completion_tokens"] == 2


def test_openai_usage_only_when_asked_and_whole_answers(
    openai_server: OpenAIServer,  # noqa: F811
) -> None:
    url = f"{openai_server.base_url}/chat/completions"
    streamed = httpx.post(url, json={"model": "m", "stream": True, "messages": []}).text
    assert "prompt_tokens" not in streamed
    whole = httpx.post(url, json={"model": "m", "messages": []}).json()
    assert whole["object"] == "chat.completion"
    assert whole["choices"][0]["message"]["content"] == "Hello from the test server."
    models = httpx.get(f"{openai_server.base_url}/models").json()
    assert models["data"][0]["id"] == "test-model"


def test_anthropic_event_sequence(anthropic_server: AnthropicServer) -> None:  # noqa: F811
    anthropic_server.script(Reply(text=["Hi"]))
    body = {"model": "c", "max_tokens": 5, "stream": True,
            "messages": [{"role": "user", "content": "hello"}]}
    response = httpx.post(f"{anthropic_server.url}/v1/messages", json=body)
    names = [event for event, _ in _events(response.text)]
    assert names == [
        "message_start", "content_block_start", "ping", "content_block_delta",
        "content_block_stop", "message_delta", "message_stop",
    ]


def test_records_requests_and_disconnects_and_resets(
    openai_server: OpenAIServer,  # noqa: F811
) -> None:
    openai_server.script(Reply(status=503, headers={"Retry-After": "2"}))
    with httpx.Client() as client:
        response = client.post(
            f"{openai_server.base_url}/chat/completions",
            json={"model": "m", "messages": []}, headers={"x-probe": "1"},
        )
        assert response.status_code == 503
        assert response.headers["retry-after"] == "2"
    (request,) = openai_server.requests
    assert request.headers["x-probe"] == "1"
    assert request.json == {"model": "m", "messages": []}
    assert openai_server.wait_disconnected(request, timeout=1.0) >= request.at
    openai_server.reset()
    assert openai_server.requests == [] and openai_server.pending == 0
