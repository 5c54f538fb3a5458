"""What the chat models on provider SDKs share: one guarded streaming call.

A subclass says how to build its request (``_request``), how to start the
SDK's stream (``_create``) and how to read it (``_decode``); this base makes
the call with retries before the first token, deadlines, errors that name the
URL and never the key, and the SDK stream closed as soon as reading stops.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, ClassVar

from ragstream.messages import AIMessageChunk, BaseMessage
from ragstream.models._base import BaseChatModel
from ragstream.models._http import CallLimits, Progress, guarded_stream
from ragstream.models._sdk import PerLoop, Secret, aimport_sdk, close_sdk_stream, sdk_classifier

__all__ = ["SDKChatModel", "close_client"]


async def close_client(client: Any) -> None:
    """Close an SDK client (when the event loop it belongs to shuts down)."""
    await client.close()


class SDKChatModel(BaseChatModel):
    """Base of ``ChatOpenAI`` and ``ChatAnthropic``."""

    #: the SDK's import name
    sdk: ClassVar[str]
    _clients: PerLoop[Any]
    _api_key: Secret
    limits: CallLimits
    timeout: float | None

    @property
    def endpoint(self) -> str:
        """The URL requests go to, as errors name it."""
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
