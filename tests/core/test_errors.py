"""Bad input and failing steps: clear errors naming the step, and never a hang."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ragstream.errors import (
    InputError,
    NotRunnableError,
    PickKeyError,
    RagstreamError,
    TemplateError,
)
from ragstream.parsers import StrOutputParser
from ragstream.prompts import ChatPromptTemplate
from ragstream.runnables import RunnableLambda, RunnableParallel, RunnablePassthrough
from ragstream.testing import FakeChatModel

from .helpers import collect_events, run


def boom(x: Any) -> Any:
    raise ValueError("user code failed")


def test_pick_of_unknown_key_names_it_and_the_keys_present() -> None:
    chain = RunnablePassthrough.assign(answer=lambda d: "a").pick("answr")
    with pytest.raises(PickKeyError, match="'answr' not in the output; it has 'answer', 'input'"):
        list(chain.stream({"input": "q"}))
    with pytest.raises(PickKeyError, match="answr"):
        chain.invoke({"input": "q"})
    assert isinstance(PickKeyError("x"), RagstreamError)


def test_missing_template_variable() -> None:
    prompt = ChatPromptTemplate.from_messages([("system", "{context}"), ("human", "{input}")])
    with pytest.raises(TemplateError, match="missing variable 'context'; the input has 'input'"):
        prompt.invoke({"input": "q"})


def test_non_runnable_in_a_pipe() -> None:
    with pytest.raises(NotRunnableError, match="cannot use int"):
        RunnableLambda(lambda x: x) | 42
    with pytest.raises(NotRunnableError):
        42 | RunnableLambda(lambda x: x)


def test_user_exception_is_reraised_with_a_note_naming_the_step() -> None:
    chain = RunnableLambda(lambda x: x) | boom
    with pytest.raises(ValueError, match="user code failed") as info:
        chain.invoke(1)
    assert "in step 'boom'" in info.value.__notes__
    with pytest.raises(ValueError) as info:
        list(chain.stream(1))
    assert "in step 'boom'" in info.value.__notes__


def test_failing_step_reports_its_end_with_the_error_and_the_stream_ends() -> None:
    chain = (FakeChatModel("a b c") | StrOutputParser() | boom).with_config(run_name="outer")
    seen: list[dict[str, Any]] = []

    async def main() -> None:
        async for e in chain.astream_events("q"):
            seen.append(e)

    with pytest.raises(ValueError, match="user code failed"):
        run(main(), timeout=5)
    ends = {e["name"]: e for e in seen if e["event"] == "on_chain_end"}
    assert isinstance(ends["boom"]["data"]["error"], ValueError)
    assert isinstance(ends["outer"]["data"]["error"], ValueError)
    assert "output" not in ends["boom"]["data"]


def test_error_in_one_parallel_branch_cancels_the_other() -> None:
    cancelled: list[bool] = []

    async def slow(x: Any) -> Any:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    chain = RunnableParallel(bad=boom, slow=slow)
    with pytest.raises(ValueError):
        run(collect_events(chain, 1), timeout=5)
    with pytest.raises(ValueError):
        list(chain.stream(1))
    assert cancelled == [True, True]


def test_model_given_nonsense_input() -> None:
    with pytest.raises(InputError, match="a chat model takes"):
        FakeChatModel("x").invoke(12345)  # type: ignore[arg-type]


def test_unknown_config_keys_are_refused() -> None:
    with pytest.raises(RagstreamError, match="unknown config keys: colour"):
        RunnableLambda(lambda x: x).invoke(1, config={"colour": "red"})
