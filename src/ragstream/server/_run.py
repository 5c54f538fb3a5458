"""Running an app under uvicorn, with a shutdown that ends open streams first.

uvicorn, on SIGTERM, stops accepting connections and then waits for the open
ones to finish before it tells the app to shut down; an SSE stream that runs
for minutes would hold that wait. ``serve`` ends every open stream with its
terminal event first, so the drain is quick and every client learns why its
stream ended.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from typing import TYPE_CHECKING, Any

from ragstream.errors import MissingDependencyError

if TYPE_CHECKING:
    from ragstream.app import RagApp
    from ragstream.config import Settings

__all__ = ["run_server", "serve"]

log = logging.getLogger("ragstream.server")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
    sock: socket.socket | None = None,
    graceful_timeout: int = 10,
) -> None:
    """Run ``app`` under uvicorn until SIGINT/SIGTERM; open streams end with a
    terminal event before the server drains.

    >>> # serve(create_app(chain, path="/chain"), port=8000)
    """
    try:
        import uvicorn
    except ImportError:
        raise MissingDependencyError("uvicorn", "server") from None

    class _Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            for server in self.servers:
                server.close()  # no new streams while the open ones end
            registry = getattr(getattr(app, "state", None), "event_streams", None)
            if registry is not None:
                await registry.aclose(timeout=graceful_timeout / 2)
            await super().shutdown(sockets)

    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, lifespan="on",
        timeout_graceful_shutdown=int(graceful_timeout),
    )
    server = _Server(config)
    server.run(sockets=[sock] if sock is not None else None)


def run_server(settings: Settings, *, rag_app: RagApp | None = None) -> None:
    """What ``ragstream serve`` runs: the RAG app named by ``settings`` (host,
    port, api_key, cors_origins, allow_private_urls, collection, k, model) at
    ``http://host:port/``, until SIGINT/SIGTERM.

    It starts serving at once and warms up in the background (``/readyz``);
    a collection with no documents is named in a warning, and questions get
    409 until it has some. File sources are shown relative to the
    collection's files."""
    from ragstream.server._rag import create_rag_server

    if rag_app is None:
        from ragstream.app import RagApp

        rag_app = RagApp(settings)
    if not _is_loopback(settings.host) and not settings.api_key:
        log.warning(
            "listening on %s without an API key: anyone who can reach this address can "
            "use the server; set --api-key or RAGSTREAM_API_KEY", settings.host,
        )
    app = create_rag_server(
        rag_app,
        api_key=settings.api_key,
        cors_origins=settings.cors_origins,
        allow_private_urls=settings.allow_private_urls,
    )
    serve(app, host=settings.host, port=settings.port)
