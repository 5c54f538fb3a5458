"""The ``ragstream`` command line."""

from __future__ import annotations

import sys

import click

from ragstream import __version__

__all__ = ["main"]


@click.group()
@click.version_option(__version__, prog_name="ragstream")
def main() -> None:
    """Retrieval-augmented generation whose results stream."""


@main.command()
@click.option("--delay", default=0.03, show_default=True, help="Seconds between tokens.")
def demo(delay: float) -> None:
    """Stream a scripted answer through a prompt | model | parser chain, with its events."""
    from ragstream.parsers import StrOutputParser
    from ragstream.prompts import ChatPromptTemplate
    from ragstream.testing import FakeChatModel

    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer in one sentence."), ("human", "{input}")]
    )
    model = FakeChatModel(
        "ragstream streams the answer token by token, and every step as events.", delay=delay
    )
    chain = prompt | model | StrOutputParser()
    question = "What does ragstream do?"
    click.echo(f"question: {question}")
    click.echo("answer:   ", nl=False)
    for token in chain.stream({"input": question}):
        click.echo(token, nl=False)
        sys.stdout.flush()
    click.echo()
    click.echo("events:")
    for event in chain.stream_events({"input": question}, exclude_types=["chat_model"]):
        if event["event"].endswith("_stream"):
            continue
        click.echo(f"  {event['event']:<18} {event['name']:<20} {event['tags']}")
