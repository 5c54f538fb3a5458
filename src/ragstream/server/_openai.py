"""The OpenAI-compatible chat route, answered by the RAG chain.

``POST /v1/chat/completions``: the conversation's earlier messages are the
chat history and its last user message the question. With ``stream: true``
the answer streams as ``chat.completion.chunk`` objects; the last one (the
one with ``finish_reason``) carries the retrieved documents in an extra
``sources`` field and the ones the answer cited in ``citations`` (their
``rank`` in ``sources``, in order of first use: ``[2, 1]``), as does the
whole response without streaming. ``GET
/v1/models`` lists the one served model. Errors use OpenAI's error body, so
the official ``openai`` client raises its usual exceptions. While the
collection holds no documents a question is refused: 409 with code
``no_documents``, or, streaming, one error chunk with that code. File sources
are shown as the server's ``ServedCollection`` labels them (relative to the
collection's files), never as the server's own paths.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ragstream.errors import InputError
from ragstream.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from ragstream.server._collection import ServedCollection
from ragstream.server._errors import HTTPProblem, public_error
from ragstream.server._requests import read_json
from ragstream.server._routes import registry_of
from ragstream.server._serialize import source_card
from ragstream.server._sse import ClientGone, EventStream, frame, until_disconnect

__all__ = ["openai_routes"]

#: accepted, and answered the same whatever their value: the RAG chain decides
_IGNORED = frozenset({
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "user", "seed",
    "presence_penalty", "frequency_penalty", "metadata", "store", "logprobs", "n",
    "parallel_tool_calls", "service_tier",
})
_KNOWN = _IGNORED | {"model", "messages", "stream", "stream_options"}
_ROLES = {"system": SystemMessage, "developer": SystemMessage, "user": HumanMessage,
          "assistant": AIMessage}
MAX_MESSAGES = 200


def _problem(exc: BaseException) -> JSONResponse:
    if isinstance(exc, HTTPProblem):
        status, message, param, code = exc.status, exc.message, exc.param, exc.code
        kind = "invalid_request_error" if status < 500 else "server_error"
    else:
        error = public_error(exc)
        status, message, param, code = error.status, error.message, None, None
        kind = "invalid_request_error" if status < 500 else "server_error"
    # OpenAI answers 400 where other routes say 422
    status = 400 if status == 422 else status
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": code}},
        status_code=status,
    )


def _text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for i, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text" \
                    or not isinstance(part.get("text"), str):
                raise HTTPProblem(
                    400, f"{where}.content[{i}]: only text parts are supported",
                    param=f"{where}.content",
                )
            parts.append(part["text"])
        return "".join(parts)
    raise HTTPProblem(400, f"{where}.content must be a string or a list of text parts",
                      param=f"{where}.content")


def parse_messages(raw: Any) -> tuple[str, list[BaseMessage]]:
    """The question (the last message, from the user) and the history before it."""
    if not isinstance(raw, list) or not raw:
        raise HTTPProblem(400, "messages must be a non-empty array", param="messages")
    if len(raw) > MAX_MESSAGES:
        raise HTTPProblem(400, f"at most {MAX_MESSAGES} messages are accepted",
                          param="messages")
    history: list[BaseMessage] = []
    for i, message in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise HTTPProblem(400, f"{where} must be an object", param=where)
        unknown = set(message) - {"role", "content", "name"}
        if unknown:
            raise HTTPProblem(
                400, f"{where}: unsupported field {sorted(unknown)[0]!r} "
                     "(tools and function calls are not supported)", param=where,
            )
        role = message.get("role")
        cls = _ROLES.get(role) if isinstance(role, str) else None
        if cls is None:
            raise HTTPProblem(
                400, f"{where}.role must be one of {', '.join(_ROLES)}, not {role!r}",
                param=f"{where}.role",
            )
        history.append(cls(_text(message.get("content"), where)))
    last = history.pop()
    if not isinstance(last, HumanMessage):
        raise HTTPProblem(400, "the last message must come from the user", param="messages")
    if not last.content.strip():
        raise HTTPProblem(400, "the last user message is empty", param="messages")
    return last.content, history


class _OpenAIRoutes:
    def __init__(self, rag_app: Any, *, collection: ServedCollection, model_id: str,
                 max_body_bytes: int, keepalive: float | None) -> None:
        self.rag = rag_app
        self.collection = collection
        self.model_id = model_id
        self.max_body = max_body_bytes
        self.keepalive = keepalive
        self.created = int(time.time())

    async def models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [self._model_card()]})

    def _model_card(self) -> dict[str, Any]:
        return {
            "id": self.model_id, "object": "model", "created": self.created,
            "owned_by": "ragstream", "model_label": self.rag.model_label,
        }

    async def model(self, request: Request) -> Response:
        if request.path_params["model"] != self.model_id:
            return _problem(HTTPProblem(
                404, f"the model {request.path_params['model']!r} does not exist; "
                     f"this server serves {self.model_id!r}", code="model_not_found"))
        return JSONResponse(self._model_card())

    def _parse(self, body: Any) -> tuple[str, list[BaseMessage], bool, bool]:
        if not isinstance(body, dict):
            raise HTTPProblem(400, "the body must be a JSON object")
        unknown = sorted(set(body) - _KNOWN)
        if unknown:
            raise HTTPProblem(400, f"unrecognized request argument supplied: {unknown[0]}",
                              param=unknown[0])
        model = body.get("model")
        if not isinstance(model, str):
            raise HTTPProblem(400, "model must be a string", param="model")
        if model != self.model_id:
            raise HTTPProblem(
                404, f"the model {model!r} does not exist; this server serves "
                     f"{self.model_id!r} (see GET /v1/models)", param="model",
                code="model_not_found",
            )
        stream = body.get("stream", False)
        if stream is not None and not isinstance(stream, bool):
            raise HTTPProblem(400, "stream must be a boolean", param="stream")
        n = body.get("n")
        if n not in (None, 1):
            raise HTTPProblem(400, "only n=1 is supported", param="n")
        options = body.get("stream_options") or {}
        if not isinstance(options, dict) or set(options) - {"include_usage"}:
            raise HTTPProblem(400, "stream_options may only hold include_usage",
                              param="stream_options")
        question, history = parse_messages(body.get("messages"))
        return question, history, bool(stream), bool(options.get("include_usage"))

    async def completions(self, request: Request) -> Response | EventStream:
        try:
            question, history, stream, include_usage = self._parse(
                await read_json(request, limit=self.max_body)
            )
        except Exception as exc:
            return _problem(exc)
        completion_id = f"chatcmpl-{secrets.token_hex(12)}"
        if stream:
            return EventStream(
                self._chunks(question, history, completion_id, include_usage),
                on_error=_error_frame, on_shutdown=_SHUTDOWN,
                keepalive=self.keepalive, registry=registry_of(request.app),
            )
        try:
            await self.collection.require_documents()
            turn = self.rag.astream_turn(question, chat_history=history)
            done, sources = await until_disconnect(request.receive, self._collect(turn))
        except ClientGone:
            return Response(status_code=499)
        except Exception as exc:
            return _problem(exc)
        body: dict[str, Any] = {
            "id": completion_id, "object": "chat.completion", "created": int(time.time()),
            "model": self.model_id, "system_fingerprint": None,
            "choices": [{
                "index": 0, "logprobs": None, "finish_reason": "stop",
                "message": {"role": "assistant", "content": done.get("answer", ""),
                            "refusal": None},
            }],
            "sources": sources, "citations": list(done.get("citations") or []),
            "model_label": done.get("model", self.rag.model_label),
        }
        usage = _usage(done.get("usage"))
        if usage is not None:
            body["usage"] = usage
        return JSONResponse(body)

    def _cards(self, documents: list[Any]) -> list[dict[str, Any]]:
        return [source_card(d, rank=i + 1, show_source=self.collection.label)
                for i, d in enumerate(documents)]

    async def _chunks(
        self, question: str, history: list[BaseMessage], completion_id: str, include_usage: bool
    ) -> AsyncIterator[bytes]:
        await self.collection.require_documents()
        turn = self.rag.astream_turn(question, chat_history=history)
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
            return frame(None, {
                "id": completion_id, "object": "chat.completion.chunk", "created": created,
                "model": self.model_id, "system_fingerprint": None,
                "choices": [{"index": 0, "delta": delta, "logprobs": None,
                             "finish_reason": finish}],
                **extra,
            })

        yield chunk({"role": "assistant", "content": ""})
        sources: list[dict[str, Any]] = []
        try:
            async for event in turn:
                kind = event["type"]
                if kind == "token":
                    yield chunk({"content": event["text"]})
                elif kind == "sources":
                    sources = self._cards(event["documents"])
                elif kind == "done":
                    yield chunk({}, "stop", sources=sources,
                                citations=list(event.get("citations") or []),
                                model_label=event.get("model", self.rag.model_label))
                    usage = _usage(event.get("usage"))
                    if include_usage:
                        yield frame(None, {
                            "id": completion_id, "object": "chat.completion.chunk",
                            "created": created, "model": self.model_id, "choices": [],
                            "usage": usage or {"prompt_tokens": 0, "completion_tokens": 0,
                                               "total_tokens": 0},
                        })
        finally:
            await turn.aclose()
        yield frame(None, raw="[DONE]")


    async def _collect(self, turn: AsyncIterator[dict[str, Any]]
                       ) -> tuple[dict[str, Any], list[Any]]:
        done: dict[str, Any] = {}
        sources: list[dict[str, Any]] = []
        try:
            async for event in turn:
                if event["type"] == "sources":
                    sources = self._cards(event["documents"])
                elif event["type"] == "done":
                    done = dict(event)
        finally:
            await turn.aclose()  # type: ignore[attr-defined]
        return done, sources


def _usage(usage: Any) -> dict[str, int] | None:
    if not isinstance(usage, dict):
        return None
    prompt = int(usage.get("input_tokens", 0))
    completion = int(usage.get("output_tokens", 0))
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": int(usage.get("total_tokens", prompt + completion))}


def _error_frame(exc: BaseException) -> bytes:
    error = public_error(exc)
    kind = "invalid_request_error" if isinstance(exc, InputError) or error.status < 500 \
        else "server_error"
    code = exc.code if isinstance(exc, HTTPProblem) and exc.code else error.status
    return frame(None, {"error": {"message": error.message, "type": kind,
                                  "param": None, "code": code}})


_SHUTDOWN = frame(None, {"error": {"message": "the server is shutting down; try again",
                                   "type": "server_error", "param": None, "code": 503}})


def openai_routes(
    rag_app: Any, *, collection: ServedCollection, model_id: str, max_body_bytes: int,
    keepalive: float | None,
) -> list[Route]:
    """The routes of the OpenAI-compatible API over ``rag_app``."""
    handler = _OpenAIRoutes(rag_app, collection=collection, model_id=model_id,
                            max_body_bytes=max_body_bytes, keepalive=keepalive)
    return [
        Route("/v1/chat/completions", handler.completions, methods=["POST"]),
        Route("/v1/models", handler.models, methods=["GET"]),
        Route("/v1/models/{model:path}", handler.model, methods=["GET"]),
    ]
