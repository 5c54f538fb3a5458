"""``init_chat_model``: a chat model from one string, as configuration files
and command lines name them."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from ragstream.errors import ConfigError
from ragstream.models._base import BaseChatModel

__all__ = ["PROVIDERS", "init_chat_model", "ollama_base_url"]

#: provider names ``init_chat_model`` knows, as ``"<provider>:<model>"``
PROVIDERS = ("openai", "anthropic", "ollama", "openai-compatible", "extractive")

_OLLAMA_PORT = 11434


def ollama_base_url() -> str:
    """Ollama's OpenAI-compatible URL: from ``OLLAMA_HOST``, else localhost."""
    host = os.environ.get("OLLAMA_HOST", "").strip()
    if not host:
        return f"http://localhost:{_OLLAMA_PORT}/v1"
    if "://" not in host:
        host = f"http://{host}"
    parts = urlsplit(host)
    name = parts.hostname or "localhost"
    if name in ("0.0.0.0", "::"):  # the address Ollama listens on, not one to call
        name = "localhost"
    port = parts.port or _OLLAMA_PORT
    return f"{parts.scheme}://{name}:{port}{parts.path.rstrip('/')}/v1"


def _infer(model: str) -> str | None:
    lowered = model.lower()
    if lowered.startswith(("gpt-", "gpt4", "chatgpt", "o1", "o3", "o4", "text-")):
        return "openai"
    if lowered.startswith("claude"):
        return "anthropic"
    if lowered == "extractive":
        return "extractive"
    return None


def init_chat_model(
    model: str,
    *,
    model_provider: str | None = None,
    base_url: str | None = None,
    **kwargs: Any,
) -> BaseChatModel:
    """A chat model named by ``"<provider>:<model>"``; other keyword arguments
    go to the model's class.

    - ``"openai:gpt-4o-mini"`` - ``ChatOpenAI`` (key from ``OPENAI_API_KEY``)
    - ``"anthropic:claude-haiku-4-5"`` - ``ChatAnthropic``
    - ``"ollama:llama3.2"`` - ``ChatOpenAI`` on Ollama (``OLLAMA_HOST``, else
      ``http://localhost:11434``)
    - ``"openai-compatible:<model>@<base_url>"``, or any model with
      ``base_url=...`` - ``ChatOpenAI`` on that server
    - ``"extractive"`` - the offline ``ExtractiveChatModel`` (no key, no network)

    Without a provider, ``gpt-*``/``o1``... mean OpenAI and ``claude*`` Anthropic.

    >>> init_chat_model("ollama:llama3.2", temperature=0)
    ChatOpenAI(model='llama3.2', base_url='http://localhost:11434/v1')
    """
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(f"a chat model is named by a non-empty string, not {model!r}")
    provider, sep, name = model.strip().partition(":")
    if not sep:
        provider, name = "", provider
    if model_provider:
        if provider and provider != model_provider:
            raise ConfigError(
                f"model {model!r} names provider {provider!r} but model_provider="
                f"{model_provider!r}"
            )
        provider = model_provider
    if not provider:
        provider = "openai-compatible" if base_url else (_infer(name) or "")
    provider = provider.lower()

    if provider == "extractive":
        from ragstream.models._extractive import ExtractiveChatModel

        return ExtractiveChatModel(**kwargs)
    if provider not in PROVIDERS:
        known = ", ".join(PROVIDERS)
        if not provider:
            raise ConfigError(
                f"cannot tell the provider of chat model {model!r}; name it as "
                f"'<provider>:<model>' with one of: {known}"
            )
        raise ConfigError(f"unknown chat model provider {provider!r} in {model!r}; known: {known}")
    if not name:
        raise ConfigError(f"chat model {model!r} names no model after '{provider}:'")

    if provider == "anthropic":
        from ragstream.models._anthropic import ChatAnthropic

        if base_url is not None:
            kwargs["base_url"] = base_url
        return ChatAnthropic(model=name, **kwargs)

    from ragstream.models._openai import ChatOpenAI

    if provider == "openai-compatible":
        name, at, url = name.partition("@")
        if at:
            base_url = base_url or url
        if not base_url or not name:
            raise ConfigError(
                f"{model!r}: write 'openai-compatible:<model>@<base_url>' "
                "or pass base_url=..."
            )
    elif provider == "ollama":
        base_url = base_url or ollama_base_url()
    return ChatOpenAI(model=name, base_url=base_url, **kwargs)
