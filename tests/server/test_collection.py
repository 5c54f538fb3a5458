"""A collection that does not exist or holds nothing: questions get a clear
refusal on every route, the answer is cached, and ingest lifts it. File
sources are shown to clients relative to the collection's files."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from ragstream.app import RagApp
from ragstream.config import Settings
from ragstream.documents import Document
from ragstream.server import create_rag_server
from tests.server._live import (
    CORPUS,
    FakeRagApp,
    KeywordRetriever,
    LiveServer,
    parse_sse,
    wait_ready,
)

QUESTION = {"input": "What is task decomposition?"}


def refusal(what: str) -> str:
    return (
        f"collection 'test' {what}: add documents first, with "
        "`ragstream ingest PATH_OR_URL --collection test` on the server, "
        'or POST /ingest {"urls": [...]}'
    )


def empty_app(tmp_path: Path, *, exists: bool = False) -> FakeRagApp:
    return FakeRagApp(tmp_path, retriever=KeywordRetriever([]), exists=exists)


@pytest.fixture
def site() -> Iterator[LiveServer]:
    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse("<title>Decomposition</title><p>Task decomposition breaks a "
                            "complicated task into smaller steps.</p>")

    with LiveServer(Starlette(routes=[Route("/decomposition", page)])) as server:
        yield server


def serve(rag: FakeRagApp, **kwargs: Any) -> LiveServer:
    kwargs.setdefault("allow_private_urls", True)
    server = LiveServer(create_rag_server(rag, keepalive=None, **kwargs)).start()
    wait_ready(server.url)
    return server


def test_every_question_route_refuses_an_unknown_collection(tmp_path: Path) -> None:
    rag = empty_app(tmp_path)
    server = serve(rag)
    url = server.url
    try:
        message = refusal("does not exist yet")

        invoke = httpx.post(f"{url}/rag/invoke", json={"input": QUESTION})
        assert invoke.status_code == 409 and invoke.json() == {"detail": message}
        batch = httpx.post(f"{url}/rag/batch", json={"inputs": [QUESTION]})
        assert batch.status_code == 409 and batch.json() == {"detail": message}
        for route in ("/rag/stream", "/rag/stream_events"):
            response = httpx.post(url + route, json={"input": QUESTION})
            events = parse_sse(response.text)
            assert response.status_code == 200
            assert [(e.event, e.json()) for e in events] == [
                ("error", {"status_code": 409, "message": message})
            ], route

        chat = parse_sse(httpx.post(f"{url}/chat", json={"question": "What is it?"}).text)
        assert [(e.event, e.json()) for e in chat] == [
            ("error", {"status_code": 409, "message": message})
        ]
        assert httpx.get(f"{url}/sessions").json() == {"sessions": []}  # nothing saved

        body = {"model": "ragstream", "messages": [{"role": "user", "content": "What is it?"}]}
        completion = httpx.post(f"{url}/v1/chat/completions", json=body)
        assert completion.status_code == 409
        assert completion.json() == {"error": {
            "message": message, "type": "invalid_request_error", "param": None,
            "code": "no_documents",
        }}
        streamed = parse_sse(httpx.post(f"{url}/v1/chat/completions",
                                        json={**body, "stream": True}).text)
        assert [e.json() for e in streamed] == [{"error": {
            "message": message, "type": "invalid_request_error", "param": None,
            "code": "no_documents",
        }}]
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.ConflictError, match="does not exist yet"):
            client.chat.completions.create(model="ragstream", messages=body["messages"])

        info = httpx.get(f"{url}/info").json()
        assert info["collection"] == "test" and info["documents"] is False
    finally:
        server.stop()
    assert rag.docs_retriever.queries == []  # no question reached the chain


def test_an_empty_collection_is_named_empty(tmp_path: Path) -> None:
    server = serve(empty_app(tmp_path, exists=True))
    try:
        response = httpx.post(f"{server.url}/rag/invoke", json={"input": QUESTION})
    finally:
        server.stop()
    assert response.status_code == 409 and response.json()["detail"] == refusal("is empty")


def test_startup_logs_a_warning_that_says_how_to_ingest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rag = empty_app(tmp_path)
    with caplog.at_level(logging.WARNING, logger="ragstream.server"):
        serve(rag).stop()
    warnings = [r.getMessage() for r in caplog.records if r.name == "ragstream.server"]
    assert warnings == [
        f"collection 'test' does not exist in {rag.store_location}: questions are refused "
        "(HTTP 409) until it holds documents; add some with `ragstream ingest PATH_OR_URL "
        "--collection test` (same data directory), or POST /ingest"
    ]


def test_no_warning_for_a_collection_with_documents(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="ragstream.server"):
        serve(FakeRagApp(tmp_path)).stop()
    assert [r for r in caplog.records if r.name == "ragstream.server"] == []


def test_the_answer_is_cached_and_an_ingest_job_refreshes_it(
    tmp_path: Path, site: LiveServer
) -> None:
    rag = empty_app(tmp_path)
    server = serve(rag, collection_ttl=600)  # only the ingest can refresh it here
    url = server.url
    try:
        assert rag.checks == 1  # at startup
        for _ in range(5):
            assert httpx.post(f"{url}/rag/invoke", json={"input": QUESTION}).status_code == 409
        assert rag.checks == 1  # the questions cost no check

        job = httpx.post(f"{url}/ingest", json={"urls": [f"{site.url}/decomposition"]}).json()
        events = parse_sse(httpx.get(url + job["events_url"], timeout=30).text)
        assert [e.event for e in events][-2:] == ["done", "end"]
        assert httpx.get(f"{url}/info").json()["documents"] is True  # what the page asks
        assert rag.checks == 2

        turn = parse_sse(httpx.post(f"{url}/chat", json={"question": "What is task "
                                                        "decomposition?"}, timeout=30).text)
        assert [e.event for e in turn][-2:] == ["done", "end"]
        cards = next(e.json()["sources"] for e in turn if e.event == "sources")
        assert cards[0]["link"] == f"{site.url}/decomposition"
        assert rag.checks == 2
    finally:
        server.stop()


def test_documents_added_by_another_process_are_seen_after_the_ttl(tmp_path: Path) -> None:
    rag = empty_app(tmp_path)
    server = serve(rag, collection_ttl=0.3)
    try:
        # as `ragstream ingest` run beside the server would
        rag.docs_retriever.docs.extend(CORPUS)
        rag.exists = True
        response = httpx.post(f"{server.url}/rag/invoke", json={"input": QUESTION})
        if response.status_code == 409:  # the startup answer was still fresh
            time.sleep(0.35)
            response = httpx.post(f"{server.url}/rag/invoke", json={"input": QUESTION})
    finally:
        server.stop()
    assert response.status_code == 200
    assert "Task decomposition" in response.json()["output"]["answer"]


def test_a_collection_with_documents_answers(rag_server: LiveServer) -> None:
    response = httpx.post(f"{rag_server.url}/rag/invoke", json={"input": QUESTION})
    assert response.status_code == 200


# -- how sources are shown ----------------------------------------------------------

FILES = [
    Document("Task decomposition breaks a task into steps.",
             metadata={"source": "/srv/ana/corpus/notes/planning.md"}, id="f1"),
    Document("Task decomposition with tree of thoughts explores several paths.",
             metadata={"source": "/srv/ana/corpus/notes/deep/tot.md"}, id="f2"),
    Document("Task reflection refines decisions.",
             metadata={"source": "https://example.org/reflection"}, id="f3"),
]
V1 = {"model": "ragstream", "messages": [{"role": "user", "content": "What is task "
                                          "decomposition?"}]}


def _v1_sources(url: str) -> list[str]:
    body = httpx.post(f"{url}/v1/chat/completions", json=V1, timeout=30).json()
    return [s["source"] for s in body["sources"]]


def _chat_sources(url: str) -> list[str]:
    turn = parse_sse(httpx.post(f"{url}/chat", json={"question": "What is task "
                                                     "decomposition?"}, timeout=30).text)
    return [c["source"] for c in next(e.json()["sources"] for e in turn
                                      if e.event == "sources")]


def test_file_sources_are_shown_relative_to_the_collections_files(tmp_path: Path) -> None:
    rag = FakeRagApp(tmp_path, retriever=KeywordRetriever(FILES, k=3))
    server = serve(rag)
    try:
        expected = ["notes/planning.md", "notes/deep/tot.md", "https://example.org/reflection"]
        assert _v1_sources(server.url) == expected
        assert _chat_sources(server.url) == expected
        # /rag sends the documents themselves, unchanged
        rag_out = httpx.post(f"{server.url}/rag/invoke", json={"input": QUESTION}).json()
        assert [d["metadata"]["source"] for d in rag_out["output"]["context"]] == [
            d.metadata["source"] for d in FILES
        ]
        assert httpx.get(f"{server.url}/info").json()["source_paths"] == "relative"
    finally:
        server.stop()


def test_labels_follow_the_collection_when_it_grows(tmp_path: Path) -> None:
    rag = FakeRagApp(tmp_path, retriever=KeywordRetriever(FILES, k=3))
    server = serve(rag, collection_ttl=0.2)
    try:
        assert _v1_sources(server.url)[0] == "notes/planning.md"
        rag.docs_retriever.docs.append(Document(
            "Other files.", metadata={"source": "/srv/ana/archive/old.md"}, id="f4"))
        time.sleep(0.25)
        assert _v1_sources(server.url)[0] == "ana/corpus/notes/planning.md"
    finally:
        server.stop()


def test_full_paths_when_the_option_is_off(tmp_path: Path) -> None:
    server = serve(FakeRagApp(tmp_path, retriever=KeywordRetriever(FILES, k=3)),
                   relative_sources=False)
    try:
        assert _v1_sources(server.url)[:2] == [d.metadata["source"] for d in FILES[:2]]
        assert httpx.get(f"{server.url}/info").json()["source_paths"] == "full"
    finally:
        server.stop()


# -- ragstream serve --------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_ragstream_serve_an_unknown_collection_warns_refuses_and_creates_nothing(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "planning.md").write_text("# Planning\n\nTask decomposition splits a task.\n")
    settings = Settings(home=home, embeddings="fake")
    RagApp(settings).ingest([str(notes)])  # collection "docs" exists, "nope" does not

    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGSTREAM_")}
    env.update(RAGSTREAM_HOME=str(home), RAGSTREAM_EMBEDDINGS="fake", NO_COLOR="1")
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "ragstream.cli", "serve", "--collection", "nope",
         "--port", str(port)],
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()
            try:
                ready = httpx.get(f"{url}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        chat = parse_sse(httpx.post(f"{url}/chat", json={"question": "Planning?"},
                                    timeout=30).text)
        v1 = httpx.post(f"{url}/v1/chat/completions", timeout=30, json={
            "model": "ragstream", "messages": [{"role": "user", "content": "Planning?"}]})
        info = httpx.get(f"{url}/info").json()
    finally:
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
    assert "collection 'nope' does not exist in" in err
    assert "`ragstream ingest PATH_OR_URL --collection nope`" in err
    assert [e.event for e in chat] == ["error"] and chat[0].json()["status_code"] == 409
    assert v1.status_code == 409 and v1.json()["error"]["code"] == "no_documents"
    assert info["collection"] == "nope" and info["documents"] is False
    assert [c.name for c in RagApp(settings).list_collections()] == ["docs"]
