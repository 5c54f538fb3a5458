"""Fixtures for the chat model tests: the shared test servers, and ``target``,
which runs a test once against ChatOpenAI on the OpenAI server and once
against ChatAnthropic on the Anthropic server."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from ragstream.core._bridge import run_sync
from ragstream.models import BaseChatModel, ChatAnthropic, ChatOpenAI
from tests.servers import AnthropicServer, OpenAIServer, ScriptedServer
from tests.servers.fixtures import anthropic_server, openai_server  # noqa: F401

#: a key distinctive enough that any leak of it is found by a substring test
KEY = "sk-test-LEAKCHECK-7f3a9c2e5b1d"


@dataclass
class Target:
    """A chat model class and the test server that speaks its protocol."""

    name: str
    server: ScriptedServer
    make: Callable[..., BaseChatModel]

    def model(self, **kwargs: Any) -> BaseChatModel:
        """A model on this server with the test key and fast retries."""
        kwargs.setdefault("api_key", KEY)
        kwargs.setdefault("retry_backoff", 0.01)
        return self.make(**kwargs)

    def key_header(self, headers: dict[str, str]) -> str:
        """The credential the server received."""
        bearer = headers.get("authorization", "").removeprefix("Bearer ")
        return headers.get("x-api-key") or bearer


def openai_target(server: OpenAIServer) -> Target:
    return Target("openai", server, lambda **kw: ChatOpenAI(**{"base_url": server.base_url, **kw}))


def anthropic_target(server: AnthropicServer) -> Target:
    return Target("anthropic", server, lambda **kw: ChatAnthropic(**{"base_url": server.url, **kw}))


@pytest.fixture(params=["openai", "anthropic"])
def target(
    request: pytest.FixtureRequest,
    openai_server: OpenAIServer,  # noqa: F811
    anthropic_server: AnthropicServer,  # noqa: F811
) -> Target:
    # the SDK's first import takes a second or two: not part of any timing here
    importlib.import_module(request.param)
    if request.param == "openai":
        return openai_target(openai_server)
    return anthropic_target(anthropic_server)


@pytest.fixture
def key() -> str:
    """The fake API key every model in these tests uses."""
    return KEY


def _background_tasks() -> int:
    async def count() -> int:
        return len(asyncio.all_tasks()) - 1

    return run_sync(count)


@pytest.fixture
def background_tasks() -> Callable[[], int]:
    """Counts the tasks on the shared loop of the sync methods (besides its probe)."""
    return _background_tasks
