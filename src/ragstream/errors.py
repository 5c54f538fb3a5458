"""Every error ragstream raises, split by who must act.

    RagstreamError
    ├── UserError                 the calling code must change
    │   ├── NotRunnableError      something that is not a step was put in a chain
    │   ├── InputError            a step was given input it cannot use
    │   │   ├── TemplateError     a missing variable or an illegal field in a template
    │   │   └── PickKeyError      ``pick`` asked for keys the output never had
    │   ├── ConfigError           bad configuration (arguments, files, environment)
    │   └── MissingDependencyError  an optional package is not installed
    ├── SourceError               a document source could not be loaded (``.source``)
    ├── StoreError                a vector store or history store failed
    └── ModelError                a model provider failed at run time (``.url``)
        ├── ModelConnectionError  the server could not be reached
        ├── ModelHTTPError        the server answered with an error status (``.status``)
        ├── ModelTimeoutError     a first-token or total deadline passed
        └── StreamInterruptedError  the stream broke off mid-answer (``.partial``)

An exception raised by the user's own code inside a step is re-raised as it
is, with a note naming the step (see ``add_step_note``).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigError",
    "InputError",
    "MissingDependencyError",
    "ModelConnectionError",
    "ModelError",
    "ModelHTTPError",
    "ModelTimeoutError",
    "NotRunnableError",
    "PickKeyError",
    "RagstreamError",
    "SourceError",
    "StoreError",
    "StreamInterruptedError",
    "TemplateError",
    "UserError",
]


def _rebuild(cls: type[RagstreamError], args: tuple[object, ...]) -> RagstreamError:
    error = cls.__new__(cls)
    error.args = args
    return error


class RagstreamError(Exception):
    """Root of every error ragstream raises.

    Every error pickles (to cross a process pool, say) with its attributes
    and notes, whatever its constructor takes.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        # The default rebuilds with ``cls(*self.args)``; errors whose constructor
        # takes other arguments than ``args`` holds (``SourceError(source,
        # reason)``) would fail. Rebuild without ``__init__``, then restore the
        # attributes (``__notes__`` among them) from ``__dict__``.
        return _rebuild, (type(self), self.args), self.__dict__ or None


class UserError(RagstreamError):
    """A programming mistake: the calling code must change."""


class NotRunnableError(UserError, TypeError):
    """An object that cannot be a step was composed into a chain."""


class InputError(UserError, ValueError):
    """A step was given input it cannot use."""


class TemplateError(InputError, KeyError):
    """A template variable is missing, or a field is not a plain name."""

    def __str__(self) -> str:  # KeyError quotes its message; we do not want that
        return str(self.args[0]) if self.args else ""


class PickKeyError(InputError, KeyError):
    """``pick`` asked for keys that the output never contained."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigError(UserError, ValueError):
    """Bad configuration: arguments, configuration files or environment."""


class MissingDependencyError(UserError, ImportError):
    """An optional dependency is missing; the message names what to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed; install it with: pip install \"ragstream[{extra}]\""
        )
        self.package = package
        self.extra = extra


class SourceError(RagstreamError):
    """A document source (URL or file) could not be loaded."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class StoreError(RagstreamError):
    """A vector store or chat history store failed."""


class ModelError(RagstreamError):
    """A model provider failed at run time. ``url`` names the server, never the key."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class ModelConnectionError(ModelError):
    """The model server could not be reached."""


class ModelHTTPError(ModelError):
    """The model server answered with an error status."""

    def __init__(self, message: str, *, status: int, url: str | None = None) -> None:
        super().__init__(message, url=url)
        self.status = status


class ModelTimeoutError(ModelError):
    """A first-token or total deadline passed."""

    def __init__(self, message: str, *, url: str | None = None, partial: str = "") -> None:
        super().__init__(message, url=url)
        self.partial = partial


class StreamInterruptedError(ModelError):
    """The answer stream broke off before the model said it was finished.

    ``partial`` holds the text received before the break.
    """

    def __init__(self, message: str, *, url: str | None = None, partial: str = "") -> None:
        super().__init__(message, url=url)
        self.partial = partial


def add_step_note(exc: BaseException, step: str) -> None:
    """Name the step an exception passed through, once, innermost first."""
    note = f"in step {step!r}"
    notes = getattr(exc, "__notes__", None)
    if notes is None or note not in notes:
        exc.add_note(note)
