"""What every command shares: exit codes, common options, settings, errors.

Errors meant for the user print as one line on stderr (``--debug`` adds the
traceback) and end the command with an exit code scripts can rely on.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    import asyncio

    from ragstream.app import RagApp
    from ragstream.config import Settings

__all__ = [
    "ERROR",
    "INTERRUPTED",
    "NOT_FOUND",
    "OK",
    "SOURCES_FAILED",
    "USAGE",
    "MainGroup",
    "common_options",
    "echo_error",
    "make_settings",
    "model_options",
    "run",
    "store_options",
]

OK = 0
ERROR = 1  # reported in one line: an unreachable model server, a store that failed...
USAGE = 2  # a bad option, argument or configuration value (click's own code for usage)
SOURCES_FAILED = 3  # ingest stored what it could, but some sources failed
NOT_FOUND = 4  # nothing to answer from (no such collection, or it is empty), no such session
INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_MODEL_HINT = (
    "choose a model with --model or RAGSTREAM_MODEL (for example 'ollama:llama3.2', "
    "'openai-compatible:NAME@http://HOST:PORT/v1', or 'extractive' for the offline mode)"
)


def _remember(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """Keep an option shared by the group and the commands in ``ctx.meta``,
    so ``ragstream --data-dir X ask`` and ``ragstream ask --data-dir X`` agree."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None and value is not False:
            ctx.meta[f"ragstream.{name}"] = value
        return value

    return callback


def common_options(func: F) -> F:
    """``--data-dir``, ``--config`` and ``--debug``, on the group and on every command."""
    for option in reversed([
        click.option(
            "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
            expose_value=False, is_eager=True, callback=_remember("data_dir"),
            help="Where collections and chat history live [env RAGSTREAM_HOME; default "
                 "~/.local/share/ragstream].",
        ),
        click.option(
            "--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
            default=None, expose_value=False, is_eager=True, callback=_remember("config"),
            help="A TOML configuration file [env RAGSTREAM_CONFIG; default "
                 "DATA_DIR/config.toml].",
        ),
        click.option(
            "--debug", is_flag=True, default=False, expose_value=False, is_eager=True,
            callback=_remember("debug"), help="Show the full traceback of an error.",
        ),
    ]):
        func = option(func)
    return func


def store_options(func: F) -> F:
    """``--collection``, ``--embeddings`` and ``--chroma-url``."""
    for option in reversed([
        click.option("--collection", "-c", default=None, metavar="NAME",
                     help="The collection [env RAGSTREAM_COLLECTION; default docs]."),
        click.option("--embeddings", default=None, metavar="SPEC",
                     help="minilm (local), openai[:MODEL] or fake[:SIZE] "
                          "[env RAGSTREAM_EMBEDDINGS; default minilm]."),
        click.option("--chroma-url", default=None, metavar="URL",
                     help="A Chroma server instead of the embedded store "
                          "[env RAGSTREAM_CHROMA_URL]."),
    ]):
        func = option(func)
    return func


def model_options(func: F) -> F:
    """``--model`` and ``--k``."""
    for option in reversed([
        click.option("--model", "-m", default=None, metavar="PROVIDER:MODEL",
                     help="The chat model: extractive (offline), openai:NAME, anthropic:NAME, "
                          "ollama:NAME, openai-compatible:NAME@URL [env RAGSTREAM_MODEL; "
                          "default extractive]."),
        click.option("--k", "-k", "k", type=int, default=None, metavar="N",
                     help="How many chunks to retrieve [env RAGSTREAM_K; default 4]."),
    ]):
        func = option(func)
    return func


def make_settings(**flags: Any) -> Settings:
    """The effective settings: these flags, the shared options, environment, file."""
    from ragstream.config import load_settings

    ctx = click.get_current_context()
    flags["home"] = ctx.meta.get("ragstream.data_dir")
    return load_settings(flags, config_file=ctx.meta.get("ragstream.config"))


def make_app(settings: Settings) -> RagApp:
    from ragstream.app import RagApp

    return RagApp(settings)


def run(work: Callable[[asyncio.Runner], T]) -> T:
    """Run ``work(runner)`` with an event loop on this thread.

    The first Ctrl-C cancels the coroutine the runner is running (so streams
    close and partial answers are saved) and ``runner.run`` raises
    ``KeyboardInterrupt``; threads still writing to the store finish first.
    """
    import asyncio

    with asyncio.Runner() as runner:
        return work(runner)


def run_one(coro: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run one coroutine with ``run``."""
    return run(lambda runner: runner.run(coro()))


def _first_line(text: str) -> str:
    return " ".join(text.split())


def describe(exc: BaseException, *, model: str | None = None) -> tuple[str, int]:
    """The one line a user reads for an error, and the exit code."""
    from ragstream.app import NoDocumentsError
    from ragstream.errors import (
        ConfigError,
        InputError,
        ModelConnectionError,
        ModelError,
        ModelHTTPError,
        RagstreamError,
    )

    if isinstance(exc, NoDocumentsError):
        option = "" if exc.collection == "docs" else f" --collection {exc.collection}"
        return (
            f"{exc}; ingest documents first, for example: ragstream ingest{option} PATH_OR_URL "
            f"(or ragstream ingest{option} --sample)",
            NOT_FOUND,
        )
    if isinstance(exc, ModelConnectionError):
        where = exc.url or "the model server"
        named = f" for model {model!r}" if model else ""
        return f"cannot reach the model server at {where}{named}; start it, or {_MODEL_HINT}", \
            ERROR
    if isinstance(exc, ModelHTTPError) and exc.status in (401, 403):
        return (
            f"{_first_line(str(exc))}; check the API key (OPENAI_API_KEY, ANTHROPIC_API_KEY) "
            f"or {_MODEL_HINT}",
            ERROR,
        )
    if isinstance(exc, ModelError):
        return f"{_first_line(str(exc))}; {_MODEL_HINT}", ERROR
    if isinstance(exc, ConfigError | InputError):
        return _first_line(str(exc)), USAGE
    if isinstance(exc, RagstreamError):
        return _first_line(str(exc)), ERROR
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or exc}: {exc.filename}", ERROR
    return f"unexpected {type(exc).__name__}: {_first_line(str(exc))}", ERROR


def echo_error(message: str) -> None:
    click.echo(f"error: {message}", err=True)


def _debugging(ctx: click.Context) -> bool:
    return bool(ctx.meta.get("ragstream.debug")) or os.environ.get("RAGSTREAM_DEBUG") == "1"


class MainGroup(click.Group):
    """The ``ragstream`` group: turns errors into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            if _debugging(ctx):
                traceback.print_exc(file=sys.stderr)
            click.echo("\ninterrupted", err=True)
            ctx.exit(INTERRUPTED)
        except Exception as exc:
            if _debugging(ctx):
                traceback.print_exc(file=sys.stderr)
            message, code = describe(exc, model=ctx.meta.get("ragstream.model"))
            echo_error(message)
            if not _debugging(ctx) and code == ERROR and message.startswith("unexpected"):
                click.echo("(run again with --debug to see the traceback)", err=True)
            ctx.exit(code)
