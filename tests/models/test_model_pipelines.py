"""The guide's pipeline shapes, streaming from real model clients: prompt |
model | parser, and the ``astream_events`` loop that picks out a tagged model's
tokens."""

from __future__ import annotations

import asyncio
from typing import Any

from ragstream.parsers import StrOutputParser
from ragstream.prompts import ChatPromptTemplate, MessagesPlaceholder
from tests.models.conftest import Target
from tests.servers import Reply

ANSWER = ["Task", " decomposition", " breaks", " a", " task", " into", " steps", "."]
REWRITE = ["What", " are", " some", " typical", " methods", " for", " task", " decomposition", "?"]


def _system_text(target: Target, body: dict[str, Any]) -> str:
    if target.name == "anthropic":
        return str(body["system"])
    return str(body["messages"][0]["content"])


def test_prompt_model_parser_streams_tokens(target: Target) -> None:
    target.server.script(Reply(text=ANSWER))
    prompt = ChatPromptTemplate.from_messages([
        ("system", "Use the following pieces of retrieved context.\n\n{context}"),
        ("human", "{input}"),
    ])
    chain = prompt | target.model() | StrOutputParser()
    tokens = list(chain.stream({"input": "What is Task Decomposition?", "context": "CoT ..."}))
    # like the guide: an empty string first and last around the answer tokens
    assert tokens == ["", *ANSWER, ""]
    body = target.server.requests[0].json
    assert _system_text(target, body).endswith("\n\nCoT ...")
    assert body["messages"][-1] == {"role": "user", "content": "What is Task Decomposition?"}


def test_astream_events_pick_out_the_tagged_model(target: Target) -> None:
    target.server.script(Reply(text=REWRITE), Reply(text=ANSWER))
    contextualize_q_prompt = ChatPromptTemplate.from_messages([
        ("system", "Formulate a standalone question."),
        MessagesPlaceholder("chat_history"),
        ("human", "{input}"),
    ])
    llm = target.model()
    contextualize_q_llm = llm.with_config(tags=["contextualize_q_llm"])
    rewrite = contextualize_q_prompt | contextualize_q_llm | StrOutputParser()
    answer_prompt = ChatPromptTemplate.from_messages([("human", "{question}")])
    chain = rewrite | (lambda q: {"question": q}) | answer_prompt | llm | StrOutputParser()
    chat_history = [
        ("human", "What is task decomposition?"),
        ("ai", "Task decomposition involves breaking up a complex task into smaller steps."),
    ]

    async def main() -> tuple[str, list[dict[str, Any]]]:
        printed = ""
        events = []
        async for event in chain.astream_events(
            {"input": "What are some common ways of doing it?", "chat_history": chat_history},
            version="v1",
        ):
            events.append(event)
            if (
                event["event"] == "on_chat_model_stream"
                and "contextualize_q_llm" in event["tags"]
            ):
                printed += f"{event['data']['chunk'].content}|"
        return printed, events

    printed, events = asyncio.run(main())
    assert printed == "|What| are| some| typical| methods| for| task| decomposition|?||"
    model_name = "ChatOpenAI" if target.name == "openai" else "ChatAnthropic"
    ends = [e for e in events if e["event"] == "on_chat_model_end"]
    assert [e["name"] for e in ends] == [model_name, model_name]
    usage = ends[0]["data"]["output"].usage_metadata
    assert usage["output_tokens"] == len(REWRITE)
    # the rewritten question is what the second model call was asked
    second = target.server.requests[1].json
    assert second["messages"][-1]["content"] == "".join(REWRITE)
