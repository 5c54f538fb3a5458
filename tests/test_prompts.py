"""Prompt templates: plain {name} substitution, placeholders, message forms."""

from __future__ import annotations

import pytest

from ragstream.errors import InputError, TemplateError
from ragstream.messages import AIMessage, HumanMessage, SystemMessage
from ragstream.prompts import (
    ChatPromptTemplate,
    ChatPromptValue,
    MessagesPlaceholder,
    PromptTemplate,
)


def guide_prompt() -> ChatPromptTemplate:
    return ChatPromptTemplate.from_messages(
        [
            ("system", "Use the context.\n\n{context}"),
            MessagesPlaceholder("chat_history"),
            ("human", "{input}"),
        ]
    )


def test_chat_prompt_renders_history_from_tuples() -> None:
    value = guide_prompt().invoke(
        {
            "context": "CTX",
            "input": "What are some common ways of doing it?",
            "chat_history": [("human", "What is task decomposition?"), ("ai", "Breaking up.")],
        }
    )
    assert isinstance(value, ChatPromptValue)
    assert value.messages == [
        SystemMessage("Use the context.\n\nCTX"),
        HumanMessage("What is task decomposition?"),
        AIMessage("Breaking up."),
        HumanMessage("What are some common ways of doing it?"),
    ]
    assert guide_prompt().input_variables == ["context", "chat_history", "input"]


def test_values_with_braces_pass_through_literally() -> None:
    value = guide_prompt().invoke(
        {"context": "{input} {x.__class__} {{", "input": "{context}", "chat_history": []}
    )
    assert value.messages[0].content == "Use the context.\n\n{input} {x.__class__} {{"
    assert value.messages[1].content == "{context}"


@pytest.mark.parametrize(
    "template", ["{x.__class__}", "{x[0]}", "{0}", "{}", "{x!r}", "{x:>10}", "{x.y.z}"]
)
def test_templates_refuse_anything_but_plain_names(template: str) -> None:
    with pytest.raises(TemplateError, match="not allowed"):
        PromptTemplate.from_template(template)
    with pytest.raises(TemplateError, match="not allowed"):
        ChatPromptTemplate.from_messages([("human", template)])


def test_escaped_braces_and_unbalanced_template() -> None:
    assert PromptTemplate("{{literal}} {x}").format(x=1) == "{literal} 1"
    with pytest.raises(TemplateError, match="invalid template"):
        PromptTemplate("{unclosed")


def test_missing_variable_and_bad_history() -> None:
    with pytest.raises(TemplateError, match="missing variable 'chat_history'"):
        guide_prompt().invoke({"context": "c", "input": "i"})
    with pytest.raises(InputError, match="must be a list of messages"):
        guide_prompt().invoke({"context": "c", "input": "i", "chat_history": "not a list"})
    with pytest.raises(InputError, match="unknown message role 'robot'"):
        guide_prompt().invoke({"context": "c", "input": "i", "chat_history": [("robot", "x")]})


def test_optional_placeholder_and_tuple_form() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("placeholder", "{history}"), ("human", "{input}")]
    )
    assert prompt.invoke({"input": "hi"}).messages == [HumanMessage("hi")]
    assert prompt.input_variables == ["input"]


def test_single_variable_prompt_takes_a_plain_value() -> None:
    prompt = ChatPromptTemplate.from_template("Q: {question}")
    assert prompt.invoke("why?").to_string() == "Human: Q: why?"
    with pytest.raises(InputError, match="expected a dict"):
        guide_prompt().invoke("just a string")


def test_prompt_template_partial_and_string_value() -> None:
    prompt = PromptTemplate.from_template("{a} and {b}").partial(a="x")
    assert prompt.input_variables == ["b"]
    assert prompt.invoke({"b": "y"}).to_string() == "x and y"
    assert prompt.invoke({"b": "y"}).to_messages() == [HumanMessage("x and y")]
