"""What the chat models on provider SDKs share: one guarded streaming call.

A subclass says how to build its request (``_request``), how to start the
SDK's stream (``_create``) and how to read it (``_decode``); this base makes
the call with retries before the first token, deadlines, errors that name the
URL and never the key, and the SDK stream closed as soon as reading stops.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Any, ClassVar

from ragstream.messages import AIMessageChunk, BaseMessage
from ragstream.models._base import BaseChatModel
from ragstream.models._http import CallLimits, Progress, guarded_stream
from ragstream.models._sdk import (
    PerLoop,
    Secret,
    aimport_sdk,
    close_sdk_stream,
    safe_url,
    sdk_classifier,
)

__all__ = ["SDKChatModel", "close_client"]


async def close_client(client: Any) -> None:
    """Close an SDK client (when the event loop it belongs to shuts down)."""
    await client.close()


class SDKChatModel(BaseChatModel):
    """Base of ``ChatOpenAI`` and ``ChatAnthropic``."""

    #: the SDK's import name
    sdk: ClassVar[str]
    #: the path of the streaming route below the base URL
    route: ClassVar[str]

    def _setup(
        self,
        *,
        model: str,
        base_url: str,
        api_key: str | None,
        temperature: float | None,
        stop: str | Sequence[str] | None,
        timeout: float | None,
        max_retries: int,
        retry_backoff: float,
        first_token_timeout: float | None,
        total_timeout: float | None,
        model_kwargs: Mapping[str, Any] | None,
        default_headers: Mapping[str, str] | None,
        name: str | None,
    ) -> None:
        """Store the settings every SDK model has (no I/O)."""
        self.model = model
        self.base_url = base_url
        self._api_key = Secret(api_key)
        self.temperature = temperature
        self.stop = [stop] if isinstance(stop, str) else (list(stop) if stop else None)
        self.timeout = timeout
        self.limits = CallLimits(
            max_retries=max_retries, retry_backoff=retry_backoff,
            first_token_timeout=first_token_timeout, total_timeout=total_timeout,
        )
        self.model_kwargs = dict(model_kwargs or {})
        self.default_headers = dict(default_headers or {})
        self.name = name
        self._clients: PerLoop[Any] = PerLoop(self._make_client, close_client)

    @property
    def model_name(self) -> str:
        return self.model

    @property
    def endpoint(self) -> str:
        """The URL requests go to, as errors name it (never with credentials)."""
        return safe_url(self.base_url.rstrip("/") + self.route)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, base_url={safe_url(self.base_url)!r})"

    def _make_client(self) -> Any:
        raise NotImplementedError

    def _request(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    async def _create(self, client: Any, params: dict[str, Any]) -> Any:
        """Start the SDK's stream."""
        raise NotImplementedError

    def _decode(self, stream: Any) -> AsyncGenerator[AIMessageChunk | str, None]:
        """Text pieces from the SDK's stream events."""
        raise NotImplementedError

    def _astream_chat(
        self, messages: list[BaseMessage], **kwargs: Any
    ) -> AsyncIterator[AIMessageChunk | str]:
        # a plain function returning the guarded stream: one generator less per token
        params = self._request(messages, kwargs)
        clients, create, decode = self._clients, self._create, self._decode

        async def attempt(progress: Progress) -> AsyncGenerator[AIMessageChunk | str, None]:
            client = await clients.get()
            stream = await create(client, params)
            progress.connected = True
            pieces = decode(stream)
            try:
                async for piece in pieces:
                    yield piece
            finally:
                await pieces.aclose()
                await close_sdk_stream(stream)

        sdk = self.sdk
        return guarded_stream(
            attempt, url=self.endpoint, secret=self._api_key, limits=self.limits,
            classify=sdk_classifier(sdk, self.timeout), setup=lambda: aimport_sdk(sdk),
        )
