"""``ragstream chat``: an interactive session with history.

Follow-up questions are rewritten with the history before retrieval (shown
with ``--steps``, with the sources and which of them each answer cited).
Every turn is saved in the session as it ends; Ctrl-C during an answer stops
that answer (kept, marked incomplete) and the prompt comes back; Ctrl-C or
Ctrl-D at the prompt, or ``/exit``, leaves.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

from ragstream.cli._ask import TurnView
from ragstream.cli._base import (
    common_options,
    describe,
    echo_error,
    make_app,
    make_settings,
    model_options,
    run,
    store_options,
)
from ragstream.cli._output import Output

if TYPE_CHECKING:
    import asyncio

    from ragstream.app import RagApp
    from ragstream.messages import BaseMessage

__all__ = ["chat", "show_messages"]

_HELP = "commands: /history shows this session, /exit leaves (so do Ctrl-D and Ctrl-C here)"


def new_session_name() -> str:
    return time.strftime("chat-%Y%m%d-%H%M%S")


def show_messages(output: Output, messages: list[BaseMessage]) -> None:
    """A session's messages, the incomplete answers marked."""
    from ragstream.history import is_incomplete

    for message in messages:
        who = "you" if message.type == "human" else "ragstream"
        mark = " [incomplete]" if is_incomplete(message) else ""
        style = "bold green" if who == "you" else None
        output.line(f"{who}{mark}: {message.content}", style=style)


def _ask_line(output: Output) -> str:
    if output.tty and sys.stdin.isatty():
        try:
            import readline  # noqa: F401  (line editing and history for input())
        except ImportError:  # not on every platform
            pass
        return output.out.input("[bold green]you ›[/] ")
    sys.stdout.write("you> ")
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    sys.stdout.write(line if line.endswith("\n") else line + "\n")  # a transcript reads well
    return line


async def _turn(app: RagApp, view: TurnView, question: str, session: str) -> None:
    async for event in app.astream_turn(question, session_id=session):
        view.show(event)


@click.command()
@click.option("--session", "-s", metavar="NAME", default=None,
              help="Resume (or start) the session of this name.")
@click.option("--steps", is_flag=True,
              help="Also show the rewritten question and the sources, live, and the "
                   "sources each answer cited.")
@model_options
@store_options
@common_options
@click.pass_context
def chat(ctx: click.Context, session: str | None, steps: bool, model: str | None,
         k: int | None, collection: str | None, embeddings: str | None,
         chroma_url: str | None) -> None:
    """Chat about a collection; follow-up questions use the history.

    Sessions are saved (see `ragstream sessions`); --session NAME resumes one.
    Ctrl-C stops an answer; Ctrl-C at the prompt, Ctrl-D or /exit leaves.
    """
    settings = make_settings(model=model, k=k, collection=collection, embeddings=embeddings,
                             chroma_url=chroma_url)
    ctx.meta["ragstream.model"] = settings.model
    app = make_app(settings)
    output = Output()
    name = session or new_session_name()

    def work(runner: asyncio.Runner) -> None:
        try:
            runner.run(app.acheck_collection())
            earlier = runner.run(app.history.aget_messages(name))
            _banner(output, app, name, len(earlier))
            if earlier:
                show_messages(output, earlier[-2:])
            _loop(runner, output, app, name, steps)
        finally:
            runner.run(app.aclose())

    run(work)
    output.note(f"session {name!r} saved; resume it with: ragstream chat --session {name}")


def _banner(output: Output, app: RagApp, name: str, count: int) -> None:
    resumed = f"resumed, {count} messages" if count else "new"
    output.line(
        f"ragstream chat · collection {app.settings.collection!r} · {app.model_label} · "
        f"session {name!r} ({resumed})",
        style="bold",
    )
    output.line("Ctrl-C stops an answer; /exit, Ctrl-D or Ctrl-C at the prompt leaves.",
                style="dim")


def _loop(runner: asyncio.Runner, output: Output, app: RagApp, name: str, steps: bool) -> None:
    from ragstream.errors import RagstreamError

    while True:
        try:
            question = _ask_line(output).strip()
        except (EOFError, KeyboardInterrupt):
            output.line()
            return
        if not question:
            continue
        if question in ("/exit", "/quit"):
            return
        if question == "/history":
            show_messages(output, runner.run(app.history.aget_messages(name)))
            continue
        if question.startswith("/"):
            output.line(_HELP, style="dim")
            continue
        view = TurnView(output, steps=steps, label=app.model_label)
        try:
            runner.run(_turn(app, view, question, name))
        except KeyboardInterrupt:
            view.interrupted()
            output.line("stopped; the partial answer is kept in the history, marked incomplete",
                        style="yellow")
        except RagstreamError as exc:  # say what failed and keep the session open
            view.interrupted()
            echo_error(describe(exc, model=app.settings.model)[0])
