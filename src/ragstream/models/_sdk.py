"""Plumbing for the official provider SDKs: importing them lazily (off the
event loop), one client per event loop, classifying their errors, closing
their streams at once, and keeping keys out of sight."""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit, urlunsplit

from ragstream.errors import MissingDependencyError
from ragstream.models._http import Classify, EndedEarly, Failure, retry_after, root_reason

__all__ = [
    "PerLoop",
    "Secret",
    "aimport_sdk",
    "close_sdk_stream",
    "import_sdk",
    "safe_url",
    "sdk_classifier",
]

T = TypeVar("T")


class Secret:
    """An API key that never shows in reprs, logs or error messages."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value or None

    def get(self) -> str | None:
        return self._value

    def __bool__(self) -> bool:
        return self._value is not None

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret(None)"

    __str__ = __repr__

    def redact(self, text: str) -> str:
        """``text`` with the key, if it appears, replaced by stars."""
        return text.replace(self._value, "**********") if self._value else text


def safe_url(url: str) -> str:
    """A URL fit for messages: no user, password or query string."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class PerLoop(Generic[T]):
    """One object (an SDK client) per running event loop.

    SDK clients hold connection pools bound to the loop that opened them, and
    a model is used both from the caller's loop (``astream``) and from the
    background loop of the sync methods (``stream``); so each loop gets its own.
    A client is closed when its loop shuts down (``asyncio.run`` finalizes
    async generators, and a small one here closes the client), and forgotten
    when its loop is found stopped or closed.
    """

    def __init__(self, make: Callable[[], T], close: Callable[[T], Awaitable[Any]]) -> None:
        self._make = make
        self._close = close
        self._items: dict[asyncio.AbstractEventLoop, tuple[T, AsyncGenerator[None, None]]] = {}

    async def get(self) -> T:
        loop = asyncio.get_running_loop()
        entry = self._items.get(loop)
        if entry is not None:
            return entry[0]
        # list() copies in one step: other threads may be adding their loops
        for other in list(self._items):
            if other.is_closed() or not other.is_running():
                self._items.pop(other, None)
        item = self._make()
        keeper = self._keep(loop, item)
        await keeper.__anext__()  # now the loop knows it, and closes it at shutdown
        self._items[loop] = (item, keeper)
        return item

    async def _keep(self, loop: asyncio.AbstractEventLoop, item: T) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            entry = self._items.get(loop)
            if entry is not None and entry[0] is item:
                self._items.pop(loop, None)
            await self._close(item)

    def __len__(self) -> int:
        return len(self._items)


def _message_of(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict):
            body = inner
        message = body.get("message")
        if isinstance(message, str) and message:
            kind = body.get("type")
            return f"{kind}: {message}" if isinstance(kind, str) and kind else message
    if isinstance(body, str) and body:
        return body[:300]
    return str(getattr(exc, "message", "") or exc)


def _transport_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """Timeout errors and broken-connection errors of the HTTP stack under the
    SDKs: httpx2 (openai 3.x, anthropic 2.x) or httpx (earlier releases)."""
    timeouts: list[type[BaseException]] = []
    broken: list[type[BaseException]] = [ConnectionError]
    for name in ("httpx2", "httpx"):
        module = sys.modules.get(name)
        if module is not None:
            timeouts.append(module.TimeoutException)
            broken.append(module.TransportError)
    anyio = sys.modules.get("anyio")
    if anyio is not None:
        broken += [anyio.EndOfStream, anyio.BrokenResourceError]
    return tuple(timeouts), tuple(broken)


def sdk_classifier(name: str, timeout: float | None) -> Classify:
    """Classify the errors of the official SDK ``name`` (``openai`` or
    ``anthropic``: their error classes share names) and of the HTTP stack under
    it. ``timeout`` is the silence its client was told to allow. The SDK is
    looked up when an error comes, which is after it was imported."""

    def classify(exc: BaseException, connected: bool) -> Failure | None:
        sdk = sys.modules.get(name)
        if sdk is None:
            return None
        timeouts, broken = _transport_errors()
        if isinstance(exc, EndedEarly):
            return Failure("broken", str(exc))
        if isinstance(exc, sdk.APIStatusError):
            status = exc.status_code
            if status < 400:  # an error event inside a 200 stream
                return Failure("server", _message_of(exc))
            return Failure(
                "status", _message_of(exc), status=status,
                retry_after=retry_after(exc.response.headers),
            )
        if isinstance(exc, (sdk.APITimeoutError, *timeouts)):
            return Failure("timeout", f"the connection was silent longer than timeout={timeout} s")
        if isinstance(exc, sdk.APIConnectionError):
            return Failure("broken" if connected else "connect", root_reason(exc))
        if isinstance(exc, sdk.APIResponseValidationError):
            return Failure("malformed", _message_of(exc))
        if isinstance(exc, sdk.APIError):  # an error frame in the stream
            return Failure("server", _message_of(exc))
        if isinstance(exc, broken):
            return Failure("broken" if connected else "connect", root_reason(exc))
        if isinstance(exc, ValueError) and connected:  # a frame that does not parse
            return Failure("malformed", root_reason(exc)[:300])
        return None

    return classify


def import_sdk(name: str) -> Any:
    """Import a provider SDK on first use; name the extra to install if it is missing."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingDependencyError(name, name) from exc


async def aimport_sdk(name: str) -> Any:
    """``import_sdk`` without blocking the event loop: the first import of an
    SDK takes about a second, during which other requests keep being served."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    return await asyncio.get_running_loop().run_in_executor(None, import_sdk, name)


async def close_sdk_stream(stream: Any) -> None:
    """Close an SDK stream now: its event generator (which would otherwise be
    closed later by the garbage collector, in a task of its own), then its
    HTTP response, which closes a half-read connection."""
    iterator = vars(stream).get("_iterator")  # the SDKs make it on first use
    try:
        if iterator is not None:
            await iterator.aclose()
    finally:
        await stream.close()
