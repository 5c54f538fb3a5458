"""The event stream: what ``astream_events`` yields, and how it is filtered.

Events are plain dicts (typed below) so users index them as
``event["tags"]``. A sink collects the events of one ``astream_events`` call;
steps emit into it only while it exists, so when nobody listens no event work
is done at all.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, Literal, NotRequired, TypedDict

from ragstream.core._run import _RUN, Cfg, Run, get_observer
from ragstream.errors import ConfigError

__all__ = [
    "EventData",
    "StreamEvent",
    "adispatch_custom_event",
    "dispatch_custom_event",
]

EVENT_TYPES = ("chain", "chat_model", "llm", "retriever", "prompt", "parser", "tool", "custom")


class EventData(TypedDict, total=False):
    """The ``data`` of an event: what went in, what came out, or one chunk."""

    input: Any
    output: Any
    chunk: Any
    error: BaseException
    timing: dict[str, float]


class StreamEvent(TypedDict):
    """One event. ``parent_ids`` (root first) is present in ``version="v2"`` only."""

    event: str
    name: str
    run_id: str
    tags: list[str]
    metadata: dict[str, Any]
    data: EventData
    parent_ids: NotRequired[list[str]]


def _as_set(values: Sequence[str] | None, what: str) -> frozenset[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise ConfigError(f"{what} must be a list of strings, not a single string {values!r}")
    return frozenset(values)


class EventFilter:
    """Which events pass: any ``include_*`` that matches lets an event in (all pass
    when none is given); any ``exclude_*`` that matches then takes it out."""

    __slots__ = ("exc_names", "exc_tags", "exc_types", "inc_names", "inc_tags", "inc_types")

    def __init__(
        self,
        *,
        include_names: Sequence[str] | None = None,
        include_types: Sequence[str] | None = None,
        include_tags: Sequence[str] | None = None,
        exclude_names: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        exclude_tags: Sequence[str] | None = None,
    ) -> None:
        self.inc_names = _as_set(include_names, "include_names")
        self.inc_types = _as_set(include_types, "include_types")
        self.inc_tags = _as_set(include_tags, "include_tags")
        self.exc_names = _as_set(exclude_names, "exclude_names")
        self.exc_types = _as_set(exclude_types, "exclude_types")
        self.exc_tags = _as_set(exclude_tags, "exclude_tags")
        for types in (self.inc_types, self.exc_types):
            bad = sorted((types or frozenset()) - set(EVENT_TYPES))
            if bad:
                raise ConfigError(
                    f"unknown event types {bad}; known types: {', '.join(EVENT_TYPES)}"
                )

    @property
    def is_open(self) -> bool:
        return not any(
            (self.inc_names, self.inc_types, self.inc_tags,
             self.exc_names, self.exc_types, self.exc_tags)
        )

    def accepts(self, name: str, run_type: str, tags: Iterable[str]) -> bool:
        tags = tuple(tags)
        if self.inc_names is None and self.inc_types is None and self.inc_tags is None:
            ok = True
        else:
            ok = (
                (self.inc_names is not None and name in self.inc_names)
                or (self.inc_types is not None and run_type in self.inc_types)
                or (self.inc_tags is not None and any(t in self.inc_tags for t in tags))
            )
        if not ok:
            return False
        if self.exc_names is not None and name in self.exc_names:
            return False
        if self.exc_types is not None and run_type in self.exc_types:
            return False
        return not (self.exc_tags is not None and any(t in self.exc_tags for t in tags))


_HIGH_WATER = 4096


class EventSink:
    """Collects the events of one ``astream_events`` call, in order.

    Steps emit from the loop that runs the stream; a nested sync call that runs
    on another thread emits through ``call_soon_threadsafe``.
    """

    __slots__ = (
        "_buf", "_drained", "_loop", "_thread", "_waiter", "filter", "timings", "v2", "version",
    )

    def __init__(
        self, version: Literal["v1", "v2"], event_filter: EventFilter, *, timings: bool = False
    ) -> None:
        if version not in ("v1", "v2"):
            raise ConfigError(f"version must be 'v1' or 'v2', not {version!r}")
        self.version = version
        self.v2 = version == "v2"
        self.timings = timings
        self.filter = event_filter
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._buf: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None

    def accepts(self, name: str, run_type: str, tags: Iterable[str]) -> bool:
        return self.filter.accepts(name, run_type, tags)

    def emit(self, event: dict[str, Any]) -> None:
        if threading.get_ident() != self._thread:
            self._loop.call_soon_threadsafe(self._push, event)
        else:
            self._push(event)

    def _push(self, event: dict[str, Any]) -> None:
        self._buf.append(event)
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)

    @property
    def backlogged(self) -> bool:
        return len(self._buf) > _HIGH_WATER

    async def wait_drained(self) -> None:
        """Called by producers when the listener lags far behind."""
        while len(self._buf) > _HIGH_WATER // 2:
            if self._drained is None or self._drained.done():
                self._drained = self._loop.create_future()
            await self._drained

    async def events(self, task: asyncio.Task[None]) -> AsyncIterator[StreamEvent]:
        """Yield events until ``task`` (the stream being watched) ends."""
        buf = self._buf
        task.add_done_callback(lambda _t: self._push_wakeup())
        while True:
            while buf:
                yield buf.popleft()
                d = self._drained
                if d is not None and not d.done() and len(buf) <= _HIGH_WATER // 2:
                    d.set_result(None)
            if task.done():
                # a nested thread may still have events in flight on the loop
                await asyncio.sleep(0)
                if buf:
                    continue
                task.result()
                return
            self._waiter = self._loop.create_future()
            await self._waiter

    def _push_wakeup(self) -> None:
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)


async def watch_events(
    stream_factory: Any, sink: EventSink, cfg: Cfg | None
) -> AsyncIterator[StreamEvent]:
    """Run ``stream_factory()`` in its own task under a fresh root scope and yield
    its events as they come; cancel it if the listener stops."""

    async def drive() -> None:
        # the task has its own copy of the context; a tracer keeps watching too
        _RUN.set(Run.root(sink, cfg, observer=get_observer()))
        agen = stream_factory()
        try:
            async for _ in agen:
                pass
        finally:
            aclose = getattr(agen, "aclose", None)
            if aclose is not None:
                await aclose()

    task = asyncio.get_running_loop().create_task(drive())
    try:
        async for event in sink.events(task):
            yield event
    finally:
        if not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass


def dispatch_custom_event(name: str, data: Any) -> None:
    """Send an ``on_custom_event`` named ``name`` from inside a running step.

    It reaches ``astream_events`` listeners with the current run's id, tags and
    metadata; when nobody listens it does nothing.

    >>> def step(x):
    ...     dispatch_custom_event("progress", {"done": 1})
    ...     return x
    """
    run = _RUN.get()
    if run is None or run.run_id is None:
        return
    if not run.sink.accepts(name, "custom", run.tags):
        return
    event: dict[str, Any] = {
        "event": "on_custom_event",
        "name": name,
        "run_id": run.run_id,
        "tags": run.tags,
        "metadata": run.metadata,
        "data": data,
    }
    if run.sink.v2:
        event["parent_ids"] = run.parent_ids
    run.sink.emit(event)


async def adispatch_custom_event(name: str, data: Any) -> None:
    """The async twin of ``dispatch_custom_event``."""
    dispatch_custom_event(name, data)
