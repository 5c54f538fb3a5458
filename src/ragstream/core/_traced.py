"""Recording a run: the stream of a step with its start, stream and end events.

When somebody listens (``astream_events``) or a tracer observes, each step's
stream goes through ``traced``; otherwise steps run bare and none of this
code runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ragstream.core._events import _HIGH_WATER
from ragstream.core._run import _RUN, Cfg, Run
from ragstream.core._streams import aclose, aggregate, once

if TYPE_CHECKING:
    from ragstream.core._runnable import Runnable

__all__ = ["collect_input", "is_cancel", "traced"]

NO_KWARGS: dict[str, Any] = {}


async def traced(
    step: Runnable[Any, Any],
    parent: Run,
    inputs: AsyncIterator[Any] | None,
    value: Any,
    cfg: Cfg | None,
    autotag: str | None,
) -> AsyncIterator[Any]:
    """The stream of this runnable with its run recorded: start, a stream event
    per chunk, end (with the error if it failed)."""
    run = step._new_run(parent, cfg, autotag)
    kwargs = cfg.kwargs if cfg is not None else NO_KWARGS
    sink = run.sink
    seen: list[Any] | None = None
    if inputs is None:
        run.emit("start", {"input": step._event_input(value)})
    elif not step._transforms:
        token = _RUN.set(run)
        try:
            value = await collect_input(inputs, step)
        finally:
            _RUN.reset(token)
        run.emit("start", {"input": step._event_input(value)})
    else:
        # like the reference framework: a transform's run starts when its
        # first input chunk arrives (or its first output, if that is sooner)
        seen = []
        inputs = _recording(inputs, seen, run)
        run.pending_start = True
    token = _RUN.set(run)  # a composition wires its children when called
    try:
        if inputs is None or not step._transforms:
            inner = (
                step._atransform(once(value), **kwargs)
                if step._transforms
                else step._astream(value, **kwargs)
            )
        else:
            inner = step._atransform(inputs, **kwargs)
    finally:
        _RUN.reset(token)
    chunks: list[Any] = []
    emits_stream = step._emits_stream and run.visible
    timed = sink.timings or run.observer is not None
    started = time.perf_counter()
    first_at = 0.0
    try:
        while True:
            token = _RUN.set(run)
            try:
                chunk = await inner.__anext__()
            except StopAsyncIteration:
                break
            finally:
                _RUN.reset(token)
            if run.pending_start:
                run.start_now()
            if not first_at and getattr(chunk, "content", chunk) != "":
                first_at = time.perf_counter()  # empty chunks (a role header) don't count
            chunks.append(chunk)
            if emits_stream:
                run.emit("stream", {"chunk": chunk})
            yield chunk
            if len(sink._buf) > _HIGH_WATER:
                await sink.wait_drained()
    except BaseException as exc:
        if run.pending_start:
            run.start_now()
        if not is_cancel(exc):
            data: dict[str, Any] = {}
            if seen is not None or parent.run_id is not None:
                data["input"] = step._event_input(aggregate(seen) if seen else value)
            data["error"] = exc
            if timed:
                data["timing"] = timing(started, first_at)
            run.emit("end", data)
        else:
            run.observe_cancel(exc, timing(started, first_at))
        raise
    finally:
        await aclose(inner)
    if run.pending_start:
        run.start_now()
    output = step._end_output(aggregate(chunks), started, first_at)
    data = {}
    if parent.run_id is not None:
        data["input"] = step._event_input(
            aggregate(seen) if seen is not None else value
        )
    data["output"] = output
    if timed:
        data["timing"] = timing(started, first_at)
    run.emit("end", data)


def timing(started: float, first_at: float) -> dict[str, float]:
    now = time.perf_counter()
    out = {"latency_s": round(now - started, 6)}
    if first_at:
        out["first_chunk_s"] = round(first_at - started, 6)
    return out


def is_cancel(exc: BaseException) -> bool:
    return isinstance(exc, (GeneratorExit, asyncio.CancelledError))


async def collect_input(inputs: AsyncIterator[Any], step: Runnable[Any, Any]) -> Any:
    chunks = [c async for c in inputs]
    if not chunks:
        from ragstream.errors import InputError

        raise InputError(f"{step.get_name()}: received no input")
    return aggregate(chunks)


async def _recording(inputs: AsyncIterator[Any], seen: list[Any], run: Run) -> AsyncIterator[Any]:
    try:
        async for chunk in inputs:
            if run.pending_start:
                run.start_now()
            seen.append(chunk)
            yield chunk
    finally:
        await aclose(inputs)
