"""Model servers for tests: real HTTP on 127.0.0.1, real wire formats, scripted
faults.

``OpenAIServer`` speaks the OpenAI API (chat completions streamed and whole,
embeddings, models); ``AnthropicServer`` speaks the Anthropic Messages API.
Both run on a daemon thread with their own event loop, so tests use them from
sync code and from any event loop.

Script what the next requests get, then look at what arrived::

    from tests.servers import OpenAIServer, Reply

    server = OpenAIServer().start()
    server.script(
        Reply(status=429, headers={"Retry-After": "1"}),   # first POST
        Reply(text=["Task", " decomposition"], delay=0.01),  # second POST
    )
    ...                                   # ChatOpenAI(base_url=server.base_url)
    first, second = server.requests        # method, path, headers, json, at
    server.wait_disconnected(second)       # when the client closed the connection

Faults a ``Reply`` can script: an error ``status`` with ``headers``, ``delay``
per token and ``first_delay``, ``close_after`` N tokens (socket closed
mid-body), ``finish=False`` (no finish reason), ``silence_after_headers``,
``trickle`` (one byte at a time), ``malformed_after`` N tokens, ``error_after``
N tokens (an error frame mid-stream), ``split_utf8`` (a multibyte character cut
across two network writes) and ``raw`` bytes. ``refused_url()`` gives a base
URL where nothing listens.

In pytest, import the fixtures from ``tests.servers.fixtures`` into a conftest: they
share one server of each kind for the session and reset it around each test.
"""

from ._scripted import Received, Reply, ScriptedServer, refused_url, split_tokens
from .anthropic_server import AnthropicServer
from .openai_server import OpenAIServer, vector

__all__ = [
    "AnthropicServer",
    "OpenAIServer",
    "Received",
    "Reply",
    "ScriptedServer",
    "refused_url",
    "shared_anthropic_server",
    "shared_openai_server",
    "split_tokens",
    "vector",
]

_shared: dict[str, ScriptedServer] = {}


def shared_openai_server() -> OpenAIServer:
    """The process-wide OpenAI server, started on first use."""
    server = _shared.get("openai")
    if server is None:
        server = _shared["openai"] = OpenAIServer().start()
    assert isinstance(server, OpenAIServer)
    return server


def shared_anthropic_server() -> AnthropicServer:
    """The process-wide Anthropic server, started on first use."""
    server = _shared.get("anthropic")
    if server is None:
        server = _shared["anthropic"] = AnthropicServer().start()
    assert isinstance(server, AnthropicServer)
    return server
