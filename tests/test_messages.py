"""Messages and the additive AI message chunk."""

from __future__ import annotations

import pytest

from ragstream.errors import InputError
from ragstream.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    to_messages,
)


def test_chunks_add_text_usage_and_metadata() -> None:
    a = AIMessageChunk("Task", usage_metadata={"input_tokens": 5, "output_tokens": 1,
                                               "total_tokens": 6})
    b = AIMessageChunk(" decomposition", usage_metadata={"input_tokens": 0, "output_tokens": 1,
                                                         "total_tokens": 1},
                       response_metadata={"finish_reason": "stop"})
    total = a + b
    assert total.content == "Task decomposition"
    assert total.usage_metadata == {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}
    assert total.response_metadata == {"finish_reason": "stop"}
    assert AIMessageChunk.merge([a, b]) == total
    assert total.to_message() == AIMessage(
        "Task decomposition", usage_metadata=total.usage_metadata,
        response_metadata={"finish_reason": "stop"},
    )


def test_message_forms_are_accepted_everywhere() -> None:
    msgs = to_messages([("system", "s"), ("human", "h"), ("ai", "a"), ("user", "u"),
                        ("assistant", "x"), {"role": "user", "content": "d"}, "plain"])
    assert [m.type for m in msgs] == ["system", "human", "ai", "human", "ai", "human", "human"]
    assert repr(SystemMessage("s")) == "SystemMessage(content='s')"
    assert ToolMessage("r", tool_call_id="1").to_dict()["tool_call_id"] == "1"


def test_bad_messages() -> None:
    with pytest.raises(InputError, match="unknown message role"):
        to_messages([("wizard", "x")])
    with pytest.raises(InputError, match="cannot make a chat message from int"):
        to_messages([3])
    with pytest.raises(InputError, match="content must be a str"):
        HumanMessage(3)  # type: ignore[arg-type]
