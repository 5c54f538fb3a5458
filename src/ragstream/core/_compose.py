"""Compositions: a sequence of steps, a parallel map, passthrough, assign, pick."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

from ragstream.core._runnable import Runnable
from ragstream.core._streams import Tee, aclose, merge
from ragstream.errors import InputError, NotRunnableError, PickKeyError

__all__ = [
    "RunnableAssign",
    "RunnableParallel",
    "RunnablePassthrough",
    "RunnablePick",
    "RunnableSequence",
    "coerce",
]


def coerce(thing: Any) -> Runnable[Any, Any]:
    """Turn what may stand in a chain into a runnable: a runnable stays itself, a
    dict becomes a parallel map, a generator function a streaming transform,
    any other callable a lambda."""
    if isinstance(thing, Runnable):
        return thing
    if isinstance(thing, Mapping):
        return RunnableParallel(dict(thing))
    if callable(thing):
        from ragstream.core._lambda import RunnableGenerator, RunnableLambda

        if inspect.isgeneratorfunction(thing) or inspect.isasyncgenfunction(thing):
            return RunnableGenerator(thing)
        return RunnableLambda(thing)
    raise NotRunnableError(
        f"cannot use {type(thing).__name__} {thing!r:.60} as a step in a chain: "
        "expected a Runnable, a callable or a dict"
    )


class RunnableSequence(Runnable[Any, Any]):
    """Steps run one after another, each streaming into the next.

    Every step that can read its input as it comes does so, so tokens flow
    through the whole chain as they are produced.
    """

    _transforms: ClassVar[bool] = True

    def __init__(self, *steps: Any, name: str | None = None) -> None:
        flat: list[Runnable[Any, Any]] = []
        for step in steps:
            r = coerce(step)
            if isinstance(r, RunnableSequence) and type(r) is RunnableSequence and r.name is None:
                flat.extend(r.steps)
            else:
                flat.append(r)
        if len(flat) < 2:
            raise NotRunnableError("a sequence needs at least two steps")
        self.steps: list[Runnable[Any, Any]] = flat
        self.name = name
        self._autotags = [f"seq:step:{i}" for i in range(1, len(flat) + 1)]

    @property
    def first(self) -> Runnable[Any, Any]:
        return self.steps[0]

    @property
    def last(self) -> Runnable[Any, Any]:
        return self.steps[-1]

    async def _ainvoke(self, input: Any, **kwargs: Any) -> Any:
        value = input
        for step, tag in zip(self.steps, self._autotags, strict=True):
            value = await step._invoke(value, None, tag)
        return value

    def _atransform(self, inputs: AsyncIterator[Any], **kwargs: Any) -> AsyncIterator[Any]:
        stream = inputs
        for step, tag in zip(self.steps, self._autotags, strict=True):
            stream = step._stream(stream, None, tag)
        return stream

    def __repr__(self) -> str:
        return "\n| ".join(repr(s) for s in self.steps)


class RunnableParallel(Runnable[Any, dict[str, Any]]):
    """Runs several steps on the same input at once and returns a dict of their
    outputs. Streams ``{key: chunk}`` as each branch produces."""

    _transforms: ClassVar[bool] = True

    def __init__(self, steps: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        merged = {**(steps or {}), **kwargs}
        if not merged:
            raise NotRunnableError("a parallel map needs at least one step")
        self.steps: dict[str, Runnable[Any, Any]] = {k: coerce(v) for k, v in merged.items()}
        self._autotags = {k: f"map:key:{k}" for k in self.steps}

    def get_name(self) -> str:
        return self.name or f"RunnableParallel<{','.join(self.steps)}>"

    async def _ainvoke(self, input: Any, **kwargs: Any) -> dict[str, Any]:
        if len(self.steps) == 1:
            (key, step), = self.steps.items()
            return {key: await step._invoke(input, None, self._autotags[key])}
        keys = list(self.steps)
        results = await asyncio.gather(
            *(self.steps[k]._invoke(input, None, self._autotags[k]) for k in keys)
        )
        return dict(zip(keys, results, strict=True))

    async def _atransform(
        self, inputs: AsyncIterator[Any], **kwargs: Any
    ) -> AsyncIterator[dict[str, Any]]:
        if len(self.steps) == 1:
            (key, step), = self.steps.items()
            stream = step._stream(inputs, None, self._autotags[key])
            try:
                async for chunk in stream:
                    yield {key: chunk}
            finally:
                await aclose(stream)
            return
        readers = Tee(inputs, len(self.steps)).readers()
        merged = merge(
            (k, step._stream(r, None, self._autotags[k]))
            for (k, step), r in zip(self.steps.items(), readers, strict=True)
        )
        try:
            async for name, chunk in merged:
                yield {str(name): chunk}
        finally:
            await aclose(merged)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}: {v!r}" for k, v in self.steps.items())
        return "{" + inner + "}"


class RunnablePassthrough(Runnable[Any, Any]):
    """Passes its input on unchanged, chunk by chunk.

    ``RunnablePassthrough.assign(key=step)`` passes a dict on with keys added.
    """

    _transforms: ClassVar[bool] = True

    async def _ainvoke(self, input: Any, **kwargs: Any) -> Any:
        return input

    async def _atransform(self, inputs: AsyncIterator[Any], **kwargs: Any) -> AsyncIterator[Any]:
        try:
            async for chunk in inputs:
                yield chunk
        finally:
            await aclose(inputs)

    @classmethod
    def assign(cls, **steps: Any) -> RunnableAssign:  # type: ignore[override]
        """A step that passes its dict input on and adds ``steps``' outputs to it."""
        return RunnableAssign(RunnableParallel(steps))


class RunnableAssign(Runnable[dict[str, Any], dict[str, Any]]):
    """Passes a dict on at once and adds keys computed from it as they stream."""

    _transforms: ClassVar[bool] = True

    def __init__(self, mapper: RunnableParallel) -> None:
        self.mapper = mapper
        self._keys = frozenset(mapper.steps)

    def get_name(self) -> str:
        return self.name or f"RunnableAssign<{','.join(self.mapper.steps)}>"

    def _check(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise InputError(
                f"{self.get_name()}: expected a dict input, got {type(value).__name__}"
            )
        return value

    async def _ainvoke(self, input: Any, **kwargs: Any) -> dict[str, Any]:
        value = self._check(input)
        return {**value, **await self.mapper._invoke(value)}

    async def _atransform(
        self, inputs: AsyncIterator[Any], **kwargs: Any
    ) -> AsyncIterator[dict[str, Any]]:
        passthrough, for_mapper = Tee(inputs, 2).readers()
        mapped = self.mapper._stream(for_mapper)
        loop = asyncio.get_running_loop()
        first = loop.create_task(_first(mapped))
        try:
            async for chunk in passthrough:
                kept = {k: v for k, v in self._check(chunk).items() if k not in self._keys}
                if kept:
                    yield kept
            got, value = await first
            if got:
                yield value
                async for chunk in mapped:
                    yield chunk
        finally:
            if not first.done():
                first.cancel()
                try:
                    await first
                except (asyncio.CancelledError, Exception):
                    pass
            elif not first.cancelled():
                first.exception()
            await aclose(passthrough)
            await aclose(mapped)


async def _first(stream: AsyncIterator[Any]) -> tuple[bool, Any]:
    try:
        return True, await stream.__anext__()
    except StopAsyncIteration:
        return False, None


class RunnablePick(Runnable[dict[str, Any], Any]):
    """Keeps some keys of a dict: one key gives its value, a list gives a dict."""

    _transforms: ClassVar[bool] = True

    def __init__(self, keys: str | list[str]) -> None:
        if isinstance(keys, str):
            self.keys: str | list[str] = keys
        elif isinstance(keys, list) and keys and all(isinstance(k, str) for k in keys):
            self.keys = list(keys)
        else:
            raise InputError(f"pick takes a key or a non-empty list of keys, not {keys!r}")

    def _missing(self, seen: set[str]) -> PickKeyError:
        wanted = [self.keys] if isinstance(self.keys, str) else self.keys
        missing = [k for k in wanted if k not in seen]
        return PickKeyError(
            f"RunnablePick: key(s) {', '.join(map(repr, missing))} not in the output; "
            f"it has {', '.join(map(repr, sorted(seen))) or 'no keys'}"
        )

    def _check(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise InputError(f"RunnablePick: expected a dict input, got {type(value).__name__}")
        return value

    async def _ainvoke(self, input: Any, **kwargs: Any) -> Any:
        value = self._check(input)
        if isinstance(self.keys, str):
            if self.keys not in value:
                raise self._missing(set(value))
            return value[self.keys]
        if any(k not in value for k in self.keys):
            raise self._missing(set(value))
        return {k: value[k] for k in self.keys}

    async def _atransform(self, inputs: AsyncIterator[Any], **kwargs: Any) -> AsyncIterator[Any]:
        seen: set[str] = set()
        key = self.keys
        try:
            if isinstance(key, str):
                async for chunk in inputs:
                    if type(chunk) is not dict:
                        self._check(chunk)
                    if key in chunk:
                        seen.add(key)
                        yield chunk[key]
                    else:
                        seen.update(chunk)
                if key not in seen:
                    raise self._missing(seen)
            else:
                async for chunk in inputs:
                    chunk = self._check(chunk)
                    seen.update(chunk)
                    picked = {k: chunk[k] for k in key if k in chunk}
                    if picked:
                        yield picked
                if any(k not in seen for k in key):
                    raise self._missing(seen)
        finally:
            await aclose(inputs)

