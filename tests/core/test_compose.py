"""The exact chunk sequence each composition streams, and its sync/async twins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from ragstream.errors import InputError
from ragstream.parsers import StrOutputParser
from ragstream.runnables import (
    RunnableBranch,
    RunnableGenerator,
    RunnableLambda,
    RunnableParallel,
    RunnablePassthrough,
    RunnableSequence,
)
from ragstream.testing import FakeChatModel

from .helpers import run


def text(answer: str) -> Any:
    """A step whose output is ``answer`` streamed as plain text chunks, whatever its input."""
    return RunnableLambda(lambda _: "question") | FakeChatModel(answer) | StrOutputParser()


async def astream_list(chain: Any, inp: Any, **kw: Any) -> list[Any]:
    return [c async for c in chain.astream(inp, **kw)]


def test_sequence_streams_through_every_step() -> None:
    chain = FakeChatModel("a b c") | (lambda m: m)  # a lambda collects: one chunk
    assert [c.content for c in chain.stream("hi")] == ["a b c"]
    streaming = text("a b c")
    assert list(streaming.stream("hi")) == ["a", " b", " c"]


def test_generator_transform_sees_each_chunk_as_it_comes() -> None:
    seen: list[str] = []

    def upper(chunks: Iterator[Any]) -> Iterator[str]:
        for c in chunks:
            seen.append(c.content)
            yield c.content.upper()

    chain = FakeChatModel("a b c") | upper
    assert isinstance(chain.steps[1], RunnableGenerator)
    assert list(chain.stream("x")) == ["A", " B", " C"]
    assert seen == ["a", " b", " c"]


def test_async_generator_transform_streams() -> None:
    async def double(chunks: AsyncIterator[Any]) -> AsyncIterator[str]:
        async for c in chunks:
            yield c.content * 2

    chain = FakeChatModel("a b") | double
    assert run(astream_list(chain, "x")) == ["aa", " b b"]


def test_lambda_kinds() -> None:
    def sync(x: int) -> int:
        return x + 1

    async def asy(x: int) -> int:
        return x * 10

    def gen(x: int) -> Iterator[int]:
        yield x
        yield x + 1

    async def agen(x: int) -> AsyncIterator[int]:
        for i in range(x):
            yield i

    assert RunnableLambda(sync).invoke(1) == 2
    assert RunnableLambda(asy).invoke(2) == 20
    assert list(RunnableLambda(gen).stream(5)) == [5, 6]
    assert RunnableLambda(gen).invoke(5) == 11  # generator chunks add up
    assert list(RunnableLambda(agen).stream(3)) == [0, 1, 2]
    assert RunnableLambda(sync).get_name() == "sync"
    assert RunnableLambda(lambda x: x).get_name() == "RunnableLambda"


def test_sync_function_runs_once_with_whole_input() -> None:
    calls: list[Any] = []

    def record(x: dict[str, Any]) -> str:
        calls.append(x)
        return "ok"

    chain = RunnableParallel(a=lambda x: "1", b=lambda x: "2") | record
    assert list(chain.stream("in")) == ["ok"]
    assert calls == [{"a": "1", "b": "2"}]


def test_lambda_may_route_to_another_runnable() -> None:
    model = FakeChatModel("routed answer")
    chain = RunnableLambda(lambda x: model) | (lambda m: m.content)
    assert chain.invoke("q") == "routed answer"


def test_dict_coerces_to_parallel_and_streams_key_by_key() -> None:
    chain = RunnablePassthrough() | {
        "answer": text("x y"),
        "echo": lambda q: q,
    }
    chunks = list(chain.stream("q"))
    assert {"echo": "q"} in chunks
    assert [c["answer"] for c in chunks if "answer" in c] == ["x", " y"]
    assert len(chunks) == 3
    assert chain.invoke("q") == {"answer": "x y", "echo": "q"}


def test_parallel_yields_slow_branch_after_fast_one() -> None:
    async def slow(x: str) -> str:
        await asyncio.sleep(0.05)
        return "slow"

    async def fast(x: str) -> str:
        return "fast"

    chain = RunnableParallel(s=slow, f=fast)
    assert run(astream_list(chain, "q")) == [{"f": "fast"}, {"s": "slow"}]


def test_assign_passes_input_keys_at_once_then_streams_new_keys() -> None:
    chain = RunnablePassthrough.assign(answer=text("one two"))
    chunks = list(chain.stream({"input": "q"}))
    assert chunks == [{"input": "q"}, {"answer": "one"}, {"answer": " two"}]
    assert chain.invoke({"input": "q"}) == {"input": "q", "answer": "one two"}


def test_assign_on_a_runnable_and_its_name() -> None:
    chain = RunnableLambda(lambda x: {"n": x}).assign(m=lambda d: d["n"] * 2)
    assert chain.invoke(3) == {"n": 3, "m": 6}
    assert chain.steps[1].get_name() == "RunnableAssign<m>"


def test_assign_replaces_an_existing_key() -> None:
    chain = RunnablePassthrough.assign(x=lambda d: d["x"] + 1)
    assert list(chain.stream({"x": 1, "y": 2})) == [{"y": 2}, {"x": 2}]


def test_pick_single_and_many_keys() -> None:
    source = RunnablePassthrough.assign(answer=text("p q"))
    assert list(source.pick("answer").stream({"input": "i"})) == ["p", " q"]
    assert list(source.pick(["input", "answer"]).stream({"input": "i"})) == [
        {"input": "i"}, {"answer": "p"}, {"answer": " q"},
    ]
    assert source.pick("answer").invoke({"input": "i"}) == "p q"


def test_bind_passes_arguments_to_the_model() -> None:
    model = FakeChatModel("stop here please")
    assert model.bind(stop=[" here"]).invoke("x").content == "stop"
    assert model.invoke("x").content == "stop here please"


def test_with_config_is_transparent_for_output() -> None:
    chain = (RunnableLambda(lambda x: x * 2)).with_config(tags=["t"], run_name="double")
    assert chain.invoke(4) == 8
    assert chain.get_name() == "double"


def test_branch_picks_first_true_condition_else_default() -> None:
    branch = RunnableBranch(
        (lambda x: x < 0, lambda x: "negative"),
        (lambda x: x == 0, text("zero")),
        lambda x: "positive",
    )
    assert branch.invoke(-5) == "negative"
    assert list(branch.stream(0)) == ["zero"]
    assert branch.invoke(3) == "positive"


def test_retry_retries_until_success() -> None:
    attempts: list[int] = []

    def flaky(x: int) -> int:
        attempts.append(x)
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return x

    chain = RunnableLambda(flaky).with_retry(stop_after_attempt=3, initial_wait=0.001)
    assert chain.invoke(7) == 7
    assert len(attempts) == 3


def test_retry_gives_up_and_raises_the_error() -> None:
    def broken(x: int) -> int:
        raise ConnectionError("down")

    chain = RunnableLambda(broken).with_retry(stop_after_attempt=2, initial_wait=0.001)
    with pytest.raises(ConnectionError, match="down"):
        chain.invoke(1)
    with pytest.raises(ConnectionError):
        list(chain.stream(1))


def test_retry_does_not_retry_other_errors() -> None:
    attempts: list[int] = []

    def wrong(x: int) -> int:
        attempts.append(x)
        raise KeyError("not retried")

    chain = RunnableLambda(wrong).with_retry(retry_if_exception_type=(ConnectionError,))
    with pytest.raises(KeyError):
        chain.invoke(1)
    assert attempts == [1]


def test_fallbacks_used_in_order() -> None:
    def broken(x: Any) -> Any:
        raise RuntimeError("primary down")

    chain = RunnableLambda(broken).with_fallbacks([FakeChatModel("from fallback")])
    assert chain.invoke("q").content == "from fallback"
    assert [c.content for c in chain.stream("q")] == ["from", " fallback"]


def test_fallbacks_all_failing_raise_the_first_error() -> None:
    def first(x: Any) -> Any:
        raise RuntimeError("first")

    def second(x: Any) -> Any:
        raise RuntimeError("second")

    with pytest.raises(RuntimeError, match="first"):
        RunnableLambda(first).with_fallbacks([RunnableLambda(second)]).invoke(1)


def test_batch_and_abatch_keep_order() -> None:
    chain = RunnableLambda(lambda x: x * x)
    assert chain.batch([1, 2, 3]) == [1, 4, 9]
    assert run(chain.abatch([4, 5], max_concurrency=1)) == [16, 25]


def test_batch_return_exceptions() -> None:
    def maybe(x: int) -> int:
        if x == 2:
            raise ValueError("two")
        return x

    out = RunnableLambda(maybe).batch([1, 2, 3], return_exceptions=True)
    assert out[0] == 1 and out[2] == 3
    assert isinstance(out[1], ValueError)


def test_async_twins_agree_with_sync() -> None:
    chain = text("same in both")
    assert run(astream_list(chain, "q")) == list(chain.stream("q"))
    assert run(chain.ainvoke("q")) == chain.invoke("q") == "same in both"


def test_sync_methods_work_inside_a_running_loop() -> None:
    chain = RunnableLambda(lambda x: x + 1)

    async def main() -> int:
        return chain.invoke(1)  # sync call from async code: must not deadlock

    assert run(main()) == 2


def test_sequence_needs_two_steps_and_flattens() -> None:
    a, b, c = RunnableLambda(lambda x: x), RunnableLambda(lambda x: x), RunnableLambda(lambda x: x)
    assert len((a | b | c).steps) == 3
    with pytest.raises(Exception, match="at least two"):
        RunnableSequence(a)


def test_assign_rejects_non_dict_input() -> None:
    chain = RunnablePassthrough.assign(x=lambda d: 1)
    with pytest.raises(InputError, match="RunnableAssign<x>: expected a dict"):
        chain.invoke("not a dict")


def test_nested_sync_functions_under_load_do_not_starve_each_other() -> None:
    """Sync functions that invoke runnables made of sync functions, many at once:
    every call finishes (no thread-pool deadlock)."""
    leaf = RunnableLambda(lambda x: x + 1)
    middle = RunnableLambda(lambda x: leaf.invoke(x) * 2)
    top = RunnableLambda(lambda x: middle.invoke(x) + 3)

    async def main() -> list[int]:
        return await top.abatch(list(range(150)))  # more than the pool has threads

    assert run(main(), timeout=60) == [(x + 1) * 2 + 3 for x in range(150)]
