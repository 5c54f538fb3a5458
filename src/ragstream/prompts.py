"""Prompt templates.

Templates substitute ``{name}`` with the input's value for ``name`` and do
nothing else: a field such as ``{x.__class__}`` or ``{x[0]}`` is an error when
the template is made, and values are inserted literally, so user text that
contains braces passes through as it is. ``{{`` and ``}}`` stand for literal
braces in the template itself.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any, ClassVar

from ragstream.core import Runnable
from ragstream.documents import Document, StuffedDocuments
from ragstream.errors import InputError, TemplateError
from ragstream.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    to_message,
    to_messages,
)

__all__ = [
    "ChatPromptTemplate",
    "ChatPromptValue",
    "MessagesPlaceholder",
    "PromptTemplate",
    "StringPromptValue",
]

_formatter = string.Formatter()


def _compile(template: str) -> tuple[list[tuple[str, str | None]], list[str]]:
    """Split a template into (literal, variable) pieces; reject anything but names."""
    if not isinstance(template, str):
        raise TemplateError(f"a template must be a str, not {type(template).__name__}")
    pieces: list[tuple[str, str | None]] = []
    names: list[str] = []
    try:
        parsed = list(_formatter.parse(template))
    except ValueError as exc:
        raise TemplateError(f"invalid template {template!r:.80}: {exc}") from exc
    for literal, field, spec, conversion in parsed:
        if field is None:
            pieces.append((literal, None))
            continue
        if not field.isidentifier():
            raise TemplateError(
                f"template field {{{field}}} is not allowed: only plain {{name}} "
                "substitution is supported (no attribute or index access, no positional fields)"
            )
        if spec or conversion:
            raise TemplateError(
                f"template field {{{field}{'!' + conversion if conversion else ''}"
                f"{':' + spec if spec else ''}}} is not allowed: "
                "formats and conversions are not supported, only {name}"
            )
        pieces.append((literal, field))
        if field not in names:
            names.append(field)
    return pieces, names


def _render(pieces: list[tuple[str, str | None]], values: dict[str, Any], owner: str) -> str:
    out: list[str] = []
    for literal, name in pieces:
        out.append(literal)
        if name is not None:
            try:
                value = values[name]
            except KeyError:
                raise TemplateError(
                    f"{owner}: missing variable {name!r}; the input has "
                    f"{', '.join(map(repr, values)) or 'no variables'}"
                ) from None
            out.append(value if isinstance(value, str) else str(value))
    return "".join(out)


class StringPromptValue:
    """A rendered text prompt."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def to_string(self) -> str:
        return self.text

    def to_messages(self) -> list[BaseMessage]:
        return [HumanMessage(self.text)]

    def __repr__(self) -> str:
        return f"StringPromptValue(text={self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StringPromptValue) and other.text == self.text

    __hash__ = None  # type: ignore[assignment]


class ChatPromptValue:
    """A rendered chat prompt: a list of messages.

    ``documents`` holds the documents stuffed into it (see ``StuffedDocuments``),
    in order, so a model can cite them.
    """

    __slots__ = ("documents", "messages")

    def __init__(
        self, messages: list[BaseMessage], documents: list[Document] | None = None
    ) -> None:
        self.messages = messages
        self.documents = documents or []

    def to_messages(self) -> list[BaseMessage]:
        return list(self.messages)

    def to_string(self) -> str:
        names = {"system": "System", "human": "Human", "ai": "AI", "AIMessageChunk": "AI",
                 "tool": "Tool"}
        return "\n".join(f"{names.get(m.type, m.type)}: {m.content}" for m in self.messages)

    def __repr__(self) -> str:
        return f"ChatPromptValue(messages={self.messages!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChatPromptValue) and other.messages == self.messages

    __hash__ = None  # type: ignore[assignment]


class _BasePrompt(Runnable[Any, Any]):
    run_type: ClassVar[str] = "prompt"
    _emits_stream: ClassVar[bool] = False
    input_variables: list[str]

    def _values(self, input: Any) -> dict[str, Any]:
        if isinstance(input, dict):
            return input
        if len(self.input_variables) == 1:
            return {self.input_variables[0]: input}
        raise InputError(
            f"{self.get_name()}: expected a dict with keys "
            f"{', '.join(map(repr, self.input_variables))}, got {type(input).__name__}"
        )


class PromptTemplate(_BasePrompt):
    """A text template.

    >>> PromptTemplate.from_template("Answer: {question}").format(question="why?")
    'Answer: why?'
    """

    def __init__(self, template: str, *, partial_variables: dict[str, Any] | None = None) -> None:
        self.template = template
        self._pieces, names = _compile(template)
        self.partial_variables = dict(partial_variables or {})
        self.input_variables = [n for n in names if n not in self.partial_variables]

    @classmethod
    def from_template(cls, template: str, **kwargs: Any) -> PromptTemplate:
        return cls(template, **kwargs)

    def format(self, **values: Any) -> str:
        return _render(self._pieces, {**self.partial_variables, **values}, self.get_name())

    def partial(self, **values: Any) -> PromptTemplate:
        return PromptTemplate(self.template,
                              partial_variables={**self.partial_variables, **values})

    async def _ainvoke(self, input: Any, **kwargs: Any) -> StringPromptValue:
        return StringPromptValue(self.format(**self._values(input)))

    def __repr__(self) -> str:
        return f"PromptTemplate(template={self.template!r})"


class MessagesPlaceholder:
    """Stands for a list of messages taken from the input variable ``variable_name``.

    ``n_messages`` keeps only the last n of them; with ``optional=True`` a
    missing variable stands for no messages.
    """

    def __init__(
        self, variable_name: str, *, optional: bool = False, n_messages: int | None = None
    ) -> None:
        if not isinstance(variable_name, str) or not variable_name.isidentifier():
            raise TemplateError(f"invalid placeholder variable name {variable_name!r}")
        self.variable_name = variable_name
        self.optional = optional
        self.n_messages = n_messages

    def format_messages(self, values: dict[str, Any], owner: str) -> list[BaseMessage]:
        if self.variable_name not in values:
            if self.optional:
                return []
            raise TemplateError(
                f"{owner}: missing variable {self.variable_name!r} (a list of messages); "
                f"the input has {', '.join(map(repr, values)) or 'no variables'}"
            )
        value = values[self.variable_name]
        if value is None and self.optional:
            return []
        if isinstance(value, str | BaseMessage) or not isinstance(value, Sequence):
            raise InputError(
                f"{owner}: variable {self.variable_name!r} must be a list of messages, "
                f"not {type(value).__name__}"
            )
        messages = to_messages(value)
        if self.n_messages is not None:
            messages = messages[-self.n_messages:] if self.n_messages > 0 else []
        return messages

    def __repr__(self) -> str:
        return f"MessagesPlaceholder({self.variable_name!r})"


_ROLE_CLASSES: dict[str, type[BaseMessage]] = {
    "system": SystemMessage,
    "human": HumanMessage,
    "user": HumanMessage,
    "ai": AIMessage,
    "assistant": AIMessage,
}


class _MessageTemplate:
    __slots__ = ("cls", "pieces", "variables")

    def __init__(self, cls: type[BaseMessage], template: str) -> None:
        self.cls = cls
        self.pieces, self.variables = _compile(template)

    def format(self, values: dict[str, Any], owner: str) -> BaseMessage:
        return self.cls(_render(self.pieces, values, owner))


_Part = _MessageTemplate | MessagesPlaceholder | BaseMessage


class ChatPromptTemplate(_BasePrompt):
    """A chat prompt: message templates and placeholders for lists of messages.

    >>> prompt = ChatPromptTemplate.from_messages([
    ...     ("system", "Answer from this context:\\n{context}"),
    ...     MessagesPlaceholder("chat_history"),
    ...     ("human", "{input}"),
    ... ])
    >>> prompt.input_variables
    ['context', 'chat_history', 'input']
    """

    def __init__(self, messages: Sequence[Any]) -> None:
        self.parts: list[_Part] = [self._part(m) for m in messages]
        names: list[str] = []
        for p in self.parts:
            if isinstance(p, _MessageTemplate):
                names.extend(v for v in p.variables if v not in names)
            elif (
                isinstance(p, MessagesPlaceholder)
                and not p.optional
                and p.variable_name not in names
            ):
                names.append(p.variable_name)
        self.input_variables = names

    @classmethod
    def from_messages(cls, messages: Sequence[Any]) -> ChatPromptTemplate:
        return cls(messages)

    @classmethod
    def from_template(cls, template: str) -> ChatPromptTemplate:
        return cls([("human", template)])

    @staticmethod
    def _part(m: Any) -> _Part:
        if isinstance(m, MessagesPlaceholder | BaseMessage):
            return m
        if isinstance(m, str):
            return _MessageTemplate(HumanMessage, m)
        if isinstance(m, tuple | list) and len(m) == 2 and isinstance(m[0], str):
            role, template = m
            if role == "placeholder":
                _, names = _compile(template)
                if len(names) != 1 or template.strip() != "{" + names[0] + "}":
                    raise TemplateError(
                        f"a placeholder is written ('placeholder', '{{name}}'), not {template!r}"
                    )
                return MessagesPlaceholder(names[0], optional=True)
            cls = _ROLE_CLASSES.get(role)
            if cls is None:
                raise TemplateError(
                    f"unknown message role {role!r}; use one of: "
                    f"{', '.join(sorted(_ROLE_CLASSES))} or 'placeholder'"
                )
            return _MessageTemplate(cls, template)
        try:
            return to_message(m)
        except InputError:
            raise TemplateError(
                f"cannot use {type(m).__name__} {m!r:.60} in a chat prompt; use (role, template) "
                "tuples, messages or MessagesPlaceholder"
            ) from None

    def format_messages(self, **values: Any) -> list[BaseMessage]:
        owner = self.get_name()
        out: list[BaseMessage] = []
        for p in self.parts:
            if isinstance(p, _MessageTemplate):
                out.append(p.format(values, owner))
            elif isinstance(p, MessagesPlaceholder):
                out.extend(p.format_messages(values, owner))
            else:
                out.append(p)
        return out

    def format_prompt(self, **values: Any) -> ChatPromptValue:
        return ChatPromptValue(self.format_messages(**values), _stuffed(self.parts, values))

    async def _ainvoke(self, input: Any, **kwargs: Any) -> ChatPromptValue:
        return self.format_prompt(**self._values(input))

    def __repr__(self) -> str:
        return f"ChatPromptTemplate(input_variables={self.input_variables!r})"


def _stuffed(parts: list[_Part], values: dict[str, Any]) -> list[Document]:
    docs: list[Document] = []
    for p in parts:
        if isinstance(p, _MessageTemplate):
            for name in p.variables:
                value = values.get(name)
                if isinstance(value, StuffedDocuments):
                    docs.extend(value.documents)
    return docs
