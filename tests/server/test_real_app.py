"""The server over the real application: embedded Chroma, the offline
extractive model, SQLite history; pages ingested over HTTP from a local site."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ragstream.app import RagApp
from ragstream.config import Settings
from ragstream.server import create_rag_server
from tests.server._live import LiveServer, parse_sse

PAGES = {
    "/planning": """<html><head><title>Planning</title></head><body><article>
<h1>Planning</h1>
<p>Task decomposition breaks a complicated task into smaller and simpler steps.
Chain of thought prompting instructs the model to think step by step.</p>
<p>Tree of Thoughts extends chain of thought by exploring several reasoning
possibilities at each step.</p></article></body></html>""",
    "/memory": """<html><head><title>Memory</title></head><body><article>
<h1>Memory</h1>
<p>Short-term memory is in-context learning. Long-term memory keeps information
over extended periods in an external vector store with fast retrieval.</p>
</article></body></html>""",
}


@pytest.fixture(scope="module")
def site() -> Iterator[LiveServer]:
    async def page(request: Request) -> Response:
        return HTMLResponse(PAGES[request.url.path])

    with LiveServer(Starlette(routes=[Route(p, page) for p in PAGES])) as server:
        yield server


@pytest.fixture(scope="module")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = Settings(home=tmp_path_factory.mktemp("real"), collection="docs",
                        model="extractive", embeddings="fake")
    app = create_rag_server(RagApp(settings), allow_private_urls=True)
    with LiveServer(app) as server:
        yield server


def test_ingest_then_ask_with_the_offline_model(real_server: LiveServer, site: LiveServer
                                                ) -> None:
    url = real_server.url
    info = httpx.get(f"{url}/info").json()
    assert info["model"] == "offline extractive mode" and info["offline"] is True

    job = httpx.post(f"{url}/ingest", json={"urls": [site.url + p for p in PAGES]},
                     timeout=30).json()
    events = parse_sse(httpx.get(url + job["events_url"], timeout=60).text)
    assert [e.event for e in events][-2:] == ["done", "end"]
    report = events[-2].json()
    assert report["added"] >= 2 and report["failures"] == []
    stages = {e.json()["stage"] for e in events if e.event == "progress"}
    assert "done" in stages and len(stages) >= 3

    turn = parse_sse(httpx.post(f"{url}/chat", json={"question": "What is task decomposition?"},
                                timeout=60).text)
    kinds = [e.event for e in turn]
    assert kinds[-2:] == ["done", "end"] and kinds.count("token") > 3
    cards = next(e.json()["sources"] for e in turn if e.event == "sources")
    assert cards[0]["link"] == f"{site.url}/planning" and cards[0]["title"] == "Planning"
    done = next(e.json() for e in turn if e.event == "done")
    assert "Task decomposition" in done["answer"] and done["model"] == "offline extractive mode"

    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    answer = client.chat.completions.create(
        model="ragstream", messages=[{"role": "user", "content": "What is long-term memory?"}])
    assert "memory" in answer.choices[0].message.content.lower()
    assert answer.model_extra["sources"][0]["link"] == f"{site.url}/memory"
    assert answer.model_extra["model_label"] == "offline extractive mode"

    rag = httpx.post(f"{url}/rag/invoke", json={"input": {"input": "What is Tree of Thoughts?"}},
                     timeout=60).json()["output"]
    assert rag["context"][0]["type"] == "Document" and "Tree of Thoughts" in rag["answer"]
