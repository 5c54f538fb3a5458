"""``ChatAnthropic``: Claude models through the official ``anthropic`` SDK."""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from ragstream.errors import ConfigError, InputError
from ragstream.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from ragstream.models._http import EndedEarly
from ragstream.models._sdk import (
    import_sdk,
)
from ragstream.models._sdk_chat import SDKChatModel

__all__ = ["ANTHROPIC_URL", "ChatAnthropic"]

ANTHROPIC_URL = "https://api.anthropic.com"
_NO_KEY = "no-key-needed"


class ChatAnthropic(SDKChatModel):
    """A Claude chat model, streamed token by token.

    The key and URL come from the arguments, else from ``ANTHROPIC_API_KEY``
    and ``ANTHROPIC_BASE_URL``. System messages go to the request's
    ``system``; ``stop`` becomes ``stop_sequences``; ``temperature`` goes in
    the request body as given (the SDK has no argument for it, and the newest
    models refuse it). Retries, deadlines and errors behave as in ``ChatOpenAI``.
    Needs ``pip install "ragstream[anthropic]"``.

    >>> llm = ChatAnthropic(model="claude-haiku-4-5")
    >>> for chunk in llm.stream("Why is the sky blue?"):  # doctest: +SKIP
    ...     print(chunk.content, end="")
    """

    sdk = "anthropic"
    route = "/v1/messages"

    def __init__(
        self,
        *,
        model: str = "claude-haiku-4-5",
        api_key: str | None = None,
        base_url: str | None = None,
        max_tokens: int = 1024,
        temperature: float | None = None,
        stop: str | Sequence[str] | None = None,
        timeout: float | None = 60.0,
        max_retries: int = 2,
        first_token_timeout: float | None = 60.0,
        total_timeout: float | None = 300.0,
        retry_backoff: float = 0.5,
        model_kwargs: Mapping[str, Any] | None = None,
        default_headers: Mapping[str, str] | None = None,
        name: str | None = None,
    ) -> None:
        if max_tokens < 1:
            raise ConfigError(f"max_tokens must be at least 1, not {max_tokens}")
        self._setup(
            model=model,
            base_url=base_url or os.environ.get("ANTHROPIC_BASE_URL") or ANTHROPIC_URL,
            api_key=api_key if api_key is not None else os.environ.get("ANTHROPIC_API_KEY"),
            temperature=temperature, stop=stop, timeout=timeout, max_retries=max_retries,
            retry_backoff=retry_backoff, first_token_timeout=first_token_timeout,
            total_timeout=total_timeout, model_kwargs=model_kwargs,
            default_headers=default_headers, name=name,
        )
        self.max_tokens = max_tokens

    def _key(self) -> str:
        key = self._api_key.get()
        if key is not None:
            return key
        if self.base_url.rstrip("/") != ANTHROPIC_URL:
            return _NO_KEY
        raise ConfigError(
            f"no API key for {ANTHROPIC_URL}: set ANTHROPIC_API_KEY or pass api_key=..."
        )

    def _make_client(self) -> Any:
        anthropic = import_sdk("anthropic")
        return anthropic.AsyncAnthropic(
            api_key=self._key(),
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=0,  # we retry ourselves, and only before the first token
            default_headers=self.default_headers or None,
        )

    def _request(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> dict[str, Any]:
        options = dict(kwargs)
        system = [m.content for m in messages if isinstance(m, SystemMessage)]
        params: dict[str, Any] = {
            "model": self.model,
            "messages": [_to_anthropic(m) for m in messages if not isinstance(m, SystemMessage)],
            "max_tokens": options.pop("max_tokens", self.max_tokens),
            "stream": True,
        }
        if system:
            params["system"] = "\n\n".join(system)
        stop = options.pop("stop", self.stop)
        if stop:
            params["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        extra = {**self.model_kwargs, **options}
        temperature = extra.pop("temperature", self.temperature)
        if temperature is not None:
            # the 2.x SDK has no temperature argument (newer models take none);
            # older models and compatible servers still read it from the body
            extra["temperature"] = temperature
        if extra:
            params["extra_body"] = extra
        return params

    async def _create(self, client: Any, params: dict[str, Any]) -> Any:
        return await client.messages.create(**params)

    def _decode(self, stream: Any) -> AsyncGenerator[AIMessageChunk | str, None]:
        return _decode(stream)




async def _decode(stream: Any) -> AsyncGenerator[AIMessageChunk | str, None]:
    """Text pieces from Messages stream events, shaped as ``ChatOpenAI`` shapes
    them: an empty opening chunk, the text, a closing chunk with the stop reason
    and token usage (input tokens from ``message_start``, output tokens from
    the last ``message_delta``)."""
    ident: str | None = None
    model_name: str | None = None
    opened = False
    stop_reason: str | None = None
    input_tokens = 0
    output_tokens = 0
    while True:
        try:
            event = await stream.__anext__()
        except StopAsyncIteration:
            break
        kind = getattr(event, "type", None)
        if kind == "content_block_delta":
            text = getattr(event.delta, "text", None)
            if text:
                if not opened:
                    opened = True
                    yield AIMessageChunk("", id=ident)
                yield text
        elif kind == "message_start":
            message = event.message
            ident = getattr(message, "id", None)
            model_name = getattr(message, "model", None)
            usage = getattr(message, "usage", None)
            input_tokens = getattr(usage, "input_tokens", None) or 0
            output_tokens = getattr(usage, "output_tokens", None) or 0
        elif kind == "message_delta":
            stop_reason = getattr(event.delta, "stop_reason", None) or stop_reason
            usage = getattr(event, "usage", None)
            # message_delta counts are cumulative
            output_tokens = getattr(usage, "output_tokens", None) or output_tokens
            input_tokens = getattr(usage, "input_tokens", None) or input_tokens
    if stop_reason is None:
        raise EndedEarly("the stream ended without a stop reason")
    if not opened:
        yield AIMessageChunk("", id=ident)
    meta: dict[str, Any] = {"finish_reason": stop_reason}
    if model_name:
        meta["model_name"] = model_name
    usage_metadata = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }
    yield AIMessageChunk("", usage_metadata=usage_metadata, response_metadata=meta)


def _to_anthropic(message: BaseMessage) -> dict[str, Any]:
    if isinstance(message, AIMessage):
        return {"role": "assistant", "content": message.content}
    if isinstance(message, HumanMessage):
        return {"role": "user", "content": message.content}
    raise InputError(
        f"ChatAnthropic cannot send a {type(message).__name__}; "
        "use system, human and AI messages"
    )
