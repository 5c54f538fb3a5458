"""Embeddings: the local MiniLM default, OpenAI-compatible servers, and a fake."""

from __future__ import annotations

import importlib
from typing import Any

from ragstream.embeddings._base import Embeddings
from ragstream.embeddings._fake import FakeEmbeddings

__all__ = ["Embeddings", "FakeEmbeddings", "MiniLMEmbeddings", "OpenAIEmbeddings"]

# heavy engines load on first use, so that importing ragstream stays fast
_LAZY = {
    "MiniLMEmbeddings": "ragstream.embeddings._minilm",
    "OpenAIEmbeddings": "ragstream.embeddings._openai",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ragstream.embeddings' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
