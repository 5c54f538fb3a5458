"""The exact event sequence of each composition, in both versions.

Each row is (event, name, tags, parents) where parents are the positions (in
order of first appearance) of the run's ancestors, root first. v1 must give
the same sequence without ``parent_ids``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ragstream.parsers import StrOutputParser
from ragstream.runnables import (
    RunnableBranch,
    RunnableLambda,
    RunnableParallel,
    RunnablePassthrough,
)
from ragstream.testing import FakeChatModel

from .helpers import events


def up(x: str) -> str:
    return x.upper()


def shout(chunks: Iterator[str]) -> Iterator[str]:
    for c in chunks:
        yield c.upper()


async def aup(x: str) -> str:
    return x.upper()


async def abang(x: str) -> str:
    return x + "!"


def fail(x: Any) -> Any:
    raise ZeroDivisionError("no")


S, ST, E = "on_chain_start", "on_chain_stream", "on_chain_end"

CASES: dict[str, tuple[Any, Any, list[tuple[str, str, list[str], list[int]]]]] = {
    # async branches: sync ones run in threads and may finish in either order
    "parallel": (RunnableParallel(a=aup, b=abang), "a", [
        (S, "RunnableParallel<a,b>", [], []),
        # each branch runs in its own task, to its first pause (here: its end)
        (S, "aup", ["map:key:a"], [0]),
        (ST, "aup", ["map:key:a"], [0]),
        (E, "aup", ["map:key:a"], [0]),
        (S, "abang", ["map:key:b"], [0]),
        (ST, "abang", ["map:key:b"], [0]),
        (E, "abang", ["map:key:b"], [0]),
        (ST, "RunnableParallel<a,b>", [], []),
        (ST, "RunnableParallel<a,b>", [], []),
        (E, "RunnableParallel<a,b>", [], []),
    ]),
    "assign": (RunnablePassthrough.assign(n=lambda d: len(d["s"])), {"s": "ab"}, [
        (S, "RunnableAssign<n>", [], []),
        (ST, "RunnableAssign<n>", [], []),
        (S, "RunnableParallel<n>", [], [0]),
        (S, "RunnableLambda", ["map:key:n"], [0, 1]),
        (ST, "RunnableLambda", ["map:key:n"], [0, 1]),
        (ST, "RunnableParallel<n>", [], [0]),
        (ST, "RunnableAssign<n>", [], []),
        (E, "RunnableLambda", ["map:key:n"], [0, 1]),
        (E, "RunnableParallel<n>", [], [0]),
        (E, "RunnableAssign<n>", [], []),
    ]),
    "pick": (RunnableLambda(lambda x: {"s": x, "t": 1}).pick("s"), "a", [
        (S, "RunnableSequence", [], []),
        (S, "RunnableLambda", ["seq:step:1"], [0]),
        (ST, "RunnableLambda", ["seq:step:1"], [0]),
        (S, "RunnablePick", ["seq:step:2"], [0]),
        (ST, "RunnablePick", ["seq:step:2"], [0]),
        (ST, "RunnableSequence", [], []),
        (E, "RunnableLambda", ["seq:step:1"], [0]),
        (E, "RunnablePick", ["seq:step:2"], [0]),
        (E, "RunnableSequence", [], []),
    ]),
    "generator streams through": (FakeChatModel("a b") | StrOutputParser() | shout, "q", [
        (S, "RunnableSequence", [], []),
        ("on_chat_model_start", "FakeChatModel", ["seq:step:1"], [0]),
        ("on_chat_model_stream", "FakeChatModel", ["seq:step:1"], [0]),
        ("on_parser_start", "StrOutputParser", ["seq:step:2"], [0]),
        ("on_parser_stream", "StrOutputParser", ["seq:step:2"], [0]),
        (S, "shout", ["seq:step:3"], [0]),
        (ST, "shout", ["seq:step:3"], [0]),
        (ST, "RunnableSequence", [], []),
        ("on_chat_model_stream", "FakeChatModel", ["seq:step:1"], [0]),
        ("on_parser_stream", "StrOutputParser", ["seq:step:2"], [0]),
        (ST, "shout", ["seq:step:3"], [0]),
        (ST, "RunnableSequence", [], []),
        ("on_chat_model_end", "FakeChatModel", ["seq:step:1"], [0]),
        ("on_parser_end", "StrOutputParser", ["seq:step:2"], [0]),
        (E, "shout", ["seq:step:3"], [0]),
        (E, "RunnableSequence", [], []),
    ]),
    "lambda collects its input": (FakeChatModel("a b") | StrOutputParser() | up, "q", [
        (S, "RunnableSequence", [], []),
        ("on_chat_model_start", "FakeChatModel", ["seq:step:1"], [0]),
        ("on_chat_model_stream", "FakeChatModel", ["seq:step:1"], [0]),
        ("on_parser_start", "StrOutputParser", ["seq:step:2"], [0]),
        ("on_parser_stream", "StrOutputParser", ["seq:step:2"], [0]),
        ("on_chat_model_stream", "FakeChatModel", ["seq:step:1"], [0]),
        ("on_parser_stream", "StrOutputParser", ["seq:step:2"], [0]),
        ("on_chat_model_end", "FakeChatModel", ["seq:step:1"], [0]),
        ("on_parser_end", "StrOutputParser", ["seq:step:2"], [0]),
        (S, "up", ["seq:step:3"], [0]),
        (ST, "up", ["seq:step:3"], [0]),
        (ST, "RunnableSequence", [], []),
        (E, "up", ["seq:step:3"], [0]),
        (E, "RunnableSequence", [], []),
    ]),
    "binding": (RunnableLambda(up).with_config(run_name="loud", tags=["t1"]), "a", [
        (S, "loud", ["t1"], []),
        (ST, "loud", ["t1"], []),
        (E, "loud", ["t1"], []),
    ]),
    "retry": (RunnableLambda(up).with_retry(), "a", [
        (S, "up", [], []),
        (ST, "up", [], []),
        (E, "up", [], []),
    ]),
    "fallbacks": (RunnableLambda(fail).with_fallbacks([RunnableLambda(up)]), "a", [
        (S, "RunnableWithFallbacks", [], []),
        (S, "fail", [], [0]),
        (E, "fail", [], [0]),
        (S, "up", [], [0]),
        (ST, "up", [], [0]),
        (ST, "RunnableWithFallbacks", [], []),
        (E, "up", [], [0]),
        (E, "RunnableWithFallbacks", [], []),
    ]),
    "branch": (RunnableBranch((lambda x: x == "a", up), lambda x: x), "a", [
        (S, "RunnableBranch", [], []),
        (S, "RunnableLambda", ["condition:1"], [0]),
        (E, "RunnableLambda", ["condition:1"], [0]),
        (S, "up", ["branch:1"], [0]),
        (ST, "up", ["branch:1"], [0]),
        (E, "up", ["branch:1"], [0]),
        (E, "RunnableBranch", [], []),
    ]),
}


def rows(evs: list[dict[str, Any]], *, v2: bool) -> list[tuple[str, str, list[str], list[int]]]:
    order: dict[str, int] = {}
    out = []
    for e in evs:
        order.setdefault(e["run_id"], len(order))
        parents = [order[p] for p in e["parent_ids"]] if v2 else []
        out.append((e["event"], e["name"], e["tags"], parents))
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_event_sequence_v2_and_v1(case: str) -> None:
    chain, inp, expected = CASES[case]
    assert rows(events(chain, inp), v2=True) == expected
    v1 = events(chain, inp, version="v1")
    assert all("parent_ids" not in e for e in v1)
    assert rows(v1, v2=False) == [(e, n, t, []) for e, n, t, _ in expected]


def test_the_failed_attempt_of_a_fallback_reports_its_error() -> None:
    evs = events(CASES["fallbacks"][0], "a")
    fail_end = next(e for e in evs if e["name"] == "fail" and e["event"] == E)
    assert isinstance(fail_end["data"]["error"], ZeroDivisionError)
    assert evs[-1]["data"]["output"] == "A"
