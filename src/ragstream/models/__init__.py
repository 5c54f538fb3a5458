"""Chat models: a base class to implement, and the models ragstream ships."""

from __future__ import annotations

import importlib
from typing import Any

from ragstream.models._base import BaseChatModel
from ragstream.models._fake import FakeChatModel
from ragstream.models._llm import BaseLLM, FakeLLM

__all__ = [
    "BaseChatModel",
    "BaseLLM",
    "ChatAnthropic",
    "ChatOpenAI",
    "ExtractiveChatModel",
    "FakeChatModel",
    "FakeLLM",
    "init_chat_model",
]

# provider SDKs load on first use, so that importing ragstream stays fast
_LAZY = {
    "ChatOpenAI": "ragstream.models._openai",
    "ChatAnthropic": "ragstream.models._anthropic",
    "ExtractiveChatModel": "ragstream.models._extractive",
    "init_chat_model": "ragstream.models._init",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ragstream.models' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
