"""Helpers for server tests: uvicorn on 127.0.0.1 in a thread, an SSE decoder,
and a ``RagApp`` built on fakes (a scripted model, a keyword retriever, the
real SQLite history)."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from ragstream.app import CollectionInfo, NoDocumentsError, RagApp
from ragstream.chains import create_conversational_rag_chain
from ragstream.config import Settings
from ragstream.core import Runnable
from ragstream.documents import Document
from ragstream.errors import ModelHTTPError
from ragstream.messages import AIMessageChunk, BaseMessage
from ragstream.models import BaseChatModel
from ragstream.retrievers import BaseRetriever
from ragstream.testing import FakeChatModel, FakeEmbeddings

SECRET = "sk-test-SECRET-0123456789"


class LiveServer:
    """An ASGI app served by uvicorn on 127.0.0.1 (a free port) in a thread."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> LiveServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, lifespan="on", log_level="warning",
                                timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(10)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- SSE ---------------------------------------------------------------------


@dataclass
class SSE:
    event: str
    data: str

    def json(self) -> Any:
        import json

        return json.loads(self.data)


class SSEDecoder:
    """Lines in, events out (sans-IO, per the HTML spec's interpretation rules)."""

    def __init__(self) -> None:
        self.event = ""
        self.data: list[str] = []
        self.comments: list[str] = []

    def feed(self, line: str) -> SSE | None:
        if line == "":
            if not self.event and not self.data:
                return None
            sse = SSE(self.event or "message", "\n".join(self.data))
            self.event, self.data = "", []
            return sse
        if line.startswith(":"):
            self.comments.append(line[1:].strip())
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self.event = value
        elif name == "data":
            self.data.append(value)
        return None


def parse_sse(text: str) -> list[SSE]:
    decoder = SSEDecoder()
    out = []
    for line in re.split(r"\r\n|\n|\r", text):
        sse = decoder.feed(line)
        if sse is not None:
            out.append(sse)
    return out


async def aiter_sse(response: httpx.Response, decoder: SSEDecoder | None = None
                    ) -> AsyncIterator[SSE]:
    decoder = decoder or SSEDecoder()
    async for line in response.aiter_lines():
        sse = decoder.feed(line.rstrip("\r\n"))
        if sse is not None:
            yield sse


async def collect_sse(client: httpx.AsyncClient, url: str, body: Any,
                      **kwargs: Any) -> tuple[httpx.Response, list[SSE]]:
    async with client.stream("POST", url, json=body, **kwargs) as response:
        if response.status_code != 200:
            await response.aread()
            return response, []
        return response, [e async for e in aiter_sse(response)]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- runnables and a RagApp built on fakes -------------------------------------

CORPUS = [
    Document(
        "Task decomposition breaks a complicated task into smaller, simpler steps. "
        "Chain of thought prompting asks the model to think step by step.",
        metadata={"source": "https://lilianweng.github.io/posts/2023-06-23-agent/",
                  "title": "LLM Powered Autonomous Agents"},
        id="doc-1",
    ),
    Document(
        "Tree of Thoughts extends chain of thought by exploring several reasoning "
        "possibilities at each step, searched breadth-first or depth-first.",
        metadata={"source": "notes/tree-of-thoughts.md"},
        id="doc-2",
    ),
    Document(
        "Self-reflection lets an agent improve iteratively by refining past "
        "decisions and correcting earlier mistakes.",
        metadata={"source": "https://example.org/reflection", "title": "Self-reflection"},
        id="doc-3",
    ),
]


class KeywordRetriever(BaseRetriever):
    """Documents ranked by shared words with the query; ``delay`` before answering."""

    def __init__(self, docs: Sequence[Document], *, k: int = 2, delay: float = 0.0) -> None:
        self.docs = list(docs)
        self.k = k
        self.delay = delay
        self.queries: list[str] = []

    async def _aget_relevant_documents(self, query: str, **kwargs: Any) -> list[Document]:
        self.queries.append(query)
        if self.delay:
            await asyncio.sleep(self.delay)
        words = set(re.findall(r"\w+", query.lower()))
        scored = []
        for doc in self.docs:
            overlap = len(words & set(re.findall(r"\w+", doc.page_content.lower())))
            scored.append((overlap / (len(words) or 1), doc))
        scored.sort(key=lambda pair: -pair[0])
        return [
            Document(d.page_content, metadata={**d.metadata, "score": round(s, 3)}, id=d.id)
            for s, d in scored[: self.k]
        ]


class FailingModel(BaseChatModel):
    """Streams ``tokens`` then fails the way a provider does, with a secret in
    its message (which must never reach a client)."""

    def __init__(self, tokens: Sequence[str] = ("Partial", " answer")) -> None:
        self.tokens = list(tokens)

    async def _astream_chat(self, messages: list[BaseMessage], **kwargs: Any
                            ) -> AsyncIterator[AIMessageChunk | str]:
        for token in self.tokens:
            await asyncio.sleep(0.01)
            yield token
        raise ModelHTTPError(
            f"upstream said 500 for key {SECRET} at /srv/secret/path", status=500,
            url="http://10.0.0.5/v1",
        )


class FakeRagApp(RagApp):
    """The real ``RagApp`` turn logic and SQLite history over a scripted model
    and a keyword retriever; its collection is the retriever's documents
    (``exists=False`` makes it unknown until something is ingested)."""

    def __init__(
        self,
        home: Path,
        *,
        answer: str = "Task decomposition splits a hard task into smaller steps [1].",
        rewrite: str = "What is task decomposition in agents?",
        delay: float = 0.0,
        model: Runnable[Any, Any] | None = None,
        retriever: BaseRetriever | None = None,
        label: str = "fake model",
        exists: bool = True,
    ) -> None:
        super().__init__(Settings(home=home, collection="test", model="fake"))
        self.answer_model = model or FakeChatModel(answer, delay=delay)
        self.rewrite_model = FakeChatModel(rewrite, delay=delay)
        self.docs_retriever = retriever or KeywordRetriever(CORPUS)
        self.label = label
        self.exists = exists
        self.checks = 0
        self._embeddings = FakeEmbeddings(size=16)
        from ragstream.history import SQLiteChatHistory

        self._history = SQLiteChatHistory(home / "history.db")
        self.ingested: list[Document] = []

    @property
    def model(self) -> Runnable[Any, Any]:
        return self.answer_model

    @property
    def model_label(self) -> str:
        return self.label

    def chain(self, collection: str | None = None, *, k: int | None = None
              ) -> Runnable[Any, Any]:
        return create_conversational_rag_chain(
            self.answer_model, self.docs_retriever, rewrite_llm=self.rewrite_model
        )

    def retriever(self, collection: str | None = None, *, k: int | None = None
                  ) -> Runnable[str, list[Document]]:
        return self.docs_retriever

    def _docs(self) -> list[Document]:
        return list(getattr(self.docs_retriever, "docs", CORPUS))

    async def acheck_collection(self, name: str | None = None) -> CollectionInfo:
        self.checks += 1
        name = name or self.settings.collection
        docs = self._docs()
        if not self.exists or not docs:
            raise NoDocumentsError(name, exists=self.exists, where=str(self.settings.home))
        sources = {str(d.metadata.get("source")) for d in docs}
        return CollectionInfo(name, len(docs), len(sources), None)

    async def acollection_sources(self, name: str | None = None) -> list[str]:
        return sorted({str(d.metadata.get("source")) for d in self._docs()})

    async def aingest(self, sources: Sequence[str], *, on_progress: Any = None,
                      url_guard: Any = None) -> dict[str, Any]:
        """Load pages with the real web loader (guard and all) into the corpus."""
        from ragstream.loaders import LoadError, WebBaseLoader

        total = len(sources)
        if on_progress:
            on_progress({"stage": "fetch", "done": 0, "total": total, "source": None})
        failures: list[dict[str, str]] = []
        docs: list[Document] = []
        try:
            docs = await WebBaseLoader(list(sources), url_guard=url_guard).aload()
        except LoadError as exc:
            docs = list(exc.documents)
            failures = [{"source": f.source, "reason": f.reason} for f in exc.failures]
        for i, doc in enumerate(docs, 1):
            if on_progress:
                on_progress({"stage": "embed", "done": i, "total": len(docs),
                             "source": doc.metadata.get("source")})
        self.ingested.extend(docs)
        if docs:
            self.exists = True
        if isinstance(self.docs_retriever, KeywordRetriever):
            self.docs_retriever.docs.extend(docs)
        if on_progress:
            on_progress({"stage": "done", "done": total, "total": total, "source": None})
        return {"added": len(docs), "skipped": 0, "failed": len(failures),
                "failures": failures}


def wait_ready(url: str, *, timeout: float = 20.0) -> dict[str, Any]:
    """Poll ``/readyz`` until the server's warm-up has finished; its body."""
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(f"{url}/readyz", timeout=5)
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"the server did not warm up: {response.text}")
        time.sleep(0.02)
