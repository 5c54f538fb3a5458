"""Chat messages: system, human, AI and tool messages, and the additive
``AIMessageChunk`` that chat models stream.

Wherever messages are taken, ``(role, text)`` tuples, plain strings (a human
message) and ``{"role": ..., "content": ...}`` dicts are accepted too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from ragstream.errors import InputError

__all__ = [
    "AIMessage",
    "AIMessageChunk",
    "BaseMessage",
    "HumanMessage",
    "SystemMessage",
    "ToolMessage",
    "UsageMetadata",
    "to_message",
    "to_messages",
]

UsageMetadata = dict[str, int]


class BaseMessage:
    """A message in a conversation. ``type`` is ``system``, ``human``, ``ai`` or ``tool``."""

    type: ClassVar[str] = "base"
    __slots__ = ("content", "id", "name", "response_metadata")

    def __init__(
        self,
        content: str,
        *,
        id: str | None = None,
        name: str | None = None,
        response_metadata: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(content, str):
            raise InputError(
                f"{type(self).__name__}.content must be a str, not {type(content).__name__}"
            )
        self.content = content
        self.id = id
        self.name = name
        self.response_metadata = response_metadata if response_metadata is not None else {}

    @property
    def text(self) -> str:
        return self.content

    def _extra(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.response_metadata:
            out["response_metadata"] = self.response_metadata
        if self.id is not None:
            out["id"] = self.id
        if self.name is not None:
            out["name"] = self.name
        return out

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self._extra().items())
        return f"{type(self).__name__}(content={self.content!r}{extra})"

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and self.content == other.content
            and self._extra() == other._extra()
        )

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict in the shape clients of the reference framework expect."""
        return {"type": self.type, "content": self.content, **self._extra()}


class SystemMessage(BaseMessage):
    type: ClassVar[str] = "system"
    __slots__ = ()


class HumanMessage(BaseMessage):
    type: ClassVar[str] = "human"
    __slots__ = ()


class ToolMessage(BaseMessage):
    type: ClassVar[str] = "tool"
    __slots__ = ("tool_call_id",)

    def __init__(self, content: str, *, tool_call_id: str, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.tool_call_id = tool_call_id

    def _extra(self) -> dict[str, Any]:
        return {"tool_call_id": self.tool_call_id, **super()._extra()}


class AIMessage(BaseMessage):
    """A model's message. ``usage_metadata`` holds ``input_tokens``,
    ``output_tokens`` and ``total_tokens`` when the provider reports them."""

    type: ClassVar[str] = "ai"
    __slots__ = ("usage_metadata",)

    def __init__(
        self, content: str, *, usage_metadata: UsageMetadata | None = None, **kwargs: Any
    ) -> None:
        super().__init__(content, **kwargs)
        self.usage_metadata = usage_metadata

    def _extra(self) -> dict[str, Any]:
        out = super()._extra()
        if self.usage_metadata:
            out["usage_metadata"] = self.usage_metadata
        return out


class AIMessageChunk(AIMessage):
    """A piece of a streamed AI message; chunks add up with ``+``.

    >>> AIMessageChunk(content="Task") + AIMessageChunk(content=" decomposition")
    AIMessageChunk(content='Task decomposition')
    """

    type: ClassVar[str] = "AIMessageChunk"
    __slots__ = ()

    def __add__(self, other: Any) -> AIMessageChunk:
        if not isinstance(other, AIMessageChunk):
            return NotImplemented
        usage = _add_usage(self.usage_metadata, other.usage_metadata)
        meta = {**self.response_metadata, **other.response_metadata} if (
            self.response_metadata or other.response_metadata
        ) else None
        return AIMessageChunk(
            self.content + other.content,
            usage_metadata=usage,
            response_metadata=meta,
            id=self.id or other.id,
            name=self.name or other.name,
        )

    @classmethod
    def merge(cls, chunks: list[AIMessageChunk]) -> AIMessageChunk:
        """The sum of many chunks, in one pass (``+`` in a loop copies the text each time)."""
        usage: UsageMetadata | None = None
        meta: dict[str, Any] = {}
        first_id = first_name = None
        for c in chunks:
            if c.usage_metadata:
                usage = _add_usage(usage, c.usage_metadata)
            if c.response_metadata:
                meta.update(c.response_metadata)
            first_id = first_id or c.id
            first_name = first_name or c.name
        return cls(
            "".join(c.content for c in chunks), usage_metadata=usage,
            response_metadata=meta or None, id=first_id, name=first_name,
        )

    def to_message(self) -> AIMessage:
        """The whole message these chunks add up to."""
        return AIMessage(
            self.content, usage_metadata=self.usage_metadata,
            response_metadata=dict(self.response_metadata), id=self.id, name=self.name,
        )


def _add_usage(a: UsageMetadata | None, b: UsageMetadata | None) -> UsageMetadata | None:
    if not a:
        return dict(b) if b else None
    if not b:
        return dict(a)
    return {k: a.get(k, 0) + b.get(k, 0) for k in {**a, **b}}


_ROLES: dict[str, type[BaseMessage]] = {
    "system": SystemMessage,
    "human": HumanMessage,
    "user": HumanMessage,
    "ai": AIMessage,
    "assistant": AIMessage,
}


def to_message(thing: Any) -> BaseMessage:
    """A message from a message, a ``(role, text)`` tuple, a string or a dict."""
    if isinstance(thing, BaseMessage):
        return thing
    if isinstance(thing, str):
        return HumanMessage(thing)
    if isinstance(thing, tuple | list) and len(thing) == 2 and isinstance(thing[0], str):
        role, content = thing
        return _from_role(role, content)
    if isinstance(thing, dict) and "role" in thing:
        return _from_role(thing["role"], thing.get("content", ""))
    raise InputError(
        f"cannot make a chat message from {type(thing).__name__} {thing!r:.60}; "
        "use a message, a (role, text) tuple, a string or a {'role', 'content'} dict"
    )


def _from_role(role: str, content: Any) -> BaseMessage:
    cls = _ROLES.get(role)
    if cls is None:
        raise InputError(
            f"unknown message role {role!r}; use one of: {', '.join(sorted(_ROLES))}"
        )
    if not isinstance(content, str):
        raise InputError(f"message content must be a str, not {type(content).__name__}")
    return cls(content)


def to_messages(things: Iterable[Any]) -> list[BaseMessage]:
    """Messages from a list of messages, tuples, strings or dicts."""
    if isinstance(things, str | BaseMessage):
        return [to_message(things)]
    return [to_message(t) for t in things]
