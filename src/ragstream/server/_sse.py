"""Server-sent events: frames, and a response that streams them while it
watches the client.

``EventStream`` runs the frames' producer in a task of its own and, beside
it, listens for the client going away: a disconnect (a closed tab, a Stop
button, a killed ``curl``) cancels the producer at once, so the chain under
it stops and closes its upstream model request, rather than running on until
the next write fails. While nothing is produced (a slow retrieval, a model
thinking) it sends ``: ping`` comments so proxies keep the connection open.
When the server shuts down, every open stream gets its terminal frame and
ends, so a drain never waits on streams that would run for minutes.

Starlette's own ``StreamingResponse`` does not listen for disconnects under
ASGI 2.4 servers (uvicorn): it notices only when a write fails, and uvicorn
drops writes to a closed connection silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from starlette.types import Receive, Scope, Send

from ragstream.server._serialize import dumps

__all__ = ["PING", "EventStream", "StreamRegistry", "frame", "until_disconnect"]

log = logging.getLogger("ragstream.server")

PING = b": ping\n\n"
T = TypeVar("T")


def frame(event: str | None, data: Any = None, *, raw: str | None = None) -> bytes:
    """One SSE frame with ``data`` as compact JSON, or the ``raw`` text as it is;
    neither sends an event with no data (as the ``end`` event)."""
    lines = [f"event: {event}"] if event else []
    if raw is not None or data is not None:
        text = raw if raw is not None else dumps(data)
        lines.extend(f"data: {line}" for line in text.split("\n"))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


class _Signal:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


_DONE = _Signal("done")
_GONE = _Signal("client gone")
_SHUTDOWN = _Signal("shutdown")
_PING = _Signal("ping")


class _Channel:
    """Frames from the producer to the sender. Frames wait for room (so a slow
    client slows its producer); signals jump the queue."""

    __slots__ = ("_items", "_limit", "_ready", "_room")

    def __init__(self, limit: int = 64) -> None:
        self._items: deque[bytes | _Signal] = deque()
        self._limit = limit
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    async def put(self, item: bytes) -> None:
        while len(self._items) >= self._limit:
            self._room.clear()
            await self._room.wait()
        self._items.append(item)
        self._ready.set()

    def signal(self, item: _Signal, *, urgent: bool = False) -> None:
        if urgent:
            self._items.appendleft(item)
        else:
            self._items.append(item)
        self._ready.set()

    @property
    def idle(self) -> bool:
        return not self._items

    async def get(self) -> bytes | _Signal:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        if len(self._items) < self._limit:
            self._room.set()
        return item


class StreamRegistry:
    """The open event streams of one app, so that shutdown can end them all."""

    def __init__(self) -> None:
        self._open: set[_Channel] = set()
        self._empty = asyncio.Event()
        self._empty.set()
        self.closing = False

    def __len__(self) -> int:
        return len(self._open)

    def _add(self, channel: _Channel) -> None:
        self._open.add(channel)
        self._empty.clear()

    def _discard(self, channel: _Channel) -> None:
        self._open.discard(channel)
        if not self._open:
            self._empty.set()

    async def aclose(self, *, timeout: float = 5.0) -> None:
        """Send every open stream its terminal frame and wait (up to ``timeout``)
        until all have ended. Streams opened afterwards end at once."""
        self.closing = True
        for channel in list(self._open):
            channel.signal(_SHUTDOWN, urgent=True)
        if self._open:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._empty.wait(), timeout)


class EventStream:
    """An ASGI response that streams SSE frames from ``frames``.

    ``on_error(exc)`` gives the frames that end the stream when the producer
    fails; ``on_shutdown`` the frames sent when the server shuts down. The
    producer is cancelled, and awaited, whenever the stream ends early.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        frames: AsyncIterator[bytes],
        *,
        on_error: Callable[[BaseException], bytes],
        on_shutdown: bytes,
        keepalive: float | None = 15.0,
        registry: StreamRegistry | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.frames = frames
        self.on_error = on_error
        self.on_shutdown = on_shutdown
        self.keepalive = keepalive
        self.registry = registry
        self.headers = headers or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-store",
            "x-accel-buffering": "no",  # nginx: do not buffer the stream
            **self.headers,
        }
        await send({
            "type": "http.response.start",
            "status": 200,
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        })
        channel = _Channel()
        loop = asyncio.get_running_loop()
        last_sent = [loop.time()]
        producer = asyncio.create_task(self._produce(channel))
        watcher = asyncio.create_task(_watch(receive, channel, producer))
        pinger = (
            asyncio.create_task(_ping(channel, self.keepalive, last_sent))
            if self.keepalive else None
        )
        registry = self.registry
        if registry is not None:
            registry._add(channel)
            if registry.closing:
                channel.signal(_SHUTDOWN, urgent=True)
        gone = False
        try:
            while True:
                item = await channel.get()
                if item is _DONE:
                    break
                if item is _GONE:
                    gone = True
                    break
                if item is _SHUTDOWN:
                    await _stop(producer)
                    await send({"type": "http.response.body", "body": self.on_shutdown,
                                "more_body": True})
                    break
                if item is _PING:
                    if not channel.idle:
                        continue
                    item = PING
                assert isinstance(item, bytes)
                await send({"type": "http.response.body", "body": item, "more_body": True})
                last_sent[0] = loop.time()
        finally:
            if registry is not None:
                registry._discard(channel)
            if pinger is not None:
                pinger.cancel()
            await _stop(producer)
            watcher.cancel()
            with contextlib.suppress(BaseException):
                await watcher
        if not gone:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _produce(self, channel: _Channel) -> None:
        frames = self.frames
        try:
            async for item in frames:
                await channel.put(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await channel.put(self.on_error(exc))
        finally:
            with contextlib.suppress(Exception):
                await frames.aclose()  # type: ignore[attr-defined]
            channel.signal(_DONE)


async def _watch(receive: Receive, channel: _Channel, producer: asyncio.Task[None]) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            producer.cancel()
            channel.signal(_GONE, urgent=True)
            return


async def _ping(channel: _Channel, every: float, last_sent: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(every)
        if loop.time() - last_sent[0] >= every * 0.9:
            channel.signal(_PING)


async def _stop(task: asyncio.Task[Any], *, grace: float = 5.0) -> None:
    """Cancel ``task`` and wait for its cleanup (its ``finally`` blocks) to finish."""
    if not task.done():
        task.cancel()
    done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        log.error("a stream's producer did not stop within %.0f s of being cancelled", grace)
        return
    if not task.cancelled() and task.exception() is not None:
        log.error("a stream's producer failed while stopping", exc_info=task.exception())


async def until_disconnect(receive: Receive, work: Awaitable[T]) -> T:
    """Await ``work`` unless the client disconnects first; then cancel it and
    raise ``ClientGone``. For routes that answer with one JSON body."""
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(_wait_disconnect(receive))
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        waiter.cancel()
        with contextlib.suppress(BaseException):
            await waiter
    if not task.done():
        await _stop(task)
        raise ClientGone()
    return task.result()


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class ClientGone(Exception):
    """The client closed the connection before the answer was ready."""
