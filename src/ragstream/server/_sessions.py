"""Chat sessions over HTTP, and the streamed turn the chat page asks for.

- ``GET /sessions``: the sessions, most recent first
- ``GET /sessions/{id}``: its messages (an answer cut short says ``incomplete``); 404 if unknown
- ``DELETE /sessions/{id}``: 204, or 404 if unknown
- ``POST /chat`` ``{"question", "session_id"?}``: SSE of the turn: ``session``,
  ``rewrite`` (a token of the rewritten question), ``query``, ``sources``
  (cards), ``token`` (a token of the answer), ``citation`` (right after the
  token that ends a marker such as ``[2]``: ``index``, ``marker``, ``offset``
  in the answer just past the marker, and the cited ``source`` card),
  ``done`` (with ``citations``, the indices cited in order of first use); or
  ``error``; then ``end``. A client that goes away (the page's Stop button) cancels the turn;
  what was answered so far is kept in the session, marked incomplete. While
  the collection holds no documents the stream is one ``error`` event
  (``status_code`` 409), and nothing is saved in the session.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ragstream.errors import InputError
from ragstream.server._collection import ServedCollection
from ragstream.server._errors import HTTPProblem
from ragstream.server._requests import read_json
from ragstream.server._routes import error_frame, problem_response, registry_of
from ragstream.server._schema import schema_errors
from ragstream.server._serialize import encode, source_card
from ragstream.server._sse import EventStream, frame

__all__ = ["CHAT_SCHEMA", "session_routes"]

MAX_QUESTION = 8000
CHAT_SCHEMA: dict[str, Any] = {
    "title": "ChatTurn",
    "type": "object",
    "properties": {
        "question": {"type": "string", "minLength": 1, "maxLength": MAX_QUESTION},
        "session_id": {"type": ["string", "null"], "minLength": 1, "maxLength": 200},
    },
    "required": ["question"],
    "additionalProperties": False,
}

_SHUTDOWN = frame("error", {"status_code": 503, "message": "the server is shutting down; "
                            "the answer so far is kept in the session"})


def _message_json(message: Any) -> dict[str, Any]:
    data: dict[str, Any] = encode(message)
    meta = getattr(message, "response_metadata", None) or {}
    data["incomplete"] = bool(meta.get("incomplete"))
    return data


class _SessionRoutes:
    def __init__(self, rag_app: Any, *, collection: ServedCollection, max_body_bytes: int,
                 keepalive: float | None) -> None:
        self.rag = rag_app
        self.collection = collection
        self.max_body = max_body_bytes
        self.keepalive = keepalive

    async def list(self, request: Request) -> Response:
        try:
            sessions = await self.rag.history.alist_sessions()
        except Exception as exc:
            return problem_response(exc)
        return JSONResponse({"sessions": [encode(s) for s in sessions]})

    async def get(self, request: Request) -> Response:
        session_id = request.path_params["session_id"]
        try:
            messages = await self.rag.history.aget_messages(session_id)
        except InputError as exc:
            return problem_response(HTTPProblem(422, f"session id: {exc}"))
        except Exception as exc:
            return problem_response(exc)
        if not messages:
            return problem_response(HTTPProblem(404, f"no session {session_id!r}"))
        return JSONResponse({"id": session_id,
                             "messages": [_message_json(m) for m in messages]})

    async def delete(self, request: Request) -> Response:
        session_id = request.path_params["session_id"]
        try:
            deleted = await self.rag.history.adelete_session(session_id)
        except InputError as exc:
            return problem_response(HTTPProblem(422, f"session id: {exc}"))
        except Exception as exc:
            return problem_response(exc)
        if not deleted:
            return problem_response(HTTPProblem(404, f"no session {session_id!r}"))
        return Response(status_code=204)

    async def chat(self, request: Request) -> Response | EventStream:
        try:
            body = await read_json(request, limit=self.max_body)
            errors = schema_errors(body, CHAT_SCHEMA)
            if errors:
                where = ".".join(str(p) for p in errors[0]["loc"][1:]) or "body"
                raise HTTPProblem(422, f"{where}: {errors[0]['msg']}", errors=errors)
            question = body["question"].strip()
            if not question:
                raise HTTPProblem(422, "question: must not be blank")
            session_id = body.get("session_id") or secrets.token_hex(8)
            if not session_id.isprintable():
                raise HTTPProblem(422, "session_id: must be printable text")
        except Exception as exc:
            return problem_response(exc)
        return EventStream(
            self._turn(question, session_id), on_error=error_frame, on_shutdown=_SHUTDOWN,
            keepalive=self.keepalive, registry=registry_of(request.app),
        )

    async def _turn(self, question: str, session_id: str) -> AsyncIterator[bytes]:
        await self.collection.require_documents()
        yield frame("session", {"session_id": session_id, "model": self.rag.model_label})
        turn = self.rag.astream_turn(question, session_id=session_id)
        try:
            async for event in turn:
                kind = event["type"]
                if kind in ("rewrite", "query", "token"):
                    yield frame(kind, {"text": event["text"]})
                elif kind == "sources":
                    cards = [source_card(d, rank=i + 1, show_source=self.collection.label)
                             for i, d in enumerate(event["documents"])]
                    yield frame("sources", {"sources": cards})
                elif kind == "citation":
                    index = event["index"]
                    yield frame("citation", {
                        "index": index, "marker": event["marker"], "offset": event["offset"],
                        "source": source_card(event["document"], rank=index,
                                              show_source=self.collection.label),
                    })
                elif kind == "done":
                    yield frame("done", {k: v for k, v in event.items() if k != "type"})
        finally:
            await turn.aclose()
        yield frame("end")


def session_routes(
    rag_app: Any, *, collection: ServedCollection, max_body_bytes: int, keepalive: float | None
) -> list[Route]:
    """The session and chat-turn routes over ``rag_app``."""
    handler = _SessionRoutes(rag_app, collection=collection, max_body_bytes=max_body_bytes,
                             keepalive=keepalive)
    return [
        Route("/sessions", handler.list, methods=["GET"]),
        Route("/sessions/{session_id:path}", handler.get, methods=["GET"]),
        Route("/sessions/{session_id:path}", handler.delete, methods=["DELETE"]),
        Route("/chat", handler.chat, methods=["POST"]),
    ]
