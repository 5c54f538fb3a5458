"""Runnable routes over real HTTP: shapes, streams, events, bad input."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.server._live import (
    SECRET,
    LiveServer,
    SSEDecoder,
    aiter_sse,
    collect_sse,
    parse_sse,
    run,
)
from tests.server.conftest import ANSWER


def client(server: LiveServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, timeout=10)


def test_invoke_returns_output_and_run_id(runnable_server: LiveServer) -> None:
    async def main() -> httpx.Response:
        async with client(runnable_server) as c:
            return await c.post("/chain/invoke", json={"input": {"question": "hi"},
                                                       "config": {"tags": ["t"]}, "kwargs": {}})

    body = run(main()).json()
    assert body["output"] == ANSWER
    assert len(body["metadata"]["run_id"]) == 36 and body["metadata"]["feedback_tokens"] == []
    assert body["callback_events"] == []


def test_invoke_serializes_documents_and_messages(runnable_server: LiveServer) -> None:
    async def main() -> httpx.Response:
        async with client(runnable_server) as c:
            return await c.post("/echo/invoke", json={"input": {"n": 3}})

    out = run(main()).json()["output"]
    assert out["echo"] == {"n": 3}
    assert out["doc"] == {"id": "d1", "metadata": {"source": "a.txt"}, "page_content": "hello",
                          "type": "Document"}
    assert out["message"] == {"type": "ai", "content": "hi",
                              "response_metadata": {"model_name": "m"}}


def test_batch_with_one_config_and_with_a_list(runnable_server: LiveServer) -> None:
    async def main() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        async with client(runnable_server) as c:
            one = await c.post("/chain/batch", json={
                "inputs": [{"question": "a"}, {"question": "b"}], "config": {"tags": ["x"]}})
            many = await c.post("/chain/batch", json={
                "inputs": [{"question": "a"}], "config": [{"metadata": {"k": 1}}]})
            mismatch = await c.post("/chain/batch", json={
                "inputs": [{"question": "a"}], "config": [{}, {}]})
            return one, many, mismatch

    one, many, mismatch = run(main())
    assert one.json()["output"] == [ANSWER, ANSWER]
    meta = one.json()["metadata"]
    assert len(meta["run_ids"]) == 2 and [r["run_id"] for r in meta["responses"]] == meta["run_ids"]
    assert many.json()["output"] == [ANSWER]
    assert mismatch.status_code == 422 and "must match" in mismatch.json()["detail"]


def test_stream_sends_metadata_then_chunks_then_end(runnable_server: LiveServer) -> None:
    async def main() -> tuple[httpx.Response, list]:
        async with client(runnable_server) as c:
            return await collect_sse(c, "/chain/stream", {"input": {"question": "hi"}})

    response, events = run(main())
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-store"
    assert events[0].event == "metadata" and len(events[0].json()["run_id"]) == 36
    assert events[-1] == events[-1].__class__("end", "")
    chunks = [e.json() for e in events if e.event == "data"]
    assert len(chunks) > 5 and "".join(chunks) == ANSWER


def test_stream_of_a_model_sends_message_chunks(runnable_server: LiveServer) -> None:
    async def main() -> list:
        async with client(runnable_server) as c:
            return (await collect_sse(c, "/model/stream", {"input": "hi"}))[1]

    chunks = [e.json() for e in run(main()) if e.event == "data"]
    assert chunks[0] == {"type": "AIMessageChunk", "content": "Task"}
    assert chunks[-1]["usage_metadata"]["output_tokens"] == len(chunks)
    assert chunks[-1]["response_metadata"]["finish_reason"] == "stop"


def test_stream_events_with_filters(runnable_server: LiveServer) -> None:
    async def main() -> tuple[list, list]:
        async with client(runnable_server) as c:
            tagged = (await collect_sse(c, "/chain/stream_events", {
                "input": {"question": "hi"}, "include_tags": ["answer_llm"]}))[1]
            no_models = (await collect_sse(c, "/chain/stream_events", {
                "input": {"question": "hi"}, "exclude_types": ["chat_model"]}))[1]
            return tagged, no_models

    tagged, no_models = run(main())
    assert tagged[-1].event == "end"
    events = [e.json() for e in tagged if e.event == "data"]
    assert {e["event"] for e in events} == {
        "on_chat_model_start", "on_chat_model_stream", "on_chat_model_end"}
    first = events[0]
    assert set(first) >= {"event", "name", "run_id", "tags", "metadata", "data", "parent_ids"}
    assert "answer_llm" in first["tags"] and len(first["parent_ids"]) == 1
    streamed = [e["data"]["chunk"]["content"] for e in events
                if e["event"] == "on_chat_model_stream"]
    assert "".join(streamed) == ANSWER
    # the start event carries the prompt's messages as serialized messages
    assert first["data"]["input"]["messages"][0][1] == {"type": "human", "content": "hi"}
    kinds = {e.json()["event"] for e in no_models if e.event == "data"}
    assert "on_prompt_start" in kinds and not any("chat_model" in k for k in kinds)


def test_stream_events_refuses_an_unknown_event_type(runnable_server: LiveServer) -> None:
    async def main() -> httpx.Response:
        async with client(runnable_server) as c:
            return await c.post("/chain/stream_events", json={
                "input": {"question": "hi"}, "include_types": ["chat_modle"]})

    response = run(main())
    assert response.status_code == 422 and "chat_modle" in response.json()["detail"]


def test_schemas(runnable_server: LiveServer) -> None:
    async def main() -> tuple[httpx.Response, httpx.Response]:
        async with client(runnable_server) as c:
            return await c.get("/echo/input_schema"), await c.get("/chain/output_schema")

    inp, out = run(main())
    assert inp.json()["properties"] == {"n": {"type": "integer"}}
    assert out.json() == {"title": "RunnableSequenceOutput"}


def test_upstream_failure_mid_stream_is_an_error_event_then_the_end(
    runnable_server: LiveServer,
) -> None:
    async def main() -> tuple[list, float]:
        started = time.monotonic()
        async with client(runnable_server) as c:
            events = (await collect_sse(c, "/failing/stream", {"input": "hi"}))[1]
        return events, time.monotonic() - started

    events, took = run(main())
    assert took < 5  # the stream ended; it did not hang
    assert [e.event for e in events] == ["metadata", "data", "data", "error"]
    error = events[-1].json()
    assert error["status_code"] == 502
    assert error["message"].startswith("the model server answered with status 500")
    raw = "".join(e.data for e in events)
    assert SECRET not in raw and "/srv/secret" not in raw and "Traceback" not in raw


def test_upstream_failure_in_invoke_is_a_safe_502(runnable_server: LiveServer) -> None:
    async def main() -> httpx.Response:
        async with client(runnable_server) as c:
            return await c.post("/failing/invoke", json={"input": "hi"})

    response = run(main())
    assert response.status_code == 502
    assert SECRET not in response.text and "Traceback" not in response.text


def test_keepalive_pings_while_retrieval_is_slow(runnable_server: LiveServer) -> None:
    async def main() -> tuple[list[str], list]:
        decoder = SSEDecoder()
        async with (
            client(runnable_server) as c,
            c.stream("POST", "/sleepy/stream", json={"input": "task"}) as r,
        ):
            events = [e async for e in aiter_sse(r, decoder)]
        return decoder.comments, events

    comments, events = run(main())
    assert comments.count("ping") >= 2  # 0.7 s of retrieval, a ping every 0.2 s
    docs = next(e.json() for e in events if e.event == "data")
    assert docs[0]["type"] == "Document"


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"", 400, "empty"),
        (b"[1, 2]", 422, "must be a JSON object"),
        (b'{"input": {"n": 1}, "extra": 1}', 422, "unknown field"),
        (b'{"config": {}}', 422, "missing the field 'input'"),
        (b'{"input": {"n": "one"}}', 422, "must be of type integer"),
        (b'{"input": {"m": 1}}', 422, "unknown field"),
        (b'{"input": {}, "kwargs": {"base_url": "http://evil"}}', 422, "kwargs are not accepted"),
        (b'{"input": {}, "config": {"configurable": {"model": "x"}}}', 422, "configurable"),
        (b'{"input": {}, "config": {"callbacks": ["x"]}}', 422, "callbacks"),
        (b'{"input": {}, "config": {"tags": "x"}}', 422, "tags must be a list"),
        (b'{"input": {}, "config": {"secret": 1}}', 422, "unknown config keys"),
        (b'{"input": NaN}', 400, "not valid JSON"),
    ],
)
def test_bad_requests(runnable_server: LiveServer, body: bytes, status: int, needle: str) -> None:
    async def main() -> list[httpx.Response]:
        async with client(runnable_server) as c:
            headers = {"content-type": "application/json"}
            return [await c.post(f"/echo/{route}", content=body, headers=headers)
                    for route in ("invoke", "stream")]

    for response in run(main()):
        assert response.status_code == status, response.text
        assert needle in response.text


def test_wrong_content_type_is_415(runnable_server: LiveServer) -> None:
    async def main() -> httpx.Response:
        async with client(runnable_server) as c:
            return await c.post("/echo/invoke", content=b'{"input": {}}',
                                headers={"content-type": "text/plain"})

    response = run(main())
    assert response.status_code == 415 and "application/json" in response.json()["detail"]


def test_oversized_bodies_are_413_with_or_without_length(runnable_server: LiveServer) -> None:
    big = b'{"input": "' + b"x" * (100 * 1024) + b'"}'

    async def chunks():  # no Content-Length: sent chunked
        for i in range(0, len(big), 8192):
            yield big[i:i + 8192]

    async def main() -> tuple[httpx.Response, httpx.Response]:
        async with client(runnable_server) as c:
            headers = {"content-type": "application/json"}
            sized = await c.post("/model/invoke", content=big, headers=headers)
            chunked = await c.post("/model/invoke", content=chunks(), headers=headers)
            return sized, chunked

    sized, chunked = run(main())
    assert sized.status_code == 413 and "limit is 65536" in sized.json()["detail"]
    assert chunked.status_code == 413 and "over the limit" in chunked.json()["detail"]


def test_unknown_route_and_method(runnable_server: LiveServer) -> None:
    async def main() -> tuple[httpx.Response, httpx.Response]:
        async with client(runnable_server) as c:
            return await c.post("/nope/invoke", json={}), await c.get("/chain/invoke")

    missing, wrong = run(main())
    assert missing.status_code == 404 and wrong.status_code == 405


def test_add_routes_in_a_fastapi_app() -> None:
    fastapi = pytest.importorskip("fastapi")
    from ragstream.server import add_routes
    from ragstream.testing import FakeChatModel

    app = fastapi.FastAPI()

    @app.get("/own")
    def own() -> dict[str, str]:
        return {"mine": "yes"}

    add_routes(app, FakeChatModel(ANSWER), path="/model", max_body_bytes=1024)
    with LiveServer(app) as server:
        assert httpx.get(f"{server.url}/own").json() == {"mine": "yes"}
        out = httpx.post(f"{server.url}/model/invoke", json={"input": "hi"}).json()["output"]
        assert out["content"] == ANSWER and out["type"] == "ai"
        events = [e.event for e in parse_sse(
            httpx.post(f"{server.url}/model/stream", json={"input": "hi"}).text)]
        assert events[0] == "metadata" and events[-1] == "end"
        big = httpx.post(f"{server.url}/model/invoke", json={"input": "x" * 2000})
        assert big.status_code == 413


def test_add_routes_checks_its_path() -> None:
    from starlette.applications import Starlette

    from ragstream.errors import ConfigError
    from ragstream.server import add_routes
    from ragstream.testing import FakeChatModel

    for bad in ("model", "/model/"):
        with pytest.raises(ConfigError, match="path must start with '/'"):
            add_routes(Starlette(), FakeChatModel("x"), path=bad)
