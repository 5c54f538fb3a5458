"""Stopping a stream stops everything that feeds it, and leaves no task behind."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from ragstream.parsers import StrOutputParser
from ragstream.runnables import RunnableGenerator, RunnableParallel
from ragstream.testing import FakeChatModel

from .helpers import run

LONG = " ".join(f"w{i}" for i in range(2000))


class Counter:
    """A pass-through step that counts the chunks pulled through it and notes
    whether it was closed or cancelled."""

    def __init__(self) -> None:
        self.count = 0
        self.closed = False

    def step(self) -> RunnableGenerator:
        async def count(chunks: AsyncIterator[Any]) -> AsyncIterator[Any]:
            try:
                async for c in chunks:
                    self.count += 1
                    yield c
            finally:
                self.closed = True

        return RunnableGenerator(count)


def test_break_in_sync_for_stops_the_producer() -> None:
    counter = Counter()
    chain = FakeChatModel(LONG, delay=0.001) | counter.step() | StrOutputParser()
    for i, _ in enumerate(chain.stream("q")):
        if i == 5:
            break
    deadline = time.monotonic() + 2
    while not counter.closed and time.monotonic() < deadline:
        time.sleep(0.005)
    assert counter.closed
    seen = counter.count
    time.sleep(0.1)
    assert counter.count == seen
    assert seen < 300  # it did not run on to the end of the answer


def test_sync_reader_holds_back_a_fast_producer() -> None:
    counter = Counter()
    chain = FakeChatModel(LONG) | counter.step()
    stream = chain.stream("q")
    next(stream)
    time.sleep(0.2)
    assert counter.count < 1000  # bounded run-ahead, not the whole answer
    stream.close()  # type: ignore[attr-defined]
    assert counter.closed


def test_aclose_stops_the_producer_at_once() -> None:
    counter = Counter()

    async def main() -> None:
        chain = FakeChatModel(LONG, delay=0.001) | counter.step()
        stream = chain.astream("q")
        async for _ in stream:
            if counter.count == 3:
                break
        await stream.aclose()  # type: ignore[attr-defined]
        assert counter.closed
        seen = counter.count
        await asyncio.sleep(0.05)
        assert counter.count == seen

    run(main())


def test_cancelling_the_reader_task_leaves_no_tasks() -> None:
    counter = Counter()
    cancelled_branches: list[str] = []

    async def slow_branch(x: Any) -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled_branches.append("slow")
            raise
        return "never"

    async def main() -> None:
        baseline = len(asyncio.all_tasks())
        chain = RunnableParallel(
            answer=FakeChatModel(LONG, delay=0.001) | counter.step(),
            other=slow_branch,
        )

        async def reader() -> None:
            async for _ in chain.astream("q"):
                pass

        task = asyncio.create_task(reader())
        while counter.count < 5:
            await asyncio.sleep(0.001)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        await asyncio.sleep(0)  # one scheduling step
        assert cancelled_branches == ["slow"]
        assert counter.closed
        assert len(asyncio.all_tasks()) == baseline
        seen = counter.count
        await asyncio.sleep(0.05)
        assert counter.count == seen

    run(main())


def test_cancelling_an_event_listener_leaves_no_tasks() -> None:
    async def main() -> None:
        baseline = len(asyncio.all_tasks())
        chain = FakeChatModel(LONG, delay=0.001) | StrOutputParser()

        async def listen() -> None:
            async for _ in chain.astream_events("q"):
                pass

        task = asyncio.create_task(listen())
        await asyncio.sleep(0.02)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        await asyncio.sleep(0)
        assert len(asyncio.all_tasks()) == baseline

    run(main())


def test_sync_events_break_stops_the_run() -> None:
    counter = Counter()
    chain = FakeChatModel(LONG, delay=0.001) | counter.step()
    for e in chain.stream_events("q"):
        if e["event"] == "on_chain_stream":
            break
    deadline = time.monotonic() + 2
    while not counter.closed and time.monotonic() < deadline:
        time.sleep(0.005)
    assert counter.closed
    assert counter.count < 300
