"""Fixtures for the tracing tests.

``traced`` turns tracing on into a fresh SQLite file for one test and puts
the engine back as it was afterwards. ``collector`` is a real OTLP/gRPC
collector on 127.0.0.1 (the protocol's own servicer) that keeps every span
it is sent; it is started once per session. The chains are the guide's, on
the shipped fakes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import pytest

from ragstream.chains import create_retrieval_chain, create_stuff_documents_chain
from ragstream.core._run import get_observer, set_observer
from ragstream.documents import Document
from ragstream.parsers import StrOutputParser
from ragstream.prompts import ChatPromptTemplate
from ragstream.retrievers import BaseRetriever
from ragstream.testing import FakeChatModel
from ragstream.tracing import Tracer, disable_tracing, enable_tracing

PASSAGES = [
    Document("Task decomposition splits a hard task into small steps.", {"source": "a.md"}),
    Document("Chain of thought asks the model to think step by step.", {"source": "b.md"}),
]
ANSWER = "Task decomposition splits a task into smaller steps."


class ListRetriever(BaseRetriever):
    """Returns the same documents for every query."""

    def __init__(self, docs: list[Document] | None = None) -> None:
        self.docs = list(PASSAGES if docs is None else docs)
        self.tags = ["ListRetriever"]

    async def _aget_relevant_documents(self, query: str, **kwargs: Any) -> list[Document]:
        return self.docs


def simple_chain(answer: str = "a b c", *, delay: float = 0.0) -> Any:
    prompt = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{input}")])
    return prompt | FakeChatModel(answer, delay=delay) | StrOutputParser()


def guide_chain(answer: str = ANSWER, *, retriever: BaseRetriever | None = None) -> Any:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from the context.\n\n{context}"), ("human", "{input}")]
    )
    qa = create_stuff_documents_chain(FakeChatModel(answer), prompt)
    return create_retrieval_chain(retriever or ListRetriever(), qa)


@pytest.fixture
def restore_observer() -> Iterator[None]:
    before = get_observer()
    try:
        yield
    finally:
        disable_tracing()
        set_observer(before)


@pytest.fixture
def traced(tmp_path: Path, restore_observer: None) -> Tracer:
    """Tracing on, into ``tmp_path / "traces.db"`` (``tracer.path``)."""
    return enable_tracing(path=tmp_path / "traces.db")


class Collector:
    """An OTLP trace collector: the real gRPC service, keeping what it gets."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1 import (
            trace_service_pb2,
            trace_service_pb2_grpc,
        )

        outer = self
        self.requests: list[Any] = []
        self.lock = threading.Lock()

        class Servicer(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                with outer.lock:
                    outer.requests.append(request)
                return trace_service_pb2.ExportTraceServiceResponse()

        import grpc

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Servicer(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def spans(self) -> list[tuple[dict[str, Any], Any]]:
        """Every span received, with the attributes of its resource."""
        out = []
        with self.lock:
            requests = list(self.requests)
        for request in requests:
            for rs in request.resource_spans:
                resource = {a.key: _value(a.value) for a in rs.resource.attributes}
                for ss in rs.scope_spans:
                    out.extend((resource, span) for span in ss.spans)
        return out

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


def attributes(span: Any) -> dict[str, Any]:
    return {a.key: _value(a.value) for a in span.attributes}


@pytest.fixture(scope="session")
def collector() -> Iterator[Collector]:
    c = Collector()
    c.server.start()
    try:
        yield c
    finally:
        c.server.stop(grace=None)
