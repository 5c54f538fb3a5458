"""JSON for what runnables take and give: documents, messages, chunks, events.

Objects go out in the shapes that clients of the reference framework's
server decode (``{"type": "Document", "page_content": ...}``,
``{"type": "ai", "content": ...}``, ``{"type": "AIMessageChunk", ...}``,
``{"type": "ChatPromptValueConcrete", "messages": [...]}``), and the same
shapes coming in are turned back into ragstream objects. Exceptions inside
event data go out as a safe ``{"status_code", "message"}``, never a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import math
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import PurePath
from typing import Any
from urllib.parse import urlsplit

from ragstream.documents import Document
from ragstream.errors import InputError
from ragstream.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

__all__ = ["decode", "dumps", "encode", "source_card"]

_MESSAGE_TYPES: dict[str, type[BaseMessage]] = {
    "human": HumanMessage,
    "HumanMessageChunk": HumanMessage,
    "ai": AIMessage,
    "AIMessageChunk": AIMessageChunk,
    "system": SystemMessage,
    "SystemMessageChunk": SystemMessage,
    "tool": ToolMessage,
    "ToolMessageChunk": ToolMessage,
}


def encode(obj: Any) -> Any:
    """``obj`` as plain JSON values."""
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): encode(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [encode(v) for v in obj]
    if isinstance(obj, Document | BaseMessage):
        return encode(obj.to_dict())
    if isinstance(obj, BaseException):
        from ragstream.server._errors import public_error

        return dict(public_error(obj))
    messages = getattr(obj, "messages", None)
    if isinstance(messages, list) and callable(getattr(obj, "to_messages", None)):
        return {"messages": [encode(m) for m in messages], "type": "ChatPromptValueConcrete"}
    text = getattr(obj, "text", None)
    if isinstance(text, str) and callable(getattr(obj, "to_string", None)):
        return {"text": text, "type": "StringPromptValue"}
    if isinstance(obj, uuid.UUID | PurePath):
        return str(obj)
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, set | frozenset):
        return [encode(v) for v in obj]
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return encode(to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return encode(dataclasses.asdict(obj))
    return str(obj)


def dumps(obj: Any) -> str:
    """Compact JSON text of ``obj`` (one line, so it fits one SSE ``data:`` field)."""
    return json.dumps(encode(obj), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def decode(value: Any) -> Any:
    """Plain JSON values with serialized documents and messages made objects again."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("type")
    if kind == "Document" and isinstance(value.get("page_content"), str):
        metadata = value.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise InputError("a Document's metadata must be an object")
        doc_id = value.get("id")
        return Document(
            value["page_content"], metadata=metadata,
            id=doc_id if isinstance(doc_id, str) else None,
        )
    if isinstance(kind, str) and kind in _MESSAGE_TYPES and "content" in value:
        return _message(kind, value)
    return {k: decode(v) for k, v in value.items()}


def _message(kind: str, value: Mapping[str, Any]) -> BaseMessage:
    content = value["content"]
    if not isinstance(content, str):
        raise InputError(
            f"message content must be a string, not {type(content).__name__} "
            "(only text messages are accepted)"
        )
    meta = value.get("response_metadata")
    extra: dict[str, Any] = {
        "id": value["id"] if isinstance(value.get("id"), str) else None,
        "name": value["name"] if isinstance(value.get("name"), str) else None,
        "response_metadata": dict(meta) if isinstance(meta, dict) else None,
    }
    cls = _MESSAGE_TYPES[kind]
    if cls is ToolMessage:
        call_id = value.get("tool_call_id")
        if not isinstance(call_id, str):
            raise InputError("a tool message needs a string 'tool_call_id'")
        return ToolMessage(content, tool_call_id=call_id, **extra)
    if issubclass(cls, AIMessage):
        usage = value.get("usage_metadata")
        return cls(content, usage_metadata=usage if isinstance(usage, dict) else None, **extra)
    return cls(content, **extra)


_SNIPPET = 280


def source_card(
    doc: Document, *, rank: int, show_source: Callable[[str], str] | None = None
) -> dict[str, Any]:
    """What the chat page and the OpenAI route show of a retrieved document:
    title, link (only for http(s) sources), snippet and score when known.
    ``show_source`` turns the document's source into what the client is shown
    (a file path relative to the collection's files, say)."""
    meta = doc.metadata or {}
    source = str(meta.get("source") or "")
    link = source if urlsplit(source).scheme in ("http", "https") else None
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        title = PurePath(urlsplit(source).path).name or source or f"Source {rank}"
    text = " ".join(doc.page_content.split())
    snippet = text if len(text) <= _SNIPPET else text[: _SNIPPET - 1].rstrip() + "…"
    score = next(
        (meta[k] for k in ("score", "relevance_score", "similarity") if k in meta), None
    )
    return {
        "rank": rank,
        "id": doc.id,
        "title": title.strip(),
        "source": (show_source(source) if show_source else source) if source else None,
        "link": link,
        "snippet": snippet,
        "score": float(score) if isinstance(score, int | float) else None,
        "start_index": meta.get("start_index"),
    }
