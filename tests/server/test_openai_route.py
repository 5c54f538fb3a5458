"""The OpenAI-compatible route with the official ``openai`` client, unchanged."""

from __future__ import annotations

import httpx
import openai
import pytest

from ragstream.server import create_rag_server
from tests.server._live import SECRET, FailingModel, FakeRagApp, LiveServer, parse_sse, run

QUESTION = "What is task decomposition?"
ANSWER = "Task decomposition splits a hard task into smaller steps [1]."


def make_client(server: LiveServer, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=10)


def test_models_lists_the_served_chain(rag_server: LiveServer) -> None:
    client = make_client(rag_server)
    models = client.models.list().data
    assert [m.id for m in models] == ["ragstream"]
    assert models[0].model_extra["model_label"] == "fake model"
    assert client.models.retrieve("ragstream").id == "ragstream"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_completion_without_streaming(rag_server: LiveServer) -> None:
    response = make_client(rag_server).chat.completions.create(
        model="ragstream", messages=[{"role": "user", "content": QUESTION}], temperature=0.2,
    )
    assert response.object == "chat.completion"
    assert response.choices[0].message.role == "assistant"
    assert response.choices[0].message.content == ANSWER
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None and response.usage.completion_tokens > 0
    sources = response.model_extra["sources"]
    assert sources[0]["title"] == "LLM Powered Autonomous Agents"
    assert sources[0]["link"].startswith("https://") and sources[0]["score"] > 0


def test_streaming_with_sources_in_the_final_chunk(rag_server: LiveServer) -> None:
    stream = make_client(rag_server).chat.completions.create(
        model="ragstream", messages=[{"role": "user", "content": QUESTION}], stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == ANSWER
    contents = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(contents) > 5  # token by token
    final = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
    assert final.choices[0].finish_reason == "stop"
    assert [s["rank"] for s in final.model_extra["sources"]] == [1, 2]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0
    assert len({c.id for c in chunks}) == 1


def test_earlier_messages_are_the_chat_history(rag_app: FakeRagApp,
                                               rag_server: LiveServer) -> None:
    before = len(rag_app.rewrite_model.calls)
    make_client(rag_server).chat.completions.create(
        model="ragstream",
        messages=[
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Tell me about agents."},
            {"role": "assistant", "content": "Agents plan with task decomposition."},
            {"role": "user", "content": [{"type": "text", "text": "How does it work?"}]},
        ],
    )
    # a history means the question is rewritten first, with that history in the prompt
    assert len(rag_app.rewrite_model.calls) == before + 1
    prompt = [m.content for m in rag_app.rewrite_model.calls[-1]]
    assert "Tell me about agents." in prompt and prompt[-1] == "How does it work?"
    assert "Agents plan with task decomposition." in prompt


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"model": "gpt-4o"}, openai.NotFoundError, "does not exist"),
        ({"messages": []}, openai.BadRequestError, "non-empty"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, openai.BadRequestError,
         "last message must come from the user"),
        ({"messages": [{"role": "tool", "content": "x", "tool_call_id": "1"}]},
         openai.BadRequestError, "unsupported field"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, openai.BadRequestError,
         "role must be one of"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url",
                                                     "image_url": {"url": "x"}}]}]},
         openai.BadRequestError, "only text parts"),
        ({"n": 2}, openai.BadRequestError, "only n=1"),
        ({"extra_body": {"base_url": "http://evil"}}, openai.BadRequestError,
         "unrecognized request argument supplied: base_url"),
        ({"stream": True, "stream_options": {"secret": True}}, openai.BadRequestError,
         "stream_options"),
    ],
)
def test_bad_requests_raise_the_clients_errors(
    rag_server: LiveServer, kwargs: dict, error: type[Exception], needle: str
) -> None:
    args = {"model": "ragstream", "messages": [{"role": "user", "content": QUESTION}], **kwargs}
    with pytest.raises(error) as info:
        make_client(rag_server).chat.completions.create(**args)
    assert needle in str(info.value)


def test_malformed_json_and_wrong_types_are_400(rag_server: LiveServer) -> None:
    async def main() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=rag_server.url) as c:
            headers = {"content-type": "application/json"}
            return [
                await c.post("/v1/chat/completions", content=b'{"model": ', headers=headers),
                await c.post("/v1/chat/completions", json={"model": 1, "messages": []}),
                await c.post("/v1/chat/completions", json={
                    "model": "ragstream", "stream": "yes",
                    "messages": [{"role": "user", "content": "q"}]}),
            ]

    for response in run(main()):
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request_error"


def test_failure_mid_stream_raises_in_the_client_and_leaks_nothing(tmp_path) -> None:
    app = create_rag_server(FakeRagApp(tmp_path, model=FailingModel()), keepalive=None)
    with LiveServer(app) as server:
        stream = make_client(server).chat.completions.create(
            model="ragstream", messages=[{"role": "user", "content": QUESTION}], stream=True)
        got = []
        with pytest.raises(openai.APIError) as info:
            for chunk in stream:
                got.append(chunk.choices[0].delta.content or "")
        assert "".join(got) == "Partial answer"
        assert "answered with status 500" in str(info.value)
        assert SECRET not in str(info.value)

        raw = httpx.post(f"{server.url}/v1/chat/completions", timeout=10, json={
            "model": "ragstream", "stream": True,
            "messages": [{"role": "user", "content": QUESTION}]})
        events = parse_sse(raw.text)
        assert "error" in events[-1].json() and "[DONE]" not in raw.text
        assert SECRET not in raw.text and "Traceback" not in raw.text

        with pytest.raises(openai.APIStatusError) as whole:
            make_client(server).chat.completions.create(
                model="ragstream", messages=[{"role": "user", "content": QUESTION}])
        assert whole.value.status_code == 502 and SECRET not in whole.value.response.text
