"""Warm-up at startup: the embeddings load and the index opens in the
background while ``/healthz`` answers, ``/readyz`` says when it is done, and
the first question then does not wait for the load."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ragstream.app import RagApp
from ragstream.config import Settings
from ragstream.errors import ModelConnectionError
from ragstream.server import create_rag_server
from ragstream.testing import FakeEmbeddings
from tests.server._live import SECRET, LiveServer, parse_sse, wait_ready

NOTES = {
    "planning.md": "# Planning\n\nTask decomposition breaks a complicated task into smaller "
                   "and simpler steps.\n",
    "memory.md": "# Memory\n\nLong-term memory keeps information in an external vector "
                 "store.\n",
}


class SlowLoadingEmbeddings(FakeEmbeddings):
    """FakeEmbeddings (384 wide, as the ``fake`` setting) whose first call loads
    a "model": it waits, in a worker thread, until the test lets it finish."""

    def __init__(self) -> None:
        super().__init__(size=384)
        self.release = threading.Event()
        self.loads = 0
        self.calls = 0
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self.loads == 0:
                if not self.release.wait(20):
                    raise TimeoutError("the test never released the load")
                self.loads += 1

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        await asyncio.to_thread(self._load)
        return await super().aembed_documents(texts)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        self._load()
        return super().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class SlowStartApp(RagApp):
    """The real application (embedded Chroma, the offline model) with embeddings
    whose first use is slow, as MiniLM's is."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._embeddings = SlowLoadingEmbeddings()

    @property
    def slow(self) -> SlowLoadingEmbeddings:
        assert isinstance(self._embeddings, SlowLoadingEmbeddings)
        return self._embeddings


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home = tmp_path_factory.mktemp("warm")
    notes = home / "notes"
    notes.mkdir()
    for name, text in NOTES.items():
        (notes / name).write_text(text, encoding="utf-8")
    settings = Settings(home=home / "data", embeddings="fake", model="extractive")
    RagApp(settings).ingest([str(notes)])
    return settings


@pytest.fixture
def release_on_exit() -> Iterator[list[SlowLoadingEmbeddings]]:
    held: list[SlowLoadingEmbeddings] = []
    yield held
    for embeddings in held:  # never leave a worker thread waiting
        embeddings.release.set()


def ask(url: str) -> dict[str, Any]:
    turn = parse_sse(httpx.post(f"{url}/chat", json={"question": "What is task "
                                                     "decomposition?"}, timeout=30).text)
    assert [e.event for e in turn][-2:] == ["done", "end"], turn
    done: dict[str, Any] = next(e.json() for e in turn if e.event == "done")
    return done


def test_healthz_answers_while_warming_up_and_readyz_says_when_it_is_done(
    settings: Settings, release_on_exit: list[SlowLoadingEmbeddings]
) -> None:
    app = SlowStartApp(settings)
    release_on_exit.append(app.slow)
    with LiveServer(create_rag_server(app)) as server:
        health = httpx.get(f"{server.url}/healthz", timeout=2)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        ready = httpx.get(f"{server.url}/readyz", timeout=2)
        assert ready.status_code == 503 and ready.json()["status"] == "warming_up"
        assert ready.headers["retry-after"] == "1"
        info = httpx.get(f"{server.url}/info", timeout=2).json()
        assert info["ready"] is False and info["warmup"]["state"] == "running"
        assert info["documents"] is True  # the collection was checked first

        app.slow.release.set()
        body = wait_ready(server.url)
        assert body["status"] == "ready" and body["warmup"]["state"] == "done"
        assert set(body["warmup"]["seconds"]) == {"collection", "embeddings", "retrieval",
                                                  "total"}
        assert app.slow.loads == 1
        assert httpx.get(f"{server.url}/info").json()["ready"] is True


def test_the_first_question_after_warm_up_does_not_load_the_model(
    settings: Settings, release_on_exit: list[SlowLoadingEmbeddings]
) -> None:
    app = SlowStartApp(settings)
    release_on_exit.append(app.slow)
    app.slow.release.set()
    with LiveServer(create_rag_server(app)) as server:
        wait_ready(server.url)
        loads, calls = app.slow.loads, app.slow.calls
        assert loads == 1  # the warm-up loaded it
        done = ask(server.url)
        assert "Task decomposition" in done["answer"]
        assert app.slow.calls > calls  # the question was embedded...
        assert app.slow.loads == 1  # ...by the model the warm-up had loaded


def test_without_warm_up_the_first_question_waits_for_the_load(
    settings: Settings, release_on_exit: list[SlowLoadingEmbeddings]
) -> None:
    app = SlowStartApp(settings)
    release_on_exit.append(app.slow)
    with LiveServer(create_rag_server(app, warm_up=False)) as server:
        body = wait_ready(server.url)  # only the collection was checked
        assert body["warmup"]["enabled"] is False and set(body["warmup"]["seconds"]) == {
            "collection", "total"}
        assert app.slow.loads == 0
        answers: list[dict[str, Any]] = []
        asking = threading.Thread(target=lambda: answers.append(ask(server.url)))
        asking.start()
        asking.join(0.5)
        assert asking.is_alive() and not answers  # held by the load
        app.slow.release.set()
        asking.join(30)
        assert answers and app.slow.loads == 1


class BrokenEmbeddings(FakeEmbeddings):
    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        raise ModelConnectionError(f"cannot reach http://10.0.0.5/v1 with key {SECRET}")

    def embed_query(self, text: str) -> list[float]:
        raise ModelConnectionError(f"cannot reach http://10.0.0.5/v1 with key {SECRET}")


def test_a_failed_warm_up_is_logged_and_the_server_still_serves(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = RagApp(settings)
    app._embeddings = BrokenEmbeddings(size=384)
    with caplog.at_level("WARNING", logger="ragstream.server"), \
            LiveServer(create_rag_server(app, api_key="k3y")) as server:
        body = wait_ready(server.url)  # public, like /healthz
        assert body["warmup"]["state"] == "failed"
        assert body["warmup"]["failed"] == {"embeddings": "ModelConnectionError"}
        assert SECRET not in str(body)
        turn = parse_sse(httpx.post(f"{server.url}/chat", json={"question": "Planning?"},
                                    headers={"Authorization": "Bearer k3y"}, timeout=30).text)
        # the question meets the same failure, as an error event that hides the details
        assert turn[-1].event == "error" and turn[-1].json()["status_code"] >= 500
        assert SECRET not in turn[-1].data
    logged = [r.getMessage() for r in caplog.records if r.name == "ragstream.server"]
    assert any(m.startswith("warm-up: embeddings failed: ModelConnectionError") for m in logged)


def test_the_readyz_check_of_a_plain_app_is_ready_at_once(runnable_server: LiveServer) -> None:
    response = httpx.get(f"{runnable_server.url}/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "warmup": None}


def test_a_server_stopped_mid_warm_up_does_not_wait_for_the_load(
    settings: Settings, release_on_exit: list[SlowLoadingEmbeddings]
) -> None:
    app = SlowStartApp(settings)
    release_on_exit.append(app.slow)
    server = LiveServer(create_rag_server(app)).start()
    assert httpx.get(f"{server.url}/readyz").status_code == 503
    server.stop()  # joins the server's thread for up to 10 s
    assert server.thread is not None and not server.thread.is_alive()
    assert app.slow.loads == 0  # still loading: the server did not wait for it
