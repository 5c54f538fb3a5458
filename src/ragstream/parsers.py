"""Output parsers: turn what a model produces into what the next step wants."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

from ragstream.core import Runnable
from ragstream.core._streams import aclose
from ragstream.errors import InputError
from ragstream.messages import BaseMessage

__all__ = ["StrOutputParser"]


def _text(chunk: Any) -> str:
    if isinstance(chunk, str):
        return chunk
    if isinstance(chunk, BaseMessage):
        return chunk.content
    raise InputError(
        f"StrOutputParser: expected a message or a string, got {type(chunk).__name__}"
    )


class StrOutputParser(Runnable[Any, str]):
    """The text of a model's message, streamed chunk by chunk.

    >>> from ragstream.testing import FakeChatModel
    >>> (FakeChatModel("Hello there") | StrOutputParser()).invoke("hi")
    'Hello there'
    """

    run_type: ClassVar[str] = "parser"
    _transforms: ClassVar[bool] = True

    async def _ainvoke(self, input: Any, **kwargs: Any) -> str:
        return _text(input)

    async def _atransform(self, inputs: AsyncIterator[Any], **kwargs: Any) -> AsyncIterator[str]:
        try:
            async for chunk in inputs:
                yield chunk if type(chunk) is str else _text(chunk)
        finally:
            await aclose(inputs)
