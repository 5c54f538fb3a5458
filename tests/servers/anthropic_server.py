"""An Anthropic-compatible test server: the wire format of ``/v1/messages``.

A stream is ``message_start``, ``content_block_start``, a ``ping``, one
``content_block_delta`` per token, ``content_block_stop``, ``message_delta``
(stop reason and output tokens) and ``message_stop``; a failure mid-stream is
an ``error`` event. Without ``"stream": true`` the whole message comes back as
one JSON body.
"""

from __future__ import annotations

import itertools
from typing import Any

from ._scripted import Frames, Out, Received, Reply, ScriptedServer, sse, words

__all__ = ["AnthropicServer"]

_ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
    500: "api_error", 529: "overloaded_error",
}
_ids = itertools.count(1)


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""


class AnthropicServer(ScriptedServer):
    """Speaks the Anthropic Messages API on 127.0.0.1; see ``ScriptedServer``.

    Clients take ``server.url`` as their base URL (the SDK adds ``/v1``).
    """

    model = "claude-test"

    async def respond(self, request: Received, reply: Reply, out: Out) -> None:
        path = request.path.split("?", 1)[0].rstrip("/")
        if request.method == "POST" and path == "/v1/messages":
            await self._messages(request, reply, out)
        else:
            await out.json(404, _error_body(404, f"no route {request.method} {path}"))

    async def _messages(self, request: Received, reply: Reply, out: Out) -> None:
        if reply.status >= 400:
            await out.json(reply.status, _error_body(reply.status, reply.error))
            return
        body = request.json or {}
        model = body.get("model") or self.model
        tokens = reply.tokens()
        texts = [_text_of(m.get("content")) for m in body.get("messages", [])]
        input_tokens = words([*texts, _text_of(body.get("system", ""))])
        reason = reply.finish_reason or "end_turn"
        ident = f"msg_test{next(_ids)}"
        if not body.get("stream"):
            await out.json(200, {
                "id": ident, "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": "".join(tokens)}],
                "stop_reason": reason, "stop_sequence": None,
                "usage": {"input_tokens": input_tokens, "output_tokens": len(tokens)},
            })
            return
        start = {
            "type": "message_start",
            "message": {
                "id": ident, "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": input_tokens, "output_tokens": 1},
            },
        }
        head = [
            sse(start, "message_start"),
            sse({"type": "content_block_start", "index": 0,
                 "content_block": {"type": "text", "text": ""}}, "content_block_start"),
            sse({"type": "ping"}, "ping"),
        ]
        content = [
            sse({"type": "content_block_delta", "index": 0,
                 "delta": {"type": "text_delta", "text": t}}, "content_block_delta")
            for t in tokens
        ]
        tail = [sse({"type": "content_block_stop", "index": 0}, "content_block_stop")]
        if reply.finish:
            delta: dict[str, Any] = {
                "type": "message_delta",
                "delta": {"stop_reason": reason, "stop_sequence": None},
            }
            if reply.usage:
                delta["usage"] = {"output_tokens": len(tokens)}
            tail += [sse(delta, "message_delta"), sse({"type": "message_stop"}, "message_stop")]
        error = {"type": "error", "error": {"type": "overloaded_error", "message": reply.error}}
        frames = Frames(
            head=head, content=content, tail=tail, error_frame=sse(error, "error"),
            malformed_frame=b"event: content_block_delta\ndata: {this is not json\n\n",
        )
        await out.stream(frames)
