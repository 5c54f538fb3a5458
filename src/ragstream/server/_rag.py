"""The server ``ragstream serve`` runs: the RAG chain and the chat page.

Routes: the chain's runnable routes at ``/rag``; the OpenAI-compatible
``/v1/chat/completions`` and ``/v1/models``; ``/chat`` and ``/sessions`` for
conversations; ``/ingest``; ``/info``; ``/healthz``; and the chat page at
``/`` with its files under ``/static/``.
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
from ragstream.server._app import create_app, on_shutdown
from ragstream.server._ingest import ingest_routes
from ragstream.server._openai import openai_routes
from ragstream.server._requests import DEFAULT_MAX_BODY
from ragstream.server._routes import add_routes
from ragstream.server._security import URLGuard, select_url_guard
from ragstream.server._sessions import session_routes

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


def _page_routes(rag_app: Any, *, model_id: str, auth: bool) -> list[Route]:
    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html",
                            headers=_PAGE_HEADERS)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _FILES:  # only the page's own files, never a path
            return JSONResponse({"detail": f"no file {name!r}"}, status_code=404)
        return FileResponse(STATIC / name, media_type=_FILES[name], headers=_PAGE_HEADERS)

    async def info(request: Request) -> Response:
        settings = getattr(rag_app, "settings", None)
        return JSONResponse({
            "model": rag_app.model_label,
            "model_id": model_id,
            "collection": getattr(settings, "collection", None),
            "offline": "offline" in str(rag_app.model_label).lower(),
            "auth": auth,
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
) -> Starlette:
    """The full server over ``rag_app``: the chain at ``/rag``, the OpenAI-compatible
    API, sessions, ingest and the chat page.

    Ingest refuses URLs that resolve to non-public addresses unless
    ``allow_private_urls``; a ``url_guard`` replaces that check.

    >>> from ragstream.app import RagApp
    >>> from ragstream.config import load_settings
    >>> app = create_rag_server(RagApp(load_settings()), api_key="s3cret")
    >>> # uvicorn.run(app, host="127.0.0.1", port=8000)
    """
    app = create_app(
        api_key=api_key, cors_origins=cors_origins, max_body_bytes=max_body_bytes,
        keepalive=keepalive,
    )
    add_routes(
        app, rag_app.chain(), path="/rag", input_schema=RAG_INPUT_SCHEMA,
        output_schema=RAG_OUTPUT_SCHEMA, max_body_bytes=max_body_bytes, keepalive=keepalive,
        prepare_input=_rag_input,
    )
    guard = select_url_guard(allow_private_urls=allow_private_urls, url_guard=url_guard)
    ingest, close_jobs = ingest_routes(
        rag_app, url_guard=guard, max_body_bytes=max_body_bytes, keepalive=keepalive
    )
    app.router.routes.extend([
        *openai_routes(rag_app, model_id=model_id, max_body_bytes=max_body_bytes,
                       keepalive=keepalive),
        *session_routes(rag_app, max_body_bytes=max_body_bytes, keepalive=keepalive),
        *ingest,
        *_page_routes(rag_app, model_id=model_id, auth=bool(api_key)),
    ])
    on_shutdown(app, close_jobs)
    return app
