"""Small tools on async streams of chunks: add them up, split one stream for
several readers, merge several into one, close them."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Hashable, Iterable
from typing import Any

__all__ = ["Tee", "aclose", "add", "aggregate", "merge", "once"]


def add(a: Any, b: Any) -> Any:
    """``a + b`` for stream chunks: dicts merge key by key, strings and message
    chunks concatenate, and things that cannot be added keep the latest."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = add(out[k], v) if k in out else v
        return out
    try:
        return a + b
    except TypeError:
        return b


def aggregate(chunks: list[Any]) -> Any:
    """The whole output that a list of chunks stands for."""
    if not chunks:
        return None
    first = chunks[0]
    if len(chunks) == 1:
        return first
    if type(first) is str:
        try:
            return "".join(chunks)
        except TypeError:
            pass
    merge_many = getattr(type(first), "merge", None)
    if merge_many is not None and all(type(c) is type(first) for c in chunks):
        return merge_many(chunks)
    acc = first
    for c in chunks[1:]:
        acc = add(acc, c)
    return acc


async def aggregate_stream(stream: AsyncIterator[Any]) -> Any:
    """Read a stream to its end and add up its chunks."""
    chunks = [c async for c in stream]
    if not chunks:
        raise ValueError("the stream ended without producing any output")
    return aggregate(chunks)


async def once(value: Any) -> AsyncIterator[Any]:
    """A stream of one chunk."""
    yield value


async def aclose(stream: Any) -> None:
    """Close a stream if it can be closed."""
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()


class Tee:
    """Lets ``n`` readers each read the whole of one source stream.

    The reader that asks first pulls the next chunk from the source; the others
    read it from the shared buffer. Chunks are kept until every reader has them.
    """

    __slots__ = ("_buf", "_done", "_error", "_lock", "_offset", "_pos", "_source")

    def __init__(self, source: AsyncIterator[Any], n: int) -> None:
        self._source = source
        self._buf: deque[Any] = deque()
        self._offset = 0  # index in the source of self._buf[0]
        self._pos = [0] * n
        self._done = False
        self._error: BaseException | None = None
        self._lock: asyncio.Lock | None = None

    def readers(self) -> list[AsyncIterator[Any]]:
        return [self._read(i) for i in range(len(self._pos))]

    async def _read(self, i: int) -> AsyncIterator[Any]:
        pos = self._pos
        try:
            while True:
                idx = pos[i] - self._offset
                if idx < len(self._buf):
                    item = self._buf[idx]
                    pos[i] += 1
                    self._trim()
                    yield item
                    continue
                if self._done:
                    if self._error is not None:
                        raise self._error
                    return
                if self._lock is None:
                    self._lock = asyncio.Lock()
                async with self._lock:
                    if pos[i] - self._offset < len(self._buf) or self._done:
                        continue
                    try:
                        item = await self._source.__anext__()
                    except StopAsyncIteration:
                        self._done = True
                        continue
                    except BaseException as exc:
                        self._done = True
                        self._error = exc
                        raise
                    self._buf.append(item)
        finally:
            pos[i] = 1 << 62  # this reader needs nothing more
            self._trim()
            if all(p == 1 << 62 for p in pos):
                await aclose(self._source)

    def _trim(self) -> None:
        low = min(self._pos)
        while self._buf and self._offset < low:
            self._buf.popleft()
            self._offset += 1


async def merge(
    streams: Iterable[tuple[Hashable, AsyncIterator[Any]]],
) -> AsyncIterator[tuple[Hashable, Any]]:
    """Read several streams at once; yield ``(key, chunk)`` in the order chunks
    are produced. The first error cancels the others and is raised. Closing the
    merged stream cancels every reader at once."""
    pairs = list(streams)
    if len(pairs) == 1:
        key, stream = pairs[0]
        try:
            async for item in stream:
                yield key, item
        finally:
            await aclose(stream)
        return

    loop = asyncio.get_running_loop()
    buf: deque[tuple[Hashable, Any]] = deque()
    waiter: list[asyncio.Future[None] | None] = [None]

    def wake(_: object = None) -> None:
        w = waiter[0]
        if w is not None:
            waiter[0] = None
            if not w.done():
                w.set_result(None)

    async def pump(key: Hashable, stream: AsyncIterator[Any]) -> None:
        try:
            async for item in stream:
                buf.append((key, item))
                wake()
        finally:
            await aclose(stream)

    tasks = [loop.create_task(pump(k, s)) for k, s in pairs]
    for t in tasks:
        t.add_done_callback(wake)
    try:
        while True:
            while buf:
                yield buf.popleft()
            finished = True
            for t in tasks:
                if not t.done():
                    finished = False
                elif not t.cancelled() and (exc := t.exception()) is not None:
                    raise exc
            if finished and not buf:
                return
            if not buf:
                fut: asyncio.Future[None] = loop.create_future()
                waiter[0] = fut
                await fut
    finally:
        pending = [t for t in tasks if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        for t in tasks:  # retrieve errors so none is reported as never retrieved
            if t.done() and not t.cancelled():
                t.exception()
