"""Servers shared by the server tests: one generic app serving several test
runnables, and one RAG server over a RagApp built on fakes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ragstream.documents import Document
from ragstream.messages import AIMessage
from ragstream.parsers import StrOutputParser
from ragstream.prompts import ChatPromptTemplate
from ragstream.runnables import RunnableLambda
from ragstream.server import add_routes, create_app, create_rag_server
from ragstream.testing import FakeChatModel
from tests.server._live import CORPUS, FailingModel, FakeRagApp, KeywordRetriever, LiveServer
from tests.servers.fixtures import openai_server  # noqa: F401

KEEPALIVE = 0.2
ANSWER = "Task decomposition splits a hard task into smaller steps."


async def _task_count(request: Request) -> JSONResponse:
    return JSONResponse({"tasks": len(asyncio.all_tasks())})


def _echo(x: Any) -> dict[str, Any]:
    return {
        "echo": x,
        "doc": Document("hello", metadata={"source": "a.txt"}, id="d1"),
        "message": AIMessage("hi", response_metadata={"model_name": "m"}),
    }


def build_runnable_app() -> Any:
    app = create_app(keepalive=KEEPALIVE, max_body_bytes=64 * 1024)
    prompt = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{question}")])
    model = FakeChatModel(ANSWER)
    add_routes(app, prompt | model.with_config(tags=["answer_llm"]) | StrOutputParser(),
               path="/chain", keepalive=KEEPALIVE)
    add_routes(app, model, path="/model", keepalive=KEEPALIVE)
    add_routes(app, RunnableLambda(_echo), path="/echo", keepalive=KEEPALIVE,
               input_schema={"type": "object", "properties": {"n": {"type": "integer"}},
                             "additionalProperties": False})
    add_routes(app, FailingModel(), path="/failing", keepalive=KEEPALIVE)
    add_routes(app, FakeChatModel(" ".join(["word"] * 400), delay=0.02), path="/slow",
               keepalive=KEEPALIVE)
    add_routes(app, KeywordRetriever(CORPUS, delay=0.7), path="/sleepy", keepalive=KEEPALIVE)
    app.router.routes.append(Route("/test/tasks", _task_count))
    return app


@pytest.fixture(scope="session")
def runnable_server() -> Iterator[LiveServer]:
    with LiveServer(build_runnable_app()) as server:
        yield server


@pytest.fixture(scope="session")
def rag_app(tmp_path_factory: pytest.TempPathFactory) -> FakeRagApp:
    return FakeRagApp(tmp_path_factory.mktemp("rag"), delay=0.005)


@pytest.fixture(scope="session")
def rag_server(rag_app: FakeRagApp) -> Iterator[LiveServer]:
    app = create_rag_server(rag_app, keepalive=KEEPALIVE, allow_private_urls=True,
                            max_body_bytes=64 * 1024)
    app.router.routes.append(Route("/test/tasks", _task_count))
    with LiveServer(app) as server:
        yield server


__all__ = ["ANSWER", "build_runnable_app"]
