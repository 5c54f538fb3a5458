"""The server ``ragstream serve`` runs: the RAG chain and the chat page.

Routes: the chain's runnable routes at ``/rag``; the OpenAI-compatible
``/v1/chat/completions`` and ``/v1/models``; ``/chat`` and ``/sessions`` for
conversations; ``/ingest``; ``/info``; ``/healthz`` and ``/readyz``; and the
chat page at ``/`` with its files under ``/static/``.

Questions (``/rag/*``, ``/chat``, ``/v1/chat/completions``) are refused with
409 while the served collection does not exist or holds no documents (see
``ServedCollection``); the server starts anyway, since ``/ingest`` can fill it.

Sources: ``/chat`` (the page) and ``/v1`` show each retrieved document as a
card whose ``source`` is, for a local file, its path relative to the folder
holding the collection's files (``notes/guide/install.md``), not the
server's own path; URLs are shown as they are. A source the answer cites
(``[2]``) is sent to ``/chat`` as a ``citation`` event as soon as its marker
is written, and listed by number in ``citations`` at the end of ``/chat``
and ``/v1`` answers; the page highlights the cited cards. ``/rag`` sends the documents
themselves, in LangServe's shape, with their metadata unchanged: its
``metadata["source"]`` is the full path the file was read from.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ragstream.core import Runnable
from ragstream.messages import to_messages
from ragstream.server._app import create_app, on_shutdown, on_startup
from ragstream.server._collection import DEFAULT_TTL, ServedCollection
from ragstream.server._ingest import ingest_routes
from ragstream.server._openai import openai_routes
from ragstream.server._requests import DEFAULT_MAX_BODY
from ragstream.server._routes import add_routes
from ragstream.server._security import URLGuard, select_url_guard
from ragstream.server._sessions import session_routes
from ragstream.server._warmup import WarmUp

if TYPE_CHECKING:
    from ragstream.history import ChatHistoryStore

__all__ = ["RAG_INPUT_SCHEMA", "RAG_OUTPUT_SCHEMA", "RagAppLike", "create_rag_server"]

STATIC = Path(__file__).parent / "static"
_FILES = {"app.js": "text/javascript", "app.css": "text/css"}
_PAGE_HEADERS = {
    "cache-control": "no-cache",
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


class RagAppLike(Protocol):
    """What the server needs of the application (``ragstream.app.RagApp`` is one).

    Ingest also calls ``await aingest(urls, on_progress=callback, url_guard=guard)``
    when the application has it (else ``POST /ingest`` answers 501); the
    callback is a plain function, callable from any thread.

    These are used when the application has them (``RagApp`` has them all):
    ``settings.collection`` (the collection's name); ``await
    acheck_collection(name)`` (its ``CollectionInfo``, or ``NoDocumentsError``:
    questions are refused with 409 while it has no documents);
    ``await acollection_sources(name)`` (for showing file sources relative to
    the collection's files); ``store_location`` (named in the startup
    warning); ``embeddings`` and ``retriever(name, k=1)`` (warmed up at startup).
    """

    @property
    def model_label(self) -> str: ...

    @property
    def history(self) -> ChatHistoryStore: ...

    def chain(self, collection: str | None = None, *, k: int | None = None) -> Runnable[Any, Any]:
        ...

    def astream_turn(
        self, question: str, *, session_id: str | None = None,
        chat_history: list[Any] | None = None, collection: str | None = None,
        k: int | None = None,
    ) -> AsyncIterator[Any]: ...


_MESSAGE: dict[str, Any] = {
    "anyOf": [
        {"type": "object", "required": ["type", "content"],
         "properties": {"type": {"type": "string"}, "content": {"type": "string"}}},
        {"type": "object", "required": ["role", "content"], "additionalProperties": False,
         "properties": {"role": {"type": "string"}, "content": {"type": "string"}}},
        {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "string"}},
    ],
}
RAG_INPUT_SCHEMA: dict[str, Any] = {
    "title": "RagInput",
    "type": "object",
    "properties": {
        "input": {"title": "Input", "type": "string", "minLength": 1, "maxLength": 8000},
        "chat_history": {
            "title": "Chat History", "type": "array", "maxItems": 200,
            "items": {"$ref": "#/$defs/Message"},
            "description": "earlier messages: {type, content} as LangServe clients send "
                           "them, {role, content}, or [role, content]",
        },
    },
    "required": ["input"],
    "additionalProperties": False,
    "$defs": {"Message": _MESSAGE},
}
RAG_OUTPUT_SCHEMA: dict[str, Any] = {
    "title": "RagOutput",
    "type": "object",
    "properties": {
        "input": {"title": "Input", "type": "string"},
        "chat_history": {"title": "Chat History", "type": "array"},
        "context": {"title": "Context", "type": "array", "items": {"$ref": "#/$defs/Document"}},
        "answer": {"title": "Answer", "type": "string"},
    },
    "$defs": {
        "Document": {
            "title": "Document", "type": "object",
            "properties": {
                "id": {"type": ["string", "null"]},
                "page_content": {"type": "string"},
                "metadata": {"type": "object"},
                "type": {"const": "Document"},
            },
            "required": ["page_content"],
        },
    },
}


def _rag_input(value: Any) -> Any:
    history = value.get("chat_history")
    if history is None:
        return value
    return {**value, "chat_history": to_messages(history)}


def _page_routes(rag_app: Any, *, model_id: str, auth: bool, collection: ServedCollection,
                 warmup: WarmUp) -> list[Route]:
    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html",
                            headers=_PAGE_HEADERS)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _FILES:  # only the page's own files, never a path
            return JSONResponse({"detail": f"no file {name!r}"}, status_code=404)
        return FileResponse(STATIC / name, media_type=_FILES[name], headers=_PAGE_HEADERS)

    async def info(request: Request) -> Response:
        await collection.arecent()
        return JSONResponse({
            "model": rag_app.model_label,
            "model_id": model_id,
            "collection": collection.name,
            "documents": collection.has_documents,
            "offline": "offline" in str(rag_app.model_label).lower(),
            "auth": auth,
            "ready": warmup.ready,
            "warmup": warmup.to_dict(),
            "source_paths": "relative" if collection.relative_sources else "full",
        })

    return [
        Route("/", index, methods=["GET"]),
        Route("/static/{name}", static, methods=["GET"]),
        Route("/info", info, methods=["GET"]),
    ]


def create_rag_server(
    rag_app: RagAppLike,
    *,
    api_key: str | None = None,
    cors_origins: str | Sequence[str] | None = None,
    allow_private_urls: bool = False,
    url_guard: URLGuard | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    keepalive: float | None = 15.0,
    model_id: str = "ragstream",
    warm_up: bool = True,
    relative_sources: bool = True,
    collection_ttl: float = DEFAULT_TTL,
) -> Starlette:
    """The full server over ``rag_app``: the chain at ``/rag``, the OpenAI-compatible
    API, sessions, ingest and the chat page.

    Ingest refuses URLs that resolve to non-public addresses unless
    ``allow_private_urls``; a ``url_guard`` replaces that check.

    At startup, in the background, the server checks its collection (a
    warning in the log says how to fill an empty one) and, with ``warm_up``,
    loads the embeddings and opens the index, so the first question does not
    wait for them; ``/readyz`` answers 200 once that is done. Whether the
    collection holds documents is checked again after ``collection_ttl``
    seconds, and after each ingest job. With ``relative_sources`` file
    sources are shown to ``/chat`` and ``/v1`` clients relative to the
    collection's files; ``/rag`` always sends documents unchanged.

    >>> from ragstream.app import RagApp
    >>> from ragstream.config import load_settings
    >>> app = create_rag_server(RagApp(load_settings()), api_key="s3cret")
    >>> # uvicorn.run(app, host="127.0.0.1", port=8000)
    """
    app = create_app(
        api_key=api_key, cors_origins=cors_origins, max_body_bytes=max_body_bytes,
        keepalive=keepalive,
    )
    collection = ServedCollection(rag_app, ttl=collection_ttl,
                                  relative_sources=relative_sources)
    warmup = WarmUp(rag_app, collection, enabled=warm_up)
    app.state.warmup = warmup
    add_routes(
        app, rag_app.chain(), path="/rag", input_schema=RAG_INPUT_SCHEMA,
        output_schema=RAG_OUTPUT_SCHEMA, max_body_bytes=max_body_bytes, keepalive=keepalive,
        prepare_input=_rag_input, before_run=collection.require_documents,
    )
    guard = select_url_guard(allow_private_urls=allow_private_urls, url_guard=url_guard)
    ingest, close_jobs = ingest_routes(
        rag_app, url_guard=guard, max_body_bytes=max_body_bytes, keepalive=keepalive,
        on_done=collection.invalidate,
    )
    app.router.routes.extend([
        *openai_routes(rag_app, collection=collection, model_id=model_id,
                       max_body_bytes=max_body_bytes, keepalive=keepalive),
        *session_routes(rag_app, collection=collection, max_body_bytes=max_body_bytes,
                        keepalive=keepalive),
        *ingest,
        *_page_routes(rag_app, model_id=model_id, auth=bool(api_key), collection=collection,
                      warmup=warmup),
    ])
    on_startup(app, warmup.start)
    on_shutdown(app, warmup.aclose)
    on_shutdown(app, close_jobs)
    return app
