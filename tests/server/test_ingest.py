"""Ingest over HTTP: a job, its progress as SSE, its report; the URL guard
applies to redirects too."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ragstream.errors import SourceError
from ragstream.server import create_rag_server
from tests.server._live import FakeRagApp, LiveServer, parse_sse

PAGE = """<html><head><title>Planning notes</title></head><body>
<p>Subgoal planning lets an agent break large tasks into manageable subgoals.</p>
</body></html>"""


@pytest.fixture(scope="module")
def internal() -> Iterator[LiveServer]:
    """A site the server must never fetch for a client."""
    async def secret(request: Request) -> Response:
        return HTMLResponse("<p>internal admin secrets</p>")

    with LiveServer(Starlette(routes=[Route("/admin", secret)])) as server:
        yield server


@pytest.fixture(scope="module")
def site(internal: LiveServer) -> Iterator[LiveServer]:
    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE)

    async def bounce(request: Request) -> Response:
        return RedirectResponse(f"{internal.url}/admin", status_code=302)

    with LiveServer(Starlette(routes=[Route("/notes", page), Route("/go", bounce)])) as server:
        yield server


@pytest.fixture(scope="module")
def ingest_server(tmp_path_factory: pytest.TempPathFactory, internal: LiveServer
                  ) -> Iterator[tuple[LiveServer, FakeRagApp]]:
    refused_port = urlsplit(internal.url).port

    def guard(url: str) -> None:  # the test's stand-in for "internal address"
        if urlsplit(url).port == refused_port:
            raise SourceError(url, "refused: an internal address")

    rag = FakeRagApp(tmp_path_factory.mktemp("ingest"))
    with LiveServer(create_rag_server(rag, url_guard=guard, keepalive=0.2)) as server:
        yield server, rag


def start(server: LiveServer, urls: list[str]) -> httpx.Response:
    return httpx.post(f"{server.url}/ingest", json={"urls": urls}, timeout=10)


def test_ingest_a_page_and_ask_about_it(ingest_server: tuple[LiveServer, FakeRagApp],
                                        site: LiveServer) -> None:
    server, rag = ingest_server
    response = start(server, [f"{site.url}/notes"])
    assert response.status_code == 202
    job = response.json()
    assert job["events_url"] == f"/ingest/{job['job_id']}/events"

    events = parse_sse(httpx.get(server.url + job["events_url"], timeout=10).text)
    kinds = [e.event for e in events]
    assert kinds[-2:] == ["done", "end"] and kinds.count("progress") >= 2
    stages = [e.json()["stage"] for e in events if e.event == "progress"]
    assert stages[0] == "fetch" and stages[-1] == "done"
    report = events[-2].json()
    assert report["added"] == 1 and report["failed"] == 0

    status = httpx.get(f"{server.url}/ingest/{job['job_id']}").json()
    assert status["status"] == "done" and status["report"]["added"] == 1
    assert rag.ingested[0].metadata["source"] == f"{site.url}/notes"

    # a late listener gets the whole story again
    again = parse_sse(httpx.get(server.url + job["events_url"], timeout=10).text)
    assert [e.event for e in again] == kinds

    answer = httpx.post(f"{server.url}/chat", json={"question": "subgoal planning agent"},
                        timeout=10)
    sources = next(e.json() for e in parse_sse(answer.text) if e.event == "sources")["sources"]
    assert sources[0]["link"] == f"{site.url}/notes"
    assert sources[0]["title"] == "Planning notes"


def test_a_redirect_to_a_refused_address_is_not_followed(
    ingest_server: tuple[LiveServer, FakeRagApp], site: LiveServer, internal: LiveServer
) -> None:
    server, rag = ingest_server
    job = start(server, [f"{site.url}/go"]).json()
    events = parse_sse(httpx.get(server.url + job["events_url"], timeout=10).text)
    report = events[-2].json()
    assert report["added"] == 0 and report["failed"] == 1
    assert "refused" in report["failures"][0]["reason"]
    assert not any("internal admin" in d.page_content for d in rag.ingested)


def test_a_refused_url_is_refused_before_the_job(ingest_server: tuple[LiveServer, FakeRagApp],
                                                 internal: LiveServer) -> None:
    server, _ = ingest_server
    response = start(server, [f"{internal.url}/admin"])
    assert response.status_code == 422 and "refused" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"urls": []}, "at least 1"),
        ({"urls": "http://x.org"}, "must be of type array"),
        ({"urls": [1]}, "must be of type string"),
        ({"urls": ["http://x.org"] * 21}, "at most 20"),
        ({"urls": ["http://x.org"], "path": "/etc"}, "unknown field"),
        ({"paths": ["/etc/passwd"]}, "unknown field"),
    ],
)
def test_bad_ingest_requests(ingest_server: tuple[LiveServer, FakeRagApp], body: dict,
                             needle: str) -> None:
    server, _ = ingest_server
    response = httpx.post(f"{server.url}/ingest", json=body, timeout=10)
    assert response.status_code == 422 and needle in response.text


def test_unknown_jobs_are_404(ingest_server: tuple[LiveServer, FakeRagApp]) -> None:
    server, _ = ingest_server
    assert httpx.get(f"{server.url}/ingest/nope").status_code == 404
    assert httpx.get(f"{server.url}/ingest/nope/events").status_code == 404


def test_an_app_that_cannot_ingest_says_so(tmp_path) -> None:
    class NoIngest(FakeRagApp):
        aingest = None  # type: ignore[assignment]

    with LiveServer(create_rag_server(NoIngest(tmp_path), allow_private_urls=True)) as server:
        response = start(server, ["https://example.org/"])
        assert response.status_code == 501
