"""Small helpers for the engine tests."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from ragstream.core import Runnable

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
    """Run a coroutine with a deadline, so a hang fails the test instead of the suite."""

    async def guarded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(guarded())


async def collect_events(
    chain: Runnable[Any, Any], inp: Any, **kwargs: Any
) -> list[dict[str, Any]]:
    return [dict(e) async for e in chain.astream_events(inp, **kwargs)]


def events(chain: Runnable[Any, Any], inp: Any, **kwargs: Any) -> list[dict[str, Any]]:
    return run(collect_events(chain, inp, **kwargs))


def shape(evs: list[dict[str, Any]]) -> list[tuple[str, str, list[str]]]:
    return [(e["event"], e["name"], e["tags"]) for e in evs]


def check_run_invariants(evs: list[dict[str, Any]], *, version: str = "v2") -> None:
    """Every run starts once, ends once, streams only in between; in v2 a run's
    parent started before it and ends after it."""
    state: dict[str, str] = {}
    ended: set[str] = set()
    for e in evs:
        if e["event"] == "on_custom_event":
            continue
        rid, kind = e["run_id"], e["event"].rsplit("_", 1)[1]
        if kind == "start":
            assert rid not in state, f"second start for {e['name']}"
            state[rid] = "started"
            if version == "v2" and e["parent_ids"]:
                parent = e["parent_ids"][-1]
                assert state.get(parent) == "started", f"{e['name']} started outside its parent"
        elif kind == "stream":
            assert state.get(rid) == "started", f"{e['name']} streamed outside its run"
        elif kind == "end":
            assert state.get(rid) == "started", f"{e['name']} ended without starting"
            state[rid] = "ended"
            ended.add(rid)
            if version == "v2":
                for p in e["parent_ids"]:
                    assert p not in ended, f"{e['name']} ended after its parent"
    assert all(v == "ended" for v in state.values()), "a run never ended"
