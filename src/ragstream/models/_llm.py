"""Text-completion models (prompt text in, text out), as opposed to chat models.

An implementer writes ``_astream_text(prompt, **kwargs)``, an async generator of
text pieces; runs emit ``on_llm_start/stream/end``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

from ragstream.core import Runnable
from ragstream.core._streams import aclose
from ragstream.errors import InputError
from ragstream.messages import BaseMessage
from ragstream.models._fake import split_tokens

__all__ = ["BaseLLM", "FakeLLM"]


def prompt_text(value: Any) -> str:
    """The text a completion model is given, from any prompt form."""
    if isinstance(value, str):
        return value
    to = getattr(value, "to_string", None)
    if callable(to):
        return str(to())
    if isinstance(value, BaseMessage):
        return value.content
    raise InputError(f"a text model takes a string or a prompt value, not {type(value).__name__}")


class BaseLLM(Runnable[Any, str]):
    """Base for text-completion models: implement ``_astream_text``."""

    run_type: ClassVar[str] = "llm"

    async def _astream_text(self, prompt: str, **kwargs: Any) -> AsyncIterator[str]:
        raise NotImplementedError(f"{type(self).__name__} must implement _astream_text")
        yield ""  # pragma: no cover - makes this an async generator

    async def _astream(self, input: Any, **kwargs: Any) -> AsyncIterator[str]:
        stream = self._astream_text(prompt_text(input), **kwargs)
        try:
            async for piece in stream:
                yield piece
        finally:
            await aclose(stream)


class FakeLLM(BaseLLM):
    """Streams ``answer`` (or each of several answers in turn) token by token."""

    def __init__(self, answer: str | Sequence[str], delay: float = 0.0) -> None:
        self.answers = [answer] if isinstance(answer, str) else list(answer)
        if not self.answers:
            raise ValueError("FakeLLM needs at least one answer")
        self.delay = delay
        self.prompts: list[str] = []

    async def _astream_text(self, prompt: str, **kwargs: Any) -> AsyncIterator[str]:
        answer = self.answers[len(self.prompts) % len(self.answers)]
        self.prompts.append(prompt)
        for token in split_tokens(answer):
            if self.delay:
                await asyncio.sleep(self.delay)
            yield token
