"""``ChatOpenAI``: chat with any OpenAI-compatible server through the official
``openai`` SDK (OpenAI, Ollama, vLLM, llama.cpp server, LM Studio...)."""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from ragstream.errors import ConfigError, InputError
from ragstream.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from ragstream.models._http import EndedEarly
from ragstream.models._sdk import (
    Secret,
    import_sdk,
)
from ragstream.models._sdk_chat import SDKChatModel

__all__ = ["OPENAI_URL", "ChatOpenAI", "resolve_openai_key"]

OPENAI_URL = "https://api.openai.com/v1"
#: sent when a local server (which needs no key) is used without one
NO_KEY = "no-key-needed"


def resolve_openai_key(secret: Secret, base_url: str) -> str:
    """The key to send: the configured one, a placeholder for a server other
    than OpenAI's, or a ``ConfigError`` that says what to set."""
    key = secret.get()
    if key is not None:
        return key
    if base_url.rstrip("/") != OPENAI_URL:
        return NO_KEY
    raise ConfigError(
        f"no API key for {OPENAI_URL}: set OPENAI_API_KEY or pass api_key=..., "
        "or pass base_url= of a local OpenAI-compatible server (Ollama, vLLM, ...)"
    )


class ChatOpenAI(SDKChatModel):
    """A chat model on an OpenAI-compatible server, streamed token by token.

    The key and URL come from the arguments, else from ``OPENAI_API_KEY`` and
    ``OPENAI_BASE_URL``; a local server needs no key. Failures before the first
    token are tried again (``max_retries``); ``first_token_timeout`` and
    ``total_timeout`` bound a call from its start; ``timeout`` is the longest
    the connection may stay silent. Errors are ``ragstream.errors.ModelError``
    subclasses naming the server's URL (never the key); a stream that breaks
    off raises ``StreamInterruptedError`` with the text received in ``partial``.

    >>> llm = ChatOpenAI(model="llama3.2", base_url="http://localhost:11434/v1")
    >>> for chunk in llm.stream("Why is the sky blue?"):  # doctest: +SKIP
    ...     print(chunk.content, end="")
    """

    sdk = "openai"
    route = "/chat/completions"

    def __init__(
        self,
        *,
        model: str = "gpt-4o-mini",
        base_url: str | None = None,
        api_key: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stop: str | Sequence[str] | None = None,
        timeout: float | None = 60.0,
        max_retries: int = 2,
        first_token_timeout: float | None = 60.0,
        total_timeout: float | None = 300.0,
        retry_backoff: float = 0.5,
        stream_usage: bool = True,
        model_kwargs: Mapping[str, Any] | None = None,
        default_headers: Mapping[str, str] | None = None,
        name: str | None = None,
    ) -> None:
        self._setup(
            model=model,
            base_url=base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL,
            api_key=api_key if api_key is not None else os.environ.get("OPENAI_API_KEY"),
            temperature=temperature, stop=stop, timeout=timeout, max_retries=max_retries,
            retry_backoff=retry_backoff, first_token_timeout=first_token_timeout,
            total_timeout=total_timeout, model_kwargs=model_kwargs,
            default_headers=default_headers, name=name,
        )
        self.max_tokens = max_tokens
        self.stream_usage = stream_usage

    def _make_client(self) -> Any:
        openai = import_sdk("openai")
        return openai.AsyncOpenAI(
            api_key=resolve_openai_key(self._api_key, self.base_url),
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=0,  # we retry ourselves, and only before the first token
            default_headers=self.default_headers or None,
        )

    def _request(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> dict[str, Any]:
        options = dict(kwargs)
        params: dict[str, Any] = {
            "model": self.model,
            "messages": [_to_openai(m) for m in messages],
            "stream": True,
        }
        if self.stream_usage:
            params["stream_options"] = {"include_usage": True}
        for key in ("temperature", "max_tokens", "stop"):
            value = options.pop(key, getattr(self, key))
            if value is not None:
                params[key] = [value] if key == "stop" and isinstance(value, str) else value
        extra = {**self.model_kwargs, **options}
        if extra:
            params["extra_body"] = extra
        return params

    async def _create(self, client: Any, params: dict[str, Any]) -> Any:
        return await client.chat.completions.create(**params)

    def _decode(self, stream: Any) -> AsyncGenerator[AIMessageChunk | str, None]:
        return _decode(stream)




async def _decode(stream: Any) -> AsyncGenerator[AIMessageChunk | str, None]:
    """Text pieces from ``chat.completion.chunk``s: an empty opening chunk
    before the first text, the text deltas, and a closing empty chunk with the
    finish reason and token usage."""
    ident: str | None = None
    opened = False
    finish: str | None = None
    model_name: str | None = None
    usage: Any = None
    while True:
        try:
            chunk = await stream.__anext__()
        except StopAsyncIteration:
            break
        if ident is None:
            ident = getattr(chunk, "id", None)
        chunk_usage = getattr(chunk, "usage", None)
        if chunk_usage is not None:
            usage = chunk_usage
        choices = getattr(chunk, "choices", None)
        if not choices:
            continue
        choice = choices[0]
        delta = getattr(choice, "delta", None)
        text = getattr(delta, "content", None) if delta is not None else None
        if text:
            if not opened:
                opened = True
                yield AIMessageChunk("", id=ident)
            yield text
        reason = getattr(choice, "finish_reason", None)
        if reason:
            finish = reason
            model_name = getattr(chunk, "model", None)
    if finish is None:
        raise EndedEarly("the stream ended without a finish reason")
    if not opened:
        yield AIMessageChunk("", id=ident)
    meta: dict[str, Any] = {"finish_reason": finish}
    if model_name:
        meta["model_name"] = model_name
    yield AIMessageChunk("", usage_metadata=_usage(usage), response_metadata=meta)


def _usage(usage: Any) -> dict[str, int] | None:
    if usage is None:
        return None
    prompt = getattr(usage, "prompt_tokens", None) or 0
    completion = getattr(usage, "completion_tokens", None) or 0
    total = getattr(usage, "total_tokens", None) or prompt + completion
    return {"input_tokens": prompt, "output_tokens": completion, "total_tokens": total}


_ROLES = {SystemMessage: "system", HumanMessage: "user"}


def _to_openai(message: BaseMessage) -> dict[str, Any]:
    if isinstance(message, ToolMessage):
        return {"role": "tool", "content": message.content, "tool_call_id": message.tool_call_id}
    if isinstance(message, AIMessage):
        role = "assistant"
    else:
        found = _ROLES.get(type(message))
        if found is None:
            for cls, r in _ROLES.items():
                if isinstance(message, cls):
                    found = r
        if found is None:
            raise InputError(f"ChatOpenAI cannot send a {type(message).__name__}")
        role = found
    out: dict[str, Any] = {"role": role, "content": message.content}
    if message.name:
        out["name"] = message.name
    return out
