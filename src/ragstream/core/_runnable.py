"""``Runnable``: the one interface every step of a chain has.

An implementer writes one async method:

- ``_astream(input, **kwargs)``, an async generator, if its output streams;
- ``_ainvoke(input, **kwargs)`` if it does not;
- ``_atransform(inputs, **kwargs)`` if it can also start before its input is
  complete (it reads a stream of input chunks); set ``_transforms = True``.

The base class derives the rest: ``invoke``/``ainvoke``, ``stream``/``astream``,
``batch``/``abatch``, ``astream_events``/``stream_events``, composition with
``|``, ``pick``, ``assign``, ``with_config``, ``bind``, ``with_retry`` and
``with_fallbacks``.

Compositions call their children through two entries, ``_stream`` (a stream of
input chunks in, a stream of output chunks out) and ``_invoke``. When nobody
listens for events both go straight to the implementer; when somebody does,
they record a run around it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from ragstream.core import _bridge
from ragstream.core._events import (
    EventFilter,
    EventSink,
    StreamEvent,
    watch_events,
)
from ragstream.core._run import _RUN, Cfg, Run, cfg_from_config, get_observer
from ragstream.core._streams import aclose, aggregate, aggregate_stream, once
from ragstream.core._traced import NO_KWARGS, collect_input, is_cancel, traced

if TYPE_CHECKING:
    from ragstream.core._binding import RunnableBinding, RunnableRetry, RunnableWithFallbacks
    from ragstream.core._compose import RunnableSequence

__all__ = ["Runnable"]

Input = TypeVar("Input")
Output = TypeVar("Output")
Other = TypeVar("Other")


class Runnable(Generic[Input, Output]):
    """A step that can be invoked, streamed, batched, traced and composed.

    >>> from ragstream.runnables import RunnableLambda
    >>> chain = RunnableLambda(lambda x: x + 1) | (lambda x: x * 2)
    >>> chain.invoke(1)
    4
    """

    #: the kind of run this is in events: chain, chat_model, llm, retriever,
    #: prompt, parser or tool
    run_type: ClassVar[str] = "chain"
    #: True when ``_atransform`` reads input chunks as they come
    _transforms: ClassVar[bool] = False
    #: True when invoking should still stream (and emit stream events), as models do
    _stream_on_invoke: ClassVar[bool] = False
    #: False for steps whose output never streams (prompts, retrievers): their
    #: runs have start and end events only
    _emits_stream: ClassVar[bool] = True

    name: str | None = None

    # -- what implementers write ---------------------------------------------

    async def _ainvoke(self, input: Any, **kwargs: Any) -> Any:
        return await aggregate_stream(self._astream(input, **kwargs))

    async def _astream(self, input: Any, **kwargs: Any) -> AsyncIterator[Any]:
        yield await self._ainvoke(input, **kwargs)

    async def _atransform(self, inputs: AsyncIterator[Any], **kwargs: Any) -> AsyncIterator[Any]:
        value = await collect_input(inputs, self)
        stream = self._astream(value, **kwargs)
        try:
            async for chunk in stream:
                yield chunk
        finally:
            await aclose(stream)

    # -- how it appears in events --------------------------------------------

    def get_name(self) -> str:
        """The name runs of this runnable carry in events."""
        return self.name or type(self).__name__

    def _local_tags(self) -> tuple[str, ...]:
        """Tags this component puts on its own runs (not inherited)."""
        return ()

    def _local_metadata(self) -> dict[str, Any] | None:
        return None

    def _event_input(self, value: Any) -> Any:
        """The ``data.input`` of this runnable's events for a given input."""
        return value

    # -- entries used by compositions ----------------------------------------

    def _stream(
        self,
        inputs: AsyncIterator[Any],
        cfg: Cfg | None = None,
        autotag: str | None = None,
    ) -> AsyncIterator[Any]:
        """Stream output chunks for a stream of input chunks."""
        parent = _RUN.get()
        kwargs = cfg.kwargs if cfg is not None else NO_KWARGS
        if parent is None:
            return self._atransform(inputs, **kwargs)
        return traced(self, parent, inputs, _MISSING, cfg, autotag)

    def _stream_value(
        self, value: Any, cfg: Cfg | None = None, autotag: str | None = None
    ) -> AsyncIterator[Any]:
        """Stream output chunks for one complete input."""
        parent = _RUN.get()
        kwargs = cfg.kwargs if cfg is not None else NO_KWARGS
        if parent is None and (observer := _observer()) is not None:
            parent = Run.root(None, None, observer=observer)  # a tracer watches every run
        if parent is None:
            if self._transforms:
                return self._atransform(once(value), **kwargs)
            return self._astream(value, **kwargs)
        return traced(self, parent, None, value, cfg, autotag)

    async def _invoke(
        self, value: Any, cfg: Cfg | None = None, autotag: str | None = None
    ) -> Any:
        """Run on one complete input and return the whole output."""
        parent = _RUN.get()
        kwargs = cfg.kwargs if cfg is not None else NO_KWARGS
        if parent is None and (observer := _observer()) is not None:
            parent = Run.root(None, None, observer=observer)
        if parent is None:
            return await self._ainvoke(value, **kwargs)
        if self._stream_on_invoke:
            chunks = [c async for c in traced(self, parent, None, value, cfg, autotag)]
            return self._finish_invoke(aggregate(chunks))
        run = self._new_run(parent, cfg, autotag)
        run.emit("start", {"input": self._event_input(value)})
        token = _RUN.set(run)
        started = time.perf_counter()
        try:
            output = await self._ainvoke(value, **kwargs)
        except BaseException as exc:
            if not is_cancel(exc):
                run.emit("end", {"input": self._event_input(value), "error": exc})
            else:
                run.observe_cancel(exc, {"latency_s": round(time.perf_counter() - started, 6)})
            raise
        finally:
            _RUN.reset(token)
        run.emit("end", {"input": self._event_input(value), "output": output})
        return output

    def _end_output(self, output: Any, started: float, first_at: float) -> Any:
        """The output an end event reports; models add their timing to it."""
        return output

    def _finish_invoke(self, aggregated: Any) -> Any:
        """Turn the added-up stream into what ``invoke`` returns (models: a message)."""
        return aggregated

    def _new_run(self, parent: Run, cfg: Cfg | None, autotag: str | None) -> Run:
        return parent.child(
            name=self.get_name(),
            run_type=self.run_type,
            autotag=autotag,
            cfg=cfg,
            local_tags=self._local_tags(),
            local_metadata=self._local_metadata(),
        )

    # -- public API ----------------------------------------------------------

    async def ainvoke(
        self, input: Input, config: dict[str, Any] | None = None, **kwargs: Any
    ) -> Output:
        """Run on one input and return the whole output."""
        cfg = cfg_from_config(config, kwargs)
        return await self._invoke(input, cfg)  # type: ignore[no-any-return]

    def invoke(self, input: Input, config: dict[str, Any] | None = None, **kwargs: Any) -> Output:
        """The sync twin of ``ainvoke``."""
        return _bridge.run_sync(lambda: self.ainvoke(input, config, **kwargs))

    def astream(
        self, input: Input, config: dict[str, Any] | None = None, **kwargs: Any
    ) -> AsyncIterator[Output]:
        """Yield the output chunk by chunk as it is produced.

        Closing the stream (``aclose()``, breaking out of ``async for``, or
        cancelling the task that reads it) stops every step that feeds it.
        """
        cfg = cfg_from_config(config, kwargs)
        return self._stream_value(input, cfg)

    def stream(
        self, input: Input, config: dict[str, Any] | None = None, **kwargs: Any
    ) -> Iterator[Output]:
        """The sync twin of ``astream``.

        >>> from ragstream.parsers import StrOutputParser
        >>> from ragstream.testing import FakeChatModel
        >>> list((FakeChatModel("Hello there") | StrOutputParser()).stream("hi"))
        ['Hello', ' there']
        """
        return _bridge.iterate_sync(lambda: self.astream(input, config, **kwargs))

    async def abatch(
        self,
        inputs: Sequence[Input],
        config: dict[str, Any] | None = None,
        *,
        return_exceptions: bool = False,
        max_concurrency: int | None = None,
        **kwargs: Any,
    ) -> list[Output]:
        """Run on several inputs at once (at most ``max_concurrency`` at a time)."""
        import asyncio

        cfg = cfg_from_config(config, kwargs)
        limit = max_concurrency or (cfg.max_concurrency if cfg else None)
        sem = asyncio.Semaphore(limit) if limit else None

        async def one(x: Input) -> Any:
            if sem is None:
                return await self._invoke(x, cfg)
            async with sem:
                return await self._invoke(x, cfg)

        results: list[Any] = await asyncio.gather(
            *(one(x) for x in inputs), return_exceptions=return_exceptions
        )
        return results

    def batch(
        self,
        inputs: Sequence[Input],
        config: dict[str, Any] | None = None,
        *,
        return_exceptions: bool = False,
        max_concurrency: int | None = None,
        **kwargs: Any,
    ) -> list[Output]:
        """The sync twin of ``abatch``."""
        return _bridge.run_sync(
            lambda: self.abatch(
                inputs, config, return_exceptions=return_exceptions,
                max_concurrency=max_concurrency, **kwargs,
            )
        )

    def astream_events(
        self,
        input: Input,
        config: dict[str, Any] | None = None,
        *,
        version: Literal["v1", "v2"] = "v2",
        include_names: Sequence[str] | None = None,
        include_types: Sequence[str] | None = None,
        include_tags: Sequence[str] | None = None,
        exclude_names: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        exclude_tags: Sequence[str] | None = None,
        timings: bool = False,
        **kwargs: Any,
    ) -> AsyncIterator[StreamEvent]:
        """Yield an event for every step as it starts, streams and ends.

        Each event is a dict with ``event`` (``on_{type}_{start,stream,end}``),
        ``name``, ``run_id``, ``tags``, ``metadata``, ``data`` and, in
        ``version="v2"``, ``parent_ids``. Filters keep the events whose run
        matches any ``include_*`` (all, when none is given) and drop those
        matching any ``exclude_*``. With ``timings=True`` every end event's
        ``data`` also holds ``timing``: ``latency_s`` of the step and, when it
        produced output, ``first_chunk_s`` (its time to first chunk). A chat
        model's end event reports its token usage (``usage_metadata``) and
        ``time_to_first_token_s``/``latency_s`` (``response_metadata``) on the
        output message either way.

        >>> async def main(chain):
        ...     async for event in chain.astream_events({"input": "hi"}):
        ...         if event["event"] == "on_chat_model_stream":
        ...             print(event["data"]["chunk"].content, end="|")
        """
        cfg = cfg_from_config(config, kwargs)
        event_filter = EventFilter(
            include_names=include_names, include_types=include_types,
            include_tags=include_tags, exclude_names=exclude_names,
            exclude_types=exclude_types, exclude_tags=exclude_tags,
        )
        return self._watch(input, cfg, version, event_filter, timings)

    async def _watch(
        self, input: Any, cfg: Cfg | None, version: Literal["v1", "v2"],
        event_filter: EventFilter, timings: bool,
    ) -> AsyncIterator[StreamEvent]:
        sink = EventSink(version, event_filter, timings=timings)
        events = watch_events(lambda: self._stream_value(input, cfg), sink, cfg)
        try:
            async for event in events:
                yield event
        finally:
            await aclose(events)

    def stream_events(
        self,
        input: Input,
        config: dict[str, Any] | None = None,
        *,
        version: Literal["v1", "v2"] = "v2",
        include_names: Sequence[str] | None = None,
        include_types: Sequence[str] | None = None,
        include_tags: Sequence[str] | None = None,
        exclude_names: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        exclude_tags: Sequence[str] | None = None,
        timings: bool = False,
        **kwargs: Any,
    ) -> Iterator[StreamEvent]:
        """The sync twin of ``astream_events``."""
        return _bridge.iterate_sync(
            lambda: self.astream_events(
                input, config, version=version,
                include_names=include_names, include_types=include_types,
                include_tags=include_tags, exclude_names=exclude_names,
                exclude_types=exclude_types, exclude_tags=exclude_tags,
                timings=timings, **kwargs,
            )
        )

    # -- composition ---------------------------------------------------------

    def __or__(self, other: Any) -> RunnableSequence:
        from ragstream.core._compose import RunnableSequence, coerce

        return RunnableSequence(self, coerce(other))

    def __ror__(self, other: Any) -> RunnableSequence:
        from ragstream.core._compose import RunnableSequence, coerce

        return RunnableSequence(coerce(other), self)

    def pipe(self, *others: Any) -> RunnableSequence:
        """``self | others[0] | others[1] | ...``"""
        from ragstream.core._compose import RunnableSequence, coerce

        return RunnableSequence(self, *(coerce(o) for o in others))

    def pick(self, keys: str | list[str]) -> RunnableSequence:
        """Keep only ``keys`` of this runnable's dict output (one key: its value)."""
        from ragstream.core._compose import RunnablePick

        return self | RunnablePick(keys)

    def assign(self, **steps: Any) -> RunnableSequence:
        """Add keys to this runnable's dict output, computed from that output."""
        from ragstream.core._compose import RunnableAssign, RunnableParallel

        return self | RunnableAssign(RunnableParallel(steps))

    def with_config(
        self,
        config: dict[str, Any] | None = None,
        *,
        tags: Sequence[str] | None = None,
        run_name: str | None = None,
        metadata: dict[str, Any] | None = None,
        **rest: Any,
    ) -> RunnableBinding:
        """This runnable with tags (inherited by every step below it), a run name
        and metadata for its events."""
        from ragstream.core._binding import RunnableBinding

        merged = {**(config or {}), **rest}
        if tags is not None:
            merged["tags"] = list(tags)
        if run_name is not None:
            merged["run_name"] = run_name
        if metadata is not None:
            merged["metadata"] = metadata
        cfg = cfg_from_config(merged, {}) or Cfg()
        return RunnableBinding(self, cfg)

    def bind(self, **kwargs: Any) -> RunnableBinding:
        """This runnable with keyword arguments passed to every call
        (for models: ``stop=[...]``, ``temperature=...``)."""
        from ragstream.core._binding import RunnableBinding

        return RunnableBinding(self, Cfg(kwargs=kwargs))

    def with_retry(
        self,
        *,
        retry_if_exception_type: tuple[type[BaseException], ...] = (Exception,),
        stop_after_attempt: int = 3,
        wait_exponential_jitter: bool = True,
        initial_wait: float = 0.1,
        max_wait: float = 5.0,
    ) -> RunnableRetry:
        """Try again when one of ``retry_if_exception_type`` is raised before any
        output was produced, up to ``stop_after_attempt`` attempts in all."""
        from ragstream.core._binding import RunnableRetry

        return RunnableRetry(
            self, retry_on=retry_if_exception_type, attempts=stop_after_attempt,
            jitter=wait_exponential_jitter, initial_wait=initial_wait, max_wait=max_wait,
        )

    def with_fallbacks(
        self,
        fallbacks: Sequence[Runnable[Any, Any]],
        *,
        exceptions_to_handle: tuple[type[BaseException], ...] = (Exception,),
    ) -> RunnableWithFallbacks:
        """Try ``fallbacks`` in order when this runnable fails before producing output."""
        from ragstream.core._binding import RunnableWithFallbacks

        return RunnableWithFallbacks(self, fallbacks, exceptions_to_handle=exceptions_to_handle)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


_MISSING: Any = object()


def _observer() -> Any:
    return get_observer()


def ensure_callable(fn: Any) -> Callable[..., Any]:
    if not callable(fn):
        from ragstream.errors import NotRunnableError

        raise NotRunnableError(f"expected a callable, got {type(fn).__name__}")
    return fn  # type: ignore[no-any-return]
