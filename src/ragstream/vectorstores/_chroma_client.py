"""How a Chroma is reached: the arguments that name it, and its chromadb client.

A Chroma is a server (``url``, or ``host``/``port``), a folder
(``persist_directory``), a chromadb client given as it is, or, with none of
those, the in-memory one of this process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ragstream.errors import ConfigError, MissingDependencyError

__all__ = ["RECORDS_SUFFIX", "Server", "describe", "not_found", "open_client", "target"]

#: the side collection beside ``<name>`` that holds its index records
RECORDS_SUFFIX = ".index-records"


def _chromadb() -> Any:
    try:
        import chromadb
    except ImportError as exc:
        raise MissingDependencyError("chromadb", "local") from exc
    return chromadb


Server = tuple[str, int, bool]  # host, port, https


def _parse_url(url: str) -> Server:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"Chroma url must look like http://host:8000, got {url!r}")
    if parts.path not in ("", "/") or parts.query:
        raise ConfigError(f"Chroma url must not have a path or query, got {url!r}")
    ssl = parts.scheme == "https"
    try:
        port = parts.port or (443 if ssl else 8000)
    except ValueError as exc:
        raise ConfigError(f"Chroma url {url!r}: {exc}") from None
    return parts.hostname, port, ssl


def target(
    *,
    client: Any,
    persist_directory: str | os.PathLike[str] | None,
    url: str | None,
    host: str | None,
    port: int | None,
    ssl: bool,
) -> tuple[Server | None, str | None]:
    """Which Chroma the arguments name: a server, a folder, or neither (a client, or memory)."""
    remote = url is not None or host is not None
    if sum([client is not None, remote, persist_directory is not None]) > 1:
        raise ConfigError("Chroma: give at most one of client, url/host and persist_directory")
    if url is not None and (host is not None or port is not None):
        raise ConfigError("Chroma: give url, or host and port, not both")
    server: Server | None = None
    if url is not None:
        server = _parse_url(url)
    elif host is not None:
        server = (host, port or 8000, ssl)
    folder = str(Path(persist_directory)) if persist_directory is not None else None
    return server, folder


def open_client(
    server: Server | None, persist_directory: str | None, headers: dict[str, str] | None
) -> Any:
    """A chromadb client for a server, a folder, or this process's memory (telemetry off)."""
    chromadb = _chromadb()
    settings = chromadb.config.Settings(anonymized_telemetry=False)
    if server is not None:
        host, port, ssl = server
        return chromadb.HttpClient(
            host=host, port=port, ssl=ssl, headers=headers, settings=settings
        )
    if persist_directory is not None:
        return chromadb.PersistentClient(path=persist_directory, settings=settings)
    return chromadb.EphemeralClient(settings=settings)


def describe(server: Server | None, persist_directory: str | None, client: Any) -> str:
    """Where a Chroma is, for messages: ``at http://host:8000``, ``in <folder>``, ..."""
    if server is not None:
        host, port, ssl = server
        return f"at {'https' if ssl else 'http'}://{host}:{port}"
    if persist_directory is not None:
        return f"in {persist_directory}"
    return "in memory" if client is None else "(given client)"


def not_found(exc: Exception) -> bool:
    """Whether a chromadb error says the collection does not exist."""
    # chromadb's NotFoundError from disk; a server's may arrive as another type
    return type(exc).__name__ == "NotFoundError" or "does not exist" in str(exc)
