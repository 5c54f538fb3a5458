"""Tools: functions with a name and a description, as steps.

Their runs emit ``on_tool_start`` and ``on_tool_end``.

>>> @tool
... def word_count(text: str) -> int:
...     '''Count the words of a text.'''
...     return len(text.split())
>>> word_count.invoke("task decomposition breaks tasks down")
5
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar, overload

from ragstream.core import Runnable
from ragstream.core._lambda import RunnableLambda
from ragstream.errors import InputError, NotRunnableError

__all__ = ["Tool", "tool"]


class Tool(Runnable[Any, Any]):
    """A named function with a description. A dict input is passed as keyword
    arguments; anything else as the single argument."""

    run_type: ClassVar[str] = "tool"
    _emits_stream: ClassVar[bool] = False

    def __init__(
        self, func: Callable[..., Any], *, name: str | None = None, description: str | None = None
    ) -> None:
        if not callable(func):
            raise NotRunnableError(f"a tool needs a function, not {type(func).__name__}")
        self.func = func
        self.name = name or getattr(func, "__name__", None) or "tool"
        self.description = description or inspect.getdoc(func) or ""
        self._params = list(inspect.signature(func).parameters)
        self._call = RunnableLambda(self._apply, name=self.name)

    def _apply(self, input: Any) -> Any:
        if isinstance(input, dict) and (len(self._params) != 1 or self._params[0] in input):
            unknown = set(input) - set(self._params)
            if unknown and not any(
                p.kind is inspect.Parameter.VAR_KEYWORD
                for p in inspect.signature(self.func).parameters.values()
            ):
                raise InputError(
                    f"tool {self.name!r} got unknown arguments {sorted(unknown)}; "
                    f"it takes {self._params}"
                )
            return self.func(**input)
        return self.func(input)

    async def _ainvoke(self, input: Any, **kwargs: Any) -> Any:
        if inspect.iscoroutinefunction(self.func):
            if isinstance(input, dict) and set(input) <= set(self._params):
                return await self.func(**input)
            return await self.func(input)
        return await self._call._ainvoke(input)

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"


@overload
def tool(func: Callable[..., Any], /) -> Tool: ...
@overload
def tool(*, name: str | None = None, description: str | None = None) -> Callable[
    [Callable[..., Any]], Tool]: ...


def tool(
    func: Callable[..., Any] | None = None, /, *, name: str | None = None,
    description: str | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a function a ``Tool``: ``@tool`` or ``@tool(name=..., description=...)``."""
    if func is not None:
        return Tool(func, name=name, description=description)
    return lambda f: Tool(f, name=name, description=description)
