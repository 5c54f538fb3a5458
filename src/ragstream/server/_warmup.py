"""Warm-up: what the first question would otherwise wait for, done at startup.

Right after startup, in the background (``/healthz`` answers at once), the
server checks its collection (and logs a warning naming how to fill it if it
holds nothing), embeds a short text (loading a local embedding model takes
seconds) and runs one retrieval (opening the vector index). ``/readyz``
answers 503 until this has finished, then 200; ``/info`` tells the same. A
step that fails is logged and the others still run: the server answers
anyway, and the first question meets the failure with its usual error.

The embeddings load in a daemon thread of their own: a model load cannot be
interrupted, and a server stopped during it must not wait for it to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from ragstream.server._collection import ServedCollection

__all__ = ["WarmUp"]

log = logging.getLogger("ragstream.server")

State = Literal["pending", "running", "done", "failed"]
T = TypeVar("T")
_TEXT = "warm up"


async def _in_daemon_thread(work: Callable[[], T]) -> T:
    """``work()`` in a daemon thread: awaiting it can be cancelled, and neither
    the loop's shutdown nor the interpreter's exit waits for it (the default
    executor's threads are waited for)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = work(), None
        except BaseException as exc:
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="ragstream warm-up", daemon=True).start()
    return await future


class WarmUp:
    """The startup work of one server; ``start()`` it in the running loop."""

    def __init__(self, rag_app: Any, collection: ServedCollection, *, enabled: bool = True
                 ) -> None:
        self.rag = rag_app
        self.collection = collection
        self.enabled = enabled
        self.state: State = "pending"
        self.seconds: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        """Whether the warm-up has finished (well or not)."""
        return self.state in ("done", "failed")

    def to_dict(self) -> dict[str, Any]:
        # public (``/readyz``): step names, times and error kinds, never messages
        return {"state": self.state, "enabled": self.enabled,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                "failed": dict(self.failed)}

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="ragstream warm-up")

    async def aclose(self) -> None:
        """Stop a warm-up still running (at shutdown)."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def run(self) -> None:
        self.state = "running"
        started = time.perf_counter()
        await self._step("collection", self._check_collection)
        if self.enabled:
            await self._step("embeddings", self._embed)
            if self.collection.has_documents and "embeddings" not in self.failed:
                await self._step("retrieval", self._retrieve)
        self.seconds["total"] = time.perf_counter() - started
        self.state = "failed" if self.failed else "done"
        log.info("warm-up %s in %.1f s", self.state, self.seconds["total"])

    async def _step(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        started = time.perf_counter()
        try:
            await work()
        except Exception as exc:
            self.failed[name] = type(exc).__name__
            log.warning("warm-up: %s failed: %s: %s", name, type(exc).__name__, exc)
            log.debug("warm-up: %s failed", name, exc_info=exc)
        finally:
            self.seconds[name] = time.perf_counter() - started

    async def _check_collection(self) -> None:
        await self.collection.refresh()
        if self.collection.has_documents is False:
            log.warning("%s", self.collection.startup_warning())

    async def _embed(self) -> None:
        embeddings = getattr(self.rag, "embeddings", None)
        if embeddings is not None:
            await _in_daemon_thread(lambda: embeddings.embed_query(_TEXT))

    async def _retrieve(self) -> None:
        retriever = getattr(self.rag, "retriever", None)
        if callable(retriever):
            # named, so a trace of it is not taken for a question
            await retriever(self.collection.name, k=1).ainvoke(
                _TEXT, {"run_name": "server warm-up", "tags": ["warm-up"]})
