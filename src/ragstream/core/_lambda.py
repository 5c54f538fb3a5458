"""User functions as steps.

``RunnableLambda(fn)`` calls ``fn`` once with the whole input. A sync function
runs in a worker thread (so it may block) with the caller's context, an async
function is awaited, and a sync or async *generator* function streams what it
yields. ``RunnableGenerator(fn)`` is a transform: ``fn`` receives the stream of
input chunks and yields output chunks as they come.

An exception from the user's function is re-raised as it is, with a note
naming the step.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from ragstream.core._runnable import Runnable, ensure_callable
from ragstream.core._streams import aclose
from ragstream.errors import add_step_note

__all__ = ["RunnableGenerator", "RunnableLambda"]


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
# how many user sync functions are running, one inside the other, in this context
_DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("ragstream_fn_depth", default=0)


def _workers() -> ThreadPoolExecutor:
    """The threads user functions run in: a pool of its own, larger than the
    loop's default."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="ragstream-fn")
    return _pool


def _nested(fn: Callable[[Any], Any], value: Any) -> Any:
    _DEPTH.set(_DEPTH.get() + 1)
    return fn(value)


async def _in_thread(fn: Callable[[Any], Any], value: Any) -> Any:
    """Run a user sync function off the loop, with the caller's context.

    Outermost functions share the pool. A function called (through another
    runnable) from inside one gets a thread of its own: its caller holds a pool
    thread while it waits, so taking another from the pool could wait forever.
    """
    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    if _DEPTH.get() == 0:
        return await loop.run_in_executor(_workers(), ctx.run, _nested, fn, value)
    done: asyncio.Future[Any] = loop.create_future()

    def work() -> None:
        try:
            result = ctx.run(_nested, fn, value)
        except BaseException as exc:
            loop.call_soon_threadsafe(_settle, done, None, exc)
        else:
            loop.call_soon_threadsafe(_settle, done, result, None)

    threading.Thread(target=work, name="ragstream-fn-nested", daemon=True).start()
    return await done


def _settle(fut: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)


def _fn_name(fn: Any, default: str) -> str:
    name = getattr(fn, "__name__", None)
    if not name or name == "<lambda>":
        return default
    return str(name)


class RunnableLambda(Runnable[Any, Any]):
    """A function as a step.

    >>> RunnableLambda(lambda x: x["input"]).invoke({"input": "hi"})
    'hi'
    """

    def __init__(
        self, func: Callable[..., Any], afunc: Callable[..., Any] | None = None,
        *, name: str | None = None,
    ) -> None:
        self.func = ensure_callable(func)
        self.afunc = ensure_callable(afunc) if afunc is not None else None
        self.name = name
        target = afunc or func
        self._kind = (
            "agen" if inspect.isasyncgenfunction(target)
            else "gen" if inspect.isgeneratorfunction(target)
            else "async" if _is_async(target)
            else "sync"
        )
        self._default_name = _fn_name(func, "RunnableLambda")

    def get_name(self) -> str:
        return self.name or self._default_name

    def __repr__(self) -> str:
        return f"RunnableLambda({self._default_name})"

    async def _call(self, value: Any) -> Any:
        fn = self.afunc or self.func
        try:
            if self._kind == "async":
                return await fn(value)
            return await _in_thread(fn, value)
        except BaseException as exc:
            if isinstance(exc, Exception):
                add_step_note(exc, self.get_name())
            raise

    async def _ainvoke(self, input: Any, **kwargs: Any) -> Any:
        if self._kind in ("gen", "agen"):
            from ragstream.core._streams import aggregate_stream

            return await aggregate_stream(self._astream(input))
        out = await self._call(input)
        if isinstance(out, Runnable):  # a function may route to another runnable
            return await out._invoke(input)
        return out

    async def _astream(self, input: Any, **kwargs: Any) -> AsyncIterator[Any]:
        fn = self.afunc or self.func
        if self._kind == "agen":
            agen = fn(input)
            try:
                async for chunk in agen:
                    yield chunk
            except Exception as exc:
                add_step_note(exc, self.get_name())
                raise
            finally:
                await aclose(agen)
        elif self._kind == "gen":
            gen = fn(input)
            try:
                for chunk in gen:
                    yield chunk
            except Exception as exc:
                add_step_note(exc, self.get_name())
                raise
            finally:
                close = getattr(gen, "close", None)
                if close is not None:
                    close()
        else:
            out = await self._call(input)
            if isinstance(out, Runnable):
                stream = out._stream_value(input)
                try:
                    async for chunk in stream:
                        yield chunk
                finally:
                    await aclose(stream)
            else:
                yield out


def _is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
    )


class RunnableGenerator(Runnable[Any, Any]):
    """A generator function over the stream of input chunks, as a step.

    >>> def shout(chunks):
    ...     for c in chunks:
    ...         yield c.upper()
    >>> list(RunnableGenerator(shout).stream("hi"))
    ['HI']
    """

    _transforms: ClassVar[bool] = True

    def __init__(self, transform: Callable[..., Any], *, name: str | None = None) -> None:
        self.transform = ensure_callable(transform)
        if not (inspect.isgeneratorfunction(transform) or inspect.isasyncgenfunction(transform)):
            raise TypeError("RunnableGenerator needs a generator function (one that yields)")
        self._async = inspect.isasyncgenfunction(transform)
        self.name = name
        self._default_name = _fn_name(transform, "RunnableGenerator")

    def get_name(self) -> str:
        return self.name or self._default_name

    def __repr__(self) -> str:
        return f"RunnableGenerator({self._default_name})"

    async def _atransform(self, inputs: AsyncIterator[Any], **kwargs: Any) -> AsyncIterator[Any]:
        if self._async:
            agen = self.transform(inputs)
            try:
                async for chunk in agen:
                    yield chunk
            except Exception as exc:
                add_step_note(exc, self.get_name())
                raise
            finally:
                await aclose(agen)
                await aclose(inputs)
            return
        stream = _sync_transform(self.transform, inputs)
        try:
            async for chunk in stream:
                yield chunk
        except Exception as exc:
            add_step_note(exc, self.get_name())
            raise
        finally:
            await aclose(stream)


_END = object()


async def _sync_transform(
    fn: Callable[[Iterator[Any]], Iterator[Any]], inputs: AsyncIterator[Any]
) -> AsyncIterator[Any]:
    """Run a sync generator over an async input stream in a worker thread.

    The thread pulls input chunks from the loop as the generator asks for them
    and hands each output back at once, so tokens keep streaming.
    """
    loop = asyncio.get_running_loop()
    out: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()
    ctx = contextvars.copy_context()

    def input_iter() -> Iterator[Any]:
        while not stop.is_set():
            fut = asyncio.run_coroutine_threadsafe(_next(inputs), loop)
            got, item = fut.result()
            if not got:
                return
            yield item

    def work() -> None:
        try:
            gen = fn(input_iter())
            for chunk in gen:
                loop.call_soon_threadsafe(out.put_nowait, (True, chunk))
                if stop.is_set():
                    close = getattr(gen, "close", None)
                    if close is not None:
                        close()
                    break
        except BaseException as exc:
            loop.call_soon_threadsafe(out.put_nowait, (False, exc))
            return
        loop.call_soon_threadsafe(out.put_nowait, (False, _END))

    worker = loop.run_in_executor(_workers(), ctx.run, work)
    try:
        while True:
            ok, item = await out.get()
            if ok:
                yield item
            elif item is _END:
                break
            else:
                raise item
    finally:
        stop.set()
        if not worker.done():
            worker.cancel()
        await aclose(inputs)


async def _next(stream: AsyncIterator[Any]) -> tuple[bool, Any]:
    try:
        return True, await stream.__anext__()
    except StopAsyncIteration:
        return False, None
