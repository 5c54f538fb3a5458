"""The chat model base class.

An implementer writes one async generator, ``_astream_chat(messages, **kwargs)``,
that yields text pieces (``str``) or ``AIMessageChunk``s. The base class takes
any prompt form as input, emits ``on_chat_model_start/stream/end`` with the
messages and the final message, adds up token usage when the provider reports
it, and derives invoke, stream, batch and events from that one method.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from ragstream.core import Runnable
from ragstream.core._streams import aclose, aggregate
from ragstream.errors import InputError
from ragstream.messages import AIMessage, AIMessageChunk, BaseMessage, to_messages

__all__ = ["BaseChatModel", "LanguageModelInput", "input_messages"]

LanguageModelInput = Any  # str | list of messages or tuples | a prompt value


def input_messages(value: Any) -> list[BaseMessage]:
    """The messages a chat model is asked with, from any prompt form."""
    if isinstance(value, str):
        return to_messages([value])
    to = getattr(value, "to_messages", None)
    if callable(to):
        return list(to())
    if isinstance(value, list | tuple):
        return to_messages(value)
    if isinstance(value, BaseMessage):
        return [value]
    raise InputError(
        f"a chat model takes a string, a list of messages or a prompt value, "
        f"not {type(value).__name__}"
    )


class BaseChatModel(Runnable[LanguageModelInput, AIMessage]):
    """Base for chat models: implement ``_astream_chat``."""

    run_type: ClassVar[str] = "chat_model"
    _stream_on_invoke: ClassVar[bool] = True

    async def _astream_chat(
        self, messages: list[BaseMessage], **kwargs: Any
    ) -> AsyncIterator[AIMessageChunk | str]:
        raise NotImplementedError(f"{type(self).__name__} must implement _astream_chat")
        yield ""  # pragma: no cover - makes this an async generator

    async def _astream(self, input: Any, **kwargs: Any) -> AsyncIterator[AIMessageChunk]:
        stream = self._astream_chat(input_messages(input), **kwargs)
        try:
            async for piece in stream:
                yield piece if type(piece) is AIMessageChunk else _chunk(piece)
        finally:
            await aclose(stream)

    async def _ainvoke(self, input: Any, **kwargs: Any) -> AIMessage:
        started = time.perf_counter()
        first_at = 0.0
        chunks: list[AIMessageChunk] = []
        async for c in self._astream(input, **kwargs):
            if not first_at and c.content:
                first_at = time.perf_counter()
            chunks.append(c)
        total = self._end_output(aggregate(chunks) if chunks else AIMessageChunk(""),
                                 started, first_at)
        return self._finish_invoke(total)

    def _end_output(self, output: Any, started: float, first_at: float) -> Any:
        """The whole message, with the time to first token and the latency
        (seconds) added to its ``response_metadata``."""
        if not isinstance(output, AIMessageChunk):
            return output
        timing: dict[str, Any] = {"latency_s": round(time.perf_counter() - started, 6)}
        if first_at:
            timing["time_to_first_token_s"] = round(first_at - started, 6)
        return AIMessageChunk(
            output.content, usage_metadata=output.usage_metadata,
            response_metadata={**output.response_metadata, **timing},
            id=output.id, name=output.name,
        )

    def _finish_invoke(self, aggregated: Any) -> AIMessage:
        if isinstance(aggregated, AIMessageChunk):
            return aggregated.to_message()
        return AIMessage("")

    def _event_input(self, value: Any) -> Any:
        try:
            return {"messages": [input_messages(value)]}
        except InputError:
            return value


def _chunk(piece: Any) -> AIMessageChunk:
    if isinstance(piece, str):
        return AIMessageChunk(piece)
    if isinstance(piece, AIMessageChunk):
        return piece
    raise TypeError(f"_astream_chat must yield str or AIMessageChunk, not {type(piece).__name__}")
