"""The ``ragstream`` command line.

    ragstream ingest SOURCE...     load, split, embed and store (incremental)
    ragstream ask "QUESTION"       one answer, streamed (--steps, --json, --events)
    ragstream chat                 a session with history (--session NAME resumes)
    ragstream sessions             list, show, delete chat sessions
    ragstream collections          list, show, delete collections
    ragstream traces               the runs tracing recorded (RAGSTREAM_TRACING=1); show one
    ragstream config               the effective configuration and where it came from
    ragstream serve                the HTTP server and chat page
    ragstream sample-path          the folder of the sample documentation

Exit codes: 0 success, 1 error, 2 usage error, 3 some sources failed to
ingest, 4 no such collection (or it is empty), session or trace, 130 interrupted.

Only click is imported to show ``--help``; each command imports what it needs.
"""

from __future__ import annotations

import click

from ragstream import __version__
from ragstream.cli._ask import ask
from ragstream.cli._base import MainGroup, common_options
from ragstream.cli._chat import chat
from ragstream.cli._ingest import ingest
from ragstream.cli._manage import collections, config, sample_path, serve, sessions
from ragstream.cli._traces import traces

__all__ = ["main"]


@click.group(cls=MainGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ragstream")
@common_options
def main() -> None:
    """Retrieval-augmented generation whose results stream.

    Works offline by default (local embeddings, the offline extractive
    model); name a real model with --model or RAGSTREAM_MODEL.

    \b
    ragstream ingest --sample
    ragstream ask "How do I use a real model?" --steps
    ragstream chat
    """


for command in (ingest, ask, chat, sessions, collections, traces, config, serve, sample_path):
    main.add_command(command)
