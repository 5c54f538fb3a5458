"""A scripted chat model for tests: it streams a given answer token by token."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from ragstream.messages import AIMessageChunk, BaseMessage
from ragstream.models._base import BaseChatModel

__all__ = ["FakeChatModel", "split_tokens"]

_TOKEN = re.compile(r"\s*[\w']+|\s*[^\w\s]|\s+")


def split_tokens(text: str) -> list[str]:
    """Split text the way chat models stream it: words with their leading space,
    and punctuation on its own."""
    return _TOKEN.findall(text)


class FakeChatModel(BaseChatModel):
    """Streams ``answer`` token by token, waiting ``delay`` seconds before each.

    Give a list of answers to answer successive calls in turn. Every call's
    messages are kept in ``calls``; the last chunk reports token usage.

    >>> model = FakeChatModel("Task decomposition breaks tasks down.")
    >>> [c.content for c in model.stream("What is it?")][:3]
    ['Task', ' decomposition', ' breaks']
    """

    def __init__(self, answer: str | Sequence[str], delay: float = 0.0) -> None:
        self.answers = [answer] if isinstance(answer, str) else list(answer)
        if not self.answers:
            raise ValueError("FakeChatModel needs at least one answer")
        if delay < 0:
            raise ValueError("delay must not be negative")
        self.delay = delay
        self.calls: list[list[BaseMessage]] = []

    async def _astream_chat(
        self, messages: list[BaseMessage], **kwargs: Any
    ) -> AsyncIterator[AIMessageChunk | str]:
        answer = self.answers[len(self.calls) % len(self.answers)]
        self.calls.append(messages)
        stop = kwargs.get("stop")
        tokens = split_tokens(answer)
        if stop:
            tokens = _cut_at_stop(tokens, stop)
        delay = self.delay
        last = len(tokens) - 1
        for i, token in enumerate(tokens):
            if delay:
                await asyncio.sleep(delay)
            if i == last:
                prompt_tokens = sum(len(split_tokens(m.content)) for m in messages)
                yield AIMessageChunk(
                    token,
                    usage_metadata={
                        "input_tokens": prompt_tokens,
                        "output_tokens": len(tokens),
                        "total_tokens": prompt_tokens + len(tokens),
                    },
                    response_metadata={"finish_reason": "stop", "model_name": "fake"},
                )
            else:
                yield token

    def __repr__(self) -> str:
        return f"FakeChatModel({self.answers[0]!r:.40}, delay={self.delay})"


def _cut_at_stop(tokens: list[str], stop: Sequence[str]) -> list[str]:
    text = "".join(tokens)
    cut = min((i for s in stop if (i := text.find(s)) >= 0), default=-1)
    return tokens if cut < 0 else split_tokens(text[:cut])
