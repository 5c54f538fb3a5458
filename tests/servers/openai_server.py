"""An OpenAI-compatible test server: the wire format of ``/v1/chat/completions``
(streamed ``chat.completion.chunk`` frames and whole ``chat.completion``
bodies), ``/v1/embeddings`` and ``/v1/models``.

A stream is: a frame with the role delta, one frame per token, a frame with
``finish_reason``, a usage frame with no choices (when the request asked for
``stream_options.include_usage``), then ``data: [DONE]``.

Run it on its own (for benchmarks or by hand)::

    python -m tests.servers --tokens 2000
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import itertools
import struct
import sys
import time
from typing import Any

from ._scripted import Frames, Out, Received, Reply, ScriptedServer, sse, words

__all__ = ["OpenAIServer", "vector"]

_ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 429: "rate_limit_exceeded",
}
_ids = itertools.count(1)


def vector(text: str, dimensions: int) -> list[float]:
    """The embedding this server returns for ``text``: fixed, from a hash."""
    out: list[float] = []
    counter = 0
    while len(out) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        out.extend((b - 127.5) / 127.5 for b in digest)
        counter += 1
    return out[:dimensions]


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


class OpenAIServer(ScriptedServer):
    """Speaks the OpenAI HTTP API on 127.0.0.1; see ``ScriptedServer``.

    >>> server = OpenAIServer().start()
    >>> server.script(Reply(text=["Hi", " there"]))
    >>> # ChatOpenAI(base_url=server.base_url).invoke("hello").content == "Hi there"
    """

    #: the model named in responses when the request names none
    model = "test-model"

    async def respond(self, request: Received, reply: Reply, out: Out) -> None:
        path = request.path.split("?", 1)[0].rstrip("/")
        if request.method == "GET" and path == "/v1/models":
            await out.json(200, {
                "object": "list",
                "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "test"}],
            })
        elif request.method == "POST" and path == "/v1/chat/completions":
            await self._chat(request, reply, out)
        elif request.method == "POST" and path == "/v1/embeddings":
            await self._embeddings(request, reply, out)
        else:
            await out.json(404, _error_body(404, f"no route {request.method} {path}"))

    async def _chat(self, request: Received, reply: Reply, out: Out) -> None:
        if reply.status >= 400:
            await out.json(reply.status, _error_body(reply.status, reply.error))
            return
        body = request.json or {}
        model = body.get("model") or self.model
        tokens = reply.tokens()
        prompt_tokens = words(str(m.get("content", "")) for m in body.get("messages", []))
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(tokens),
            "total_tokens": prompt_tokens + len(tokens),
        }
        reason = reply.finish_reason or "stop"
        ident = f"chatcmpl-test{next(_ids)}"
        created = int(time.time())
        if not body.get("stream"):
            await out.json(200, {
                "id": ident, "object": "chat.completion", "created": created, "model": model,
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(tokens)},
                    "logprobs": None,
                    "finish_reason": reason,
                }],
                "usage": usage,
            })
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        base: dict[str, Any] = {
            "id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "fp_test",
        }
        if include_usage:
            base["usage"] = None

        def frame(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return sse({**base, "choices": [choice]})

        tail: list[bytes] = []
        if reply.finish:
            tail.append(frame({}, reason))
        if reply.usage and include_usage:
            tail.append(sse({**base, "choices": [], "usage": usage}))
        if reply.done:
            tail.append(b"data: [DONE]\n\n")
        frames = Frames(
            head=[frame({"role": "assistant", "content": ""})],
            content=[frame({"content": t}) for t in tokens],
            tail=tail,
            error_frame=sse(_error_body(500, reply.error)),
        )
        await out.stream(frames)

    async def _embeddings(self, request: Received, reply: Reply, out: Out) -> None:
        if reply.status >= 400:
            await out.json(reply.status, _error_body(reply.status, reply.error))
            return
        body = request.json or {}
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            await out.json(400, _error_body(400, "input must be a string or a list of strings"))
            return
        dims = int(body.get("dimensions") or reply.dimensions)
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(texts):
            vec = vector(text, dims)
            value: Any = (
                base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode() if as_base64 else vec
            )
            data.append({"object": "embedding", "index": i, "embedding": value})
        n = words(texts)
        await out.json(200, {
            "object": "list", "data": data, "model": body.get("model") or self.model,
            "usage": {"prompt_tokens": n, "total_tokens": n},
        })


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted; print the base URL on the first line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tokens", type=int, default=0, help="answer with this many tokens")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each token")
    args = parser.parse_args(argv)
    server = OpenAIServer()
    if args.tokens:
        server.default = Reply(text=[f" w{i % 100}" for i in range(args.tokens)], delay=args.delay)
    server.start(args.port)
    print(server.base_url, flush=True)
    try:
        sys.stdin.read()  # until the parent closes our stdin
    except KeyboardInterrupt:
        pass
    server.stop()


if __name__ == "__main__":
    main()
