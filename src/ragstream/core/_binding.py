"""Wrappers around a runnable: configuration and arguments (``with_config``,
``bind``), retries, fallbacks, and a branch that picks a runnable by condition."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

from ragstream.core._compose import coerce
from ragstream.core._run import Cfg
from ragstream.core._runnable import Runnable
from ragstream.core._streams import aclose, aggregate
from ragstream.errors import NotRunnableError

__all__ = ["RunnableBinding", "RunnableBranch", "RunnableRetry", "RunnableWithFallbacks"]


class RunnableBinding(Runnable[Any, Any]):
    """A runnable with configuration laid over it. It adds no run of its own:
    its tags, name and metadata show on the wrapped runnable's run."""

    def __init__(self, bound: Runnable[Any, Any], cfg: Cfg) -> None:
        self.bound = bound
        self.cfg = cfg
        self._transforms = bound._transforms  # type: ignore[misc]
        self._stream_on_invoke = bound._stream_on_invoke  # type: ignore[misc]
        self.run_type = bound.run_type  # type: ignore[misc]

    def get_name(self) -> str:
        return self.cfg.run_name or self.bound.get_name()

    def __getattr__(self, name: str) -> Any:
        # reach the wrapped runnable's attributes (a model's ``model_name`` ...)
        if name.startswith("__") or name in ("bound", "cfg"):
            raise AttributeError(name)
        return getattr(self.bound, name)

    def _stream(
        self, inputs: AsyncIterator[Any], cfg: Cfg | None = None, autotag: str | None = None
    ) -> AsyncIterator[Any]:
        return self.bound._stream(inputs, self.cfg.under(cfg), autotag)

    def _stream_value(
        self, value: Any, cfg: Cfg | None = None, autotag: str | None = None
    ) -> AsyncIterator[Any]:
        return self.bound._stream_value(value, self.cfg.under(cfg), autotag)

    async def _invoke(self, value: Any, cfg: Cfg | None = None, autotag: str | None = None) -> Any:
        return await self.bound._invoke(value, self.cfg.under(cfg), autotag)

    async def _ainvoke(self, input: Any, **kwargs: Any) -> Any:
        return await self.bound._ainvoke(input, **{**self.cfg.kwargs, **kwargs})

    def _astream(self, input: Any, **kwargs: Any) -> AsyncIterator[Any]:
        return self.bound._astream(input, **{**self.cfg.kwargs, **kwargs})

    def __repr__(self) -> str:
        return f"{self.bound!r}.with_config({self.cfg!r})"


class RunnableRetry(RunnableBinding):
    """Tries the wrapped runnable again on chosen errors, with exponential backoff,
    as long as it has not produced any output yet."""

    def __init__(
        self,
        bound: Runnable[Any, Any],
        *,
        retry_on: tuple[type[BaseException], ...],
        attempts: int,
        jitter: bool,
        initial_wait: float,
        max_wait: float,
    ) -> None:
        if attempts < 1:
            raise ValueError("stop_after_attempt must be at least 1")
        super().__init__(bound, Cfg())
        self.retry_on = retry_on
        self.attempts = attempts
        self.jitter = jitter
        self.initial_wait = initial_wait
        self.max_wait = max_wait

    def _wait(self, attempt: int) -> float:
        delay: float = min(self.max_wait, self.initial_wait * (2 ** (attempt - 1)))
        if self.jitter:
            delay += random.uniform(0, delay / 2)
        return delay

    def _cfg(self, cfg: Cfg | None, attempt: int) -> Cfg | None:
        if attempt == 1:
            return cfg
        return Cfg(tags=(f"retry:attempt:{attempt}",)).under(cfg)

    async def _invoke(self, value: Any, cfg: Cfg | None = None, autotag: str | None = None) -> Any:
        for attempt in range(1, self.attempts + 1):
            try:
                return await self.bound._invoke(value, self._cfg(cfg, attempt), autotag)
            except self.retry_on:
                if attempt == self.attempts:
                    raise
            await asyncio.sleep(self._wait(attempt))
        raise AssertionError("unreachable")

    async def _ainvoke(self, input: Any, **kwargs: Any) -> Any:
        return await self._invoke(input, Cfg(kwargs=kwargs) if kwargs else None)

    def _stream(
        self, inputs: AsyncIterator[Any], cfg: Cfg | None = None, autotag: str | None = None
    ) -> AsyncIterator[Any]:
        return self._retrying(inputs, None, cfg, autotag)

    def _stream_value(
        self, value: Any, cfg: Cfg | None = None, autotag: str | None = None
    ) -> AsyncIterator[Any]:
        return self._retrying(None, value, cfg, autotag)

    def _astream(self, input: Any, **kwargs: Any) -> AsyncIterator[Any]:
        return self._retrying(None, input, Cfg(kwargs=kwargs) if kwargs else None, None)

    async def _retrying(
        self, inputs: AsyncIterator[Any] | None, value: Any, cfg: Cfg | None, autotag: str | None
    ) -> AsyncIterator[Any]:
        if inputs is not None:  # a retry needs the whole input again
            value = aggregate([c async for c in inputs])
        for attempt in range(1, self.attempts + 1):
            stream = self.bound._stream_value(value, self._cfg(cfg, attempt), autotag)
            produced = False
            try:
                async for chunk in stream:
                    produced = True
                    yield chunk
                return
            except self.retry_on:
                if produced or attempt == self.attempts:
                    raise
            finally:
                await aclose(stream)
            await asyncio.sleep(self._wait(attempt))


class RunnableWithFallbacks(Runnable[Any, Any]):
    """Tries a runnable, then each fallback in turn, until one succeeds before
    producing output. If all fail, the first error is raised."""

    def __init__(
        self,
        runnable: Runnable[Any, Any],
        fallbacks: Sequence[Any],
        *,
        exceptions_to_handle: tuple[type[BaseException], ...] = (Exception,),
    ) -> None:
        self.runnable = runnable
        self.fallbacks = [coerce(f) for f in fallbacks]
        self.exceptions_to_handle = exceptions_to_handle

    @property
    def runnables(self) -> list[Runnable[Any, Any]]:
        return [self.runnable, *self.fallbacks]

    async def _ainvoke(self, input: Any, **kwargs: Any) -> Any:
        cfg = Cfg(kwargs=kwargs) if kwargs else None
        first: BaseException | None = None
        for r in self.runnables:
            try:
                return await r._invoke(input, cfg)
            except self.exceptions_to_handle as exc:
                first = first or exc
        assert first is not None
        raise first

    async def _astream(self, input: Any, **kwargs: Any) -> AsyncIterator[Any]:
        cfg = Cfg(kwargs=kwargs) if kwargs else None
        first: BaseException | None = None
        for r in self.runnables:
            stream = r._stream_value(input, cfg)
            produced = False
            try:
                async for chunk in stream:
                    produced = True
                    yield chunk
                return
            except self.exceptions_to_handle as exc:
                if produced:
                    raise
                first = first or exc
            finally:
                await aclose(stream)
        assert first is not None
        raise first


class RunnableBranch(Runnable[Any, Any]):
    """Runs the first runnable whose condition holds for the input, else the default.

    >>> branch = RunnableBranch(
    ...     (lambda x: x > 0, lambda x: "positive"),
    ...     lambda x: "not positive",
    ... )
    >>> branch.invoke(-1)
    'not positive'
    """

    # Like the reference framework, a branch reports start and end but not the
    # chunks passing through it (its chosen runnable reports those).
    _emits_stream: ClassVar[bool] = False

    def __init__(self, *branches: Any) -> None:
        if len(branches) < 2:
            raise NotRunnableError("RunnableBranch needs at least one (condition, runnable) pair "
                                   "and a default")
        *pairs, default = branches
        self.branches: list[tuple[Runnable[Any, Any], Runnable[Any, Any]]] = []
        for pair in pairs:
            if not (isinstance(pair, tuple | list) and len(pair) == 2):
                raise NotRunnableError(
                    f"RunnableBranch expects (condition, runnable) pairs, got {pair!r:.60}"
                )
            self.branches.append((coerce(pair[0]), coerce(pair[1])))
        self.default = coerce(default)

    async def _choose(self, value: Any) -> tuple[Runnable[Any, Any], str]:
        for i, (cond, runnable) in enumerate(self.branches, 1):
            if await cond._invoke(value, None, f"condition:{i}"):
                return runnable, f"branch:{i}"
        return self.default, "branch:default"

    async def _ainvoke(self, input: Any, **kwargs: Any) -> Any:
        runnable, tag = await self._choose(input)
        return await runnable._invoke(input, Cfg(kwargs=kwargs) if kwargs else None, tag)

    async def _astream(self, input: Any, **kwargs: Any) -> AsyncIterator[Any]:
        runnable, tag = await self._choose(input)
        stream = runnable._stream_value(input, Cfg(kwargs=kwargs) if kwargs else None, tag)
        try:
            async for chunk in stream:
                yield chunk
        finally:
            await aclose(stream)
