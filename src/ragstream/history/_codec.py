"""Messages to table rows and back, and the convention for answers that were cut off.

A message is stored as three columns: its ``type`` (``system``, ``human``,
``ai`` or ``tool``), its ``content``, and ``data``, a JSON object holding
everything else it carries (``id``, ``name``, ``response_metadata``,
``usage_metadata``, ``tool_call_id``), so a message comes back equal to the
one that was stored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ragstream.errors import InputError, StoreError
from ragstream.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    to_message,
)

__all__ = ["Record", "decode", "encode_all", "is_incomplete", "mark_incomplete"]

_TYPES: dict[str, type[BaseMessage]] = {
    "system": SystemMessage,
    "human": HumanMessage,
    "ai": AIMessage,
    "tool": ToolMessage,
}

_COMMON = frozenset({"id", "name", "response_metadata"})
_FIELDS = {"ai": _COMMON | {"usage_metadata"}, "tool": _COMMON | {"tool_call_id"}}


@dataclass(frozen=True, slots=True)
class Record:
    """One message as the tables hold it."""

    type: str
    content: str
    data: str  # a JSON object


def encode_all(messages: Sequence[Any]) -> list[Record]:
    """Records for ``messages`` (messages, ``(role, text)`` tuples, strings or role dicts)."""
    if isinstance(messages, str | bytes | BaseMessage | dict) or not isinstance(
        messages, Sequence
    ):
        raise InputError(
            "messages must be a list of messages or (role, text) tuples, "
            f"not {type(messages).__name__}"
        )
    records = []
    for index, thing in enumerate(messages):
        try:
            records.append(_encode(to_message(thing)))
        except InputError as exc:
            raise InputError(f"message {index}: {exc}") from None
    return records


def _encode(message: BaseMessage) -> Record:
    if isinstance(message, AIMessageChunk):
        message = message.to_message()
    kind = message.type
    if kind not in _TYPES:
        raise InputError(
            f"cannot store a {type(message).__name__} (type {kind!r}); "
            f"the types stored are: {', '.join(_TYPES)}"
        )
    data: dict[str, Any] = {}
    if message.id is not None:
        data["id"] = message.id
    if message.name is not None:
        data["name"] = message.name
    if message.response_metadata:
        data["response_metadata"] = message.response_metadata
    if isinstance(message, AIMessage) and message.usage_metadata:
        data["usage_metadata"] = message.usage_metadata
    if isinstance(message, ToolMessage):
        data["tool_call_id"] = message.tool_call_id
    # PostgreSQL text and JSON cannot hold NUL; refuse it everywhere so that
    # both stores accept exactly the same messages
    if "\x00" in message.content or _has_nul(data):
        raise InputError(f"a {kind} message contains a NUL character, which cannot be stored")
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InputError(f"the metadata of a {kind} message is not JSON: {exc}") from None
    return Record(kind, message.content, text)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def decode(kind: str, content: str, data: str | dict[str, Any]) -> BaseMessage:
    """The message a row holds."""
    cls = _TYPES.get(kind)
    if cls is None:
        raise StoreError(f"the chat history holds a message of unknown type {kind!r}")
    fields = json.loads(data) if isinstance(data, str) else data
    # keys a newer version may add are left out rather than refused
    known = {k: v for k, v in fields.items() if k in _FIELDS.get(kind, _COMMON)}
    if kind == "tool":
        known.setdefault("tool_call_id", "")
    return cls(content, **known)


def mark_incomplete(message: AIMessage | str, *, reason: str = "stopped") -> AIMessage:
    """The AI message to store for an answer that was cut off before its end.

    Its ``response_metadata`` gets ``"incomplete": True`` and
    ``"incomplete_reason"``: ``"stopped"`` (the user pressed Stop or Ctrl-C),
    ``"disconnected"`` (the client went away), ``"timeout"`` or ``"error"``.
    Usage and other metadata are kept.

    >>> mark_incomplete(AIMessageChunk("Task decomp")).response_metadata
    {'incomplete': True, 'incomplete_reason': 'stopped'}
    """
    if isinstance(message, str):
        message = AIMessage(message)
    elif isinstance(message, AIMessageChunk):
        message = message.to_message()
    elif not isinstance(message, AIMessage):
        raise InputError(f"only an AI message can be incomplete, not {type(message).__name__}")
    return AIMessage(
        message.content,
        usage_metadata=message.usage_metadata,
        response_metadata={
            **message.response_metadata, "incomplete": True, "incomplete_reason": reason,
        },
        id=message.id,
        name=message.name,
    )


def is_incomplete(message: BaseMessage) -> bool:
    """True for an answer stored as cut off (see ``mark_incomplete``)."""
    return message.response_metadata.get("incomplete") is True
