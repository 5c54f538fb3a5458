"""Sync twins of async streams.

Every runnable is written once, in async code. Its sync methods run that code
on one background event loop (a daemon thread started on first use) and hand
results across with a ``queue.SimpleQueue``: a few hundred nanoseconds per
chunk. The caller's context variables travel with the work, so a sync call
made inside a traced step is traced as its child.

A sync call made from a thread that is itself running an event loop (a sync
function called by async code) gets a private loop on a fresh thread, so it
can never wait on the loop it is blocking.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

__all__ = ["iterate_sync", "run_sync"]

T = TypeVar("T")

_HIGH_WATER = 256  # chunks the producer may run ahead of a sync reader

_lock = threading.Lock()
_shared: asyncio.AbstractEventLoop | None = None


def _start_loop(name: str) -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:  # only a private loop is ever stopped
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    threading.Thread(target=run, name=name, daemon=True).start()
    ready.wait()
    return loop


def _shared_loop() -> asyncio.AbstractEventLoop:
    global _shared
    if _shared is None:
        with _lock:
            if _shared is None:
                _shared = _start_loop("ragstream-sync")
    return _shared


class _Private:
    """A loop on its own thread for one call made under a running loop."""

    def __init__(self) -> None:
        self.loop = _start_loop("ragstream-sync-nested")

    def close(self) -> None:
        loop = self.loop
        loop.call_soon_threadsafe(loop.stop)


def _loop_for_caller() -> tuple[asyncio.AbstractEventLoop, _Private | None]:
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is None and threading.current_thread().name != "ragstream-sync":
        return _shared_loop(), None
    private = _Private()
    return private.loop, private


def run_sync(factory: Callable[[], Awaitable[T]]) -> T:
    """Run the awaitable that ``factory`` makes and return its result."""
    loop, private = _loop_for_caller()
    ctx = contextvars.copy_context()
    done: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
    holder: list[asyncio.Task[Any]] = []

    async def main() -> Any:
        return await factory()

    def start() -> None:
        task = loop.create_task(main(), context=ctx)
        holder.append(task)

        def finished(t: asyncio.Task[Any]) -> None:
            if t.cancelled():
                done.put((False, asyncio.CancelledError()))
            elif t.exception() is not None:
                done.put((False, t.exception()))
            else:
                done.put((True, t.result()))

        task.add_done_callback(finished)

    loop.call_soon_threadsafe(start)
    try:
        ok, value = done.get()
    except BaseException:  # KeyboardInterrupt: stop the work, then re-raise
        _cancel_and_wait(loop, holder)
        raise
    finally:
        if private is not None:
            private.close()
    if ok:
        return value  # type: ignore[no-any-return]
    raise value


def _cancel_and_wait(loop: asyncio.AbstractEventLoop, holder: list[asyncio.Task[Any]]) -> None:
    stopped = threading.Event()

    def cancel() -> None:
        if holder and not holder[0].done():
            holder[0].cancel()
            holder[0].add_done_callback(lambda _t: stopped.set())
        else:
            stopped.set()

    loop.call_soon_threadsafe(cancel)
    stopped.wait(timeout=5)


_END = object()


def iterate_sync(factory: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
    """Iterate, in sync code, the async stream that ``factory`` makes.

    Breaking out of the loop (or closing the iterator) closes the async stream
    and cancels whatever it was waiting on before returning.
    """
    loop, private = _loop_for_caller()
    ctx = contextvars.copy_context()
    out: queue.SimpleQueue[Any] = queue.SimpleQueue()
    counts = [0, 0]  # produced, consumed
    holder: list[asyncio.Task[None]] = []

    async def produce() -> None:
        stream = factory()
        try:
            async for item in stream:
                out.put(item)
                counts[0] += 1
                while counts[0] - counts[1] > _HIGH_WATER:
                    await asyncio.sleep(0.001)
        except BaseException as exc:
            out.put((_END, exc))
            raise
        else:
            out.put((_END, None))
        finally:
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()

    def start() -> None:
        task = loop.create_task(produce(), context=ctx)
        task.add_done_callback(_silence)
        holder.append(task)

    loop.call_soon_threadsafe(start)
    finished = False
    try:
        while True:
            item = out.get()
            if type(item) is tuple and len(item) == 2 and item[0] is _END:
                finished = True
                if item[1] is not None:
                    raise item[1]
                return
            counts[1] += 1
            yield item
    finally:
        if not finished:
            _cancel_and_wait(loop, holder)
        if private is not None:
            private.close()


def _silence(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()
