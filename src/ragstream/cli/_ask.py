"""``ragstream ask``: one question, the answer streamed as it arrives.

``TurnView`` shows a turn as it happens (``chat`` uses it too): with
``steps``, the rewritten question streams, then the sources as a compact
table, then the answer, then the sources it cited (``cited: [1] title``);
the footer names the model, and an extractive answer is always labelled as
the offline mode.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from ragstream.cli._base import (
    common_options,
    make_app,
    make_settings,
    model_options,
    run_one,
    store_options,
)
from ragstream.cli._output import Output, TokenWriter, cited_line, dumps, source_rows

if TYPE_CHECKING:
    from ragstream.app import RagApp, TurnEvent
    from ragstream.documents import Document

__all__ = ["TurnView", "ask"]

OFFLINE = "offline extractive mode"


class TurnView:
    """Renders the events of one turn, and keeps what it saw for ``result``."""

    def __init__(self, output: Output, *, steps: bool, label: str, quiet: bool = False) -> None:
        self.output = output
        self.steps = steps
        self.label = label
        self.quiet = quiet  # keep everything, show nothing (--json)
        self.offline = label == OFFLINE
        self.rewrite: list[str] = []
        self.query: str | None = None
        self.sources: list[Document] = []
        self.answer: list[str] = []
        self.cited: list[int] = []  # the sources cited, by number, in order of first use
        self.done: TurnEvent | None = None
        self.writer = TokenWriter(output)

    def show(self, event: TurnEvent) -> None:
        kind = event["type"]
        if kind == "rewrite":
            if not self.rewrite and self.steps and not self.quiet:
                self._label("rewritten question: ", "bold cyan")
            self.rewrite.append(event["text"])
            if self.steps and not self.quiet:
                self.writer.style = "cyan"
                self.writer.write(event["text"])
        elif kind == "query":
            self.query = event["text"]
            if self.steps and not self.quiet:
                if self.rewrite:
                    self.writer.end_line()
                else:
                    self.output.line(f"search: {self.query}", style="dim")
        elif kind == "sources":
            self.sources = list(event["documents"])
            if self.steps and not self.quiet:
                self._sources()
        elif kind == "token":
            if not self.answer and self.steps and not self.quiet:
                head = f"answer ({OFFLINE}):" if self.offline else "answer:"
                self.output.line(head, style="bold")
            self.answer.append(event["text"])
            if not self.quiet:
                self.writer.style = None
                self.writer.write(event["text"])
        elif kind == "citation":
            # the marker is on screen already; which sources were cited is told at the end
            if event["index"] not in self.cited:
                self.cited.append(event["index"])
        elif kind == "done":
            self.done = event
            if not self.quiet:
                self.writer.end_line()
                if self.steps and self.sources:
                    self._cited()
                self._footer()

    def _label(self, text: str, style: str) -> None:
        if self.output.tty:
            self.output.out.print(text, end="", style=style, markup=False)
            self.writer.column = len(text)
        else:
            sys.stdout.write(text)

    def _sources(self) -> None:
        if not self.sources:
            self.output.line("no sources found", style="yellow")
            return
        if not self.output.tty:
            self.output.line("sources:")
        self.output.table(
            ["#", "title", "source", "score"], source_rows(self.sources), right=[3],
            title="Sources" if self.output.tty else None,
            cut_left=[2],
        )

    def _cited(self) -> None:
        text = cited_line(self.sources, self.cited)
        if self.output.tty:  # wrapped at word boundaries, unlike one plain line
            self.output.out.print(text, style="cyan", markup=False)
        else:
            self.output.line(text)

    def _footer(self) -> None:
        if not self.answer:
            self.output.line("(no answer)", style="yellow")
        if self.output.tty:
            parts = [self.label, f"{len(self.sources)} sources"]
            timings = (self.done or {}).get("timings") or {}
            if "total_s" in timings:
                parts.append(f"{timings['total_s']:.2f} s")
            self.output.line(" · ".join(parts), style="dim")
            if self.steps:
                self.output.line()
        elif self.offline:
            self.output.line(f"({OFFLINE})")

    def interrupted(self) -> None:
        """End the partial answer's line after a Ctrl-C."""
        if not self.quiet:
            self.writer.end_line()

    def result(self, question: str, collection: str) -> dict[str, Any]:
        """The turn as one JSON-ready object (``ask --json``)."""
        done = self.done or {}
        return {
            "question": question,
            "query": self.query,
            "rewritten": "".join(self.rewrite) or None,
            "answer": "".join(self.answer),
            "incomplete": done.get("incomplete", True),
            "model": self.label,
            "offline": self.offline,
            "collection": collection,
            "sources": [
                {
                    "rank": n,
                    "title": doc.metadata.get("title"),
                    "source": doc.metadata.get("source"),
                    "score": doc.metadata.get("score"),
                    "content": doc.page_content,
                    "metadata": doc.metadata,
                    "cited": n in self.cited,
                }
                for n, doc in enumerate(self.sources, 1)
            ],
            "citations": list(self.cited),
            "usage": done.get("usage"),
            "timings": done.get("timings"),
        }


def _names(values: tuple[str, ...]) -> list[str] | None:
    """Repeated options, each possibly comma-separated; None when not given."""
    out = [v.strip() for value in values for v in value.split(",") if v.strip()]
    return out or None


def _filter_options(func: Any) -> Any:
    for what in ("names", "types", "tags"):
        for mode in ("include", "exclude"):
            func = click.option(
                f"--{mode}-{what}", multiple=True, metavar=what[:-1].upper(),
                help=f"With --events: {mode} events whose run {what[:-1]} is one of these "
                     "(repeat, or separate with commas).",
            )(func)
    return func


@click.command()
@click.argument("question")
@click.option("--steps", is_flag=True, help="Also show the rewritten question and the sources, "
              "live, and the sources the answer cited.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object at the end.")
@click.option("--events", is_flag=True, help="Print the raw event stream as JSON lines.")
@click.option("--events-version", type=click.Choice(["v1", "v2"]), default="v2",
              show_default=True, help="The event format, as in astream_events.")
@_filter_options
@click.option("--session", metavar="NAME", default=None,
              help="Ask within a chat session, and save the turn in it.")
@model_options
@store_options
@common_options
@click.pass_context
def ask(ctx: click.Context, /, question: str, steps: bool, as_json: bool, events: bool,
        events_version: str, session: str | None, model: str | None, k: int | None,
        collection: str | None, embeddings: str | None, chroma_url: str | None,
        **filters: tuple[str, ...]) -> None:
    """Answer QUESTION from a collection, streaming the answer as it arrives.

    QUESTION "-" reads the question from stdin.

    \b
    ragstream ask "What is ragstream?" --steps
    ragstream ask "Which models work?" --json | jq .answer
    ragstream ask "What is ragstream?" --events --include-types retriever,chat_model
    """
    if sum([steps, as_json, events]) > 1:
        raise click.UsageError("choose one of --steps, --json and --events")
    given = [name for name, value in filters.items() if value]
    if given and not events:
        raise click.UsageError(f"--{given[0].replace('_', '-')} filters --events; add --events")
    if question == "-":
        question = sys.stdin.read()
    if not question.strip():
        raise click.UsageError("the question is empty")
    settings = make_settings(model=model, k=k, collection=collection, embeddings=embeddings,
                             chroma_url=chroma_url)
    ctx.meta["ragstream.model"] = settings.model
    app = make_app(settings)
    output = Output()

    async def main() -> None:
        try:
            await app.acheck_collection()
            if events:
                await _events(app, question, session, events_version,
                              {k: _names(v) for k, v in filters.items()})
                return
            view = TurnView(output, steps=steps, label=app.model_label, quiet=as_json)
            try:
                async for event in app.astream_turn(question, session_id=session):
                    view.show(event)
            except BaseException:
                view.interrupted()
                raise
            if as_json:
                click.echo(dumps(view.result(question, settings.collection), indent=2))
        finally:
            await app.aclose()

    run_one(main)


async def _events(app: RagApp, question: str, session: str | None, version: str,
                  filters: dict[str, list[str] | None]) -> None:
    history = await app.history.aget_messages(session) if session else []
    stream = app.chain().astream_events(
        {"input": question, "chat_history": history},
        version="v1" if version == "v1" else "v2",
        include_names=filters["include_names"], include_types=filters["include_types"],
        include_tags=filters["include_tags"], exclude_names=filters["exclude_names"],
        exclude_types=filters["exclude_types"], exclude_tags=filters["exclude_tags"],
    )
    async for event in stream:
        sys.stdout.write(dumps(event) + "\n")
        sys.stdout.flush()

