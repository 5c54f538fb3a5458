"""pytest fixtures for the test servers. Import them into a conftest::

    from tests.servers.fixtures import anthropic_server, openai_server  # noqa: F401

Each fixture gives the one shared server of its kind (started once per test
session, however many conftests import the fixtures), reset before and after
the test, so every test scripts its own replies and sees only its own requests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import (
    AnthropicServer,
    OpenAIServer,
    shared_anthropic_server,
    shared_openai_server,
)

__all__ = ["anthropic_server", "openai_server"]


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    """An OpenAI-compatible server on 127.0.0.1, reset for this test."""
    server = shared_openai_server()
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def anthropic_server() -> Iterator[AnthropicServer]:
    """An Anthropic-compatible server on 127.0.0.1, reset for this test."""
    server = shared_anthropic_server()
    server.reset()
    yield server
    server.reset()
