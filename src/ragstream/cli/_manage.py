"""The commands that look after things: collections, sessions, config,
sample-path and serve."""

from __future__ import annotations

import sys
from typing import Any

import click

from ragstream.cli._base import (
    NOT_FOUND,
    common_options,
    echo_error,
    make_app,
    make_settings,
    model_options,
    run_one,
    store_options,
)
from ragstream.cli._output import Output, display_source, dumps

__all__ = ["collections", "config", "sample_path", "serve", "sessions"]

_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _confirm(what: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.UsageError(f"add --yes to delete {what} without being asked")
    if not click.confirm(f"delete {what}?", default=False):
        raise click.exceptions.Exit(1)


# -- collections ---------------------------------------------------------------


@click.group(invoke_without_command=True)
@_json_option
@store_options
@common_options
@click.pass_context
def collections(ctx: click.Context, as_json: bool, collection: str | None,
                embeddings: str | None, chroma_url: str | None) -> None:
    """List the collections (chunks, sources, embeddings); show or delete one."""
    ctx.obj = {"collection": collection, "embeddings": embeddings, "chroma_url": chroma_url}
    if ctx.invoked_subcommand is not None:
        return
    ctx.invoke(list_collections, as_json=as_json)


def _collections_app(ctx: click.Context) -> Any:
    flags = dict(ctx.find_object(dict) or {})
    return make_app(make_settings(**flags))


@collections.command("list")
@_json_option
@common_options
@click.pass_context
def list_collections(ctx: click.Context, as_json: bool) -> None:
    """List the collections."""
    app = _collections_app(ctx)
    found = run_one(app.alist_collections)
    output = Output()
    if as_json:
        click.echo(dumps([c.to_dict() for c in found], indent=2))
        return
    if not found:
        output.note(f"no collections in {display_source(app.store_location)}; "
                    "create one with: ragstream ingest --sample")
        return
    output.table(
        ["collection", "chunks", "sources", "embeddings"],
        [[c.name, str(c.chunks), str(c.sources), c.embeddings or ""] for c in found],
        right=[1, 2],
    )


@collections.command("show")
@click.argument("name", required=False)
@_json_option
@common_options
@click.pass_context
def show_collection(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Statistics of collection NAME (default: the configured one) and its sources."""
    app = _collections_app(ctx)

    async def main() -> tuple[Any, list[str]]:
        info = await app.acollection(name)
        return info, await app.acollection_sources(info.name)

    info, sources = run_one(main)
    if as_json:
        click.echo(dumps({**info.to_dict(), "source_list": sources}, indent=2))
        return
    output = Output()
    output.line(f"collection {info.name!r}: {info.chunks} chunks from {info.sources} sources, "
                f"embeddings {info.embeddings or 'unknown'}", style="bold")
    output.line(f"stored in {display_source(app.store_location)}", style="dim")
    for source in sources:
        output.line(f"  {display_source(source)}")


@collections.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@common_options
@click.pass_context
def delete_collection(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete collection NAME with all its chunks."""
    app = _collections_app(ctx)
    info = run_one(lambda: app.acollection(name))
    _confirm(f"collection {name!r} ({info.chunks} chunks)", yes)
    run_one(lambda: app.adelete_collection(name))
    Output().line(f"deleted collection {name!r} ({info.chunks} chunks, {info.sources} sources)")


# -- sessions ------------------------------------------------------------------


@click.group(invoke_without_command=True)
@_json_option
@common_options
@click.pass_context
def sessions(ctx: click.Context, as_json: bool) -> None:
    """List the chat sessions; show or delete one."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_sessions, as_json=as_json)


def _with_history(work: Any) -> Any:
    app = make_app(make_settings())

    async def main() -> Any:
        try:
            return await work(app.history)
        finally:
            await app.aclose()

    return run_one(main)


@sessions.command("list")
@_json_option
@common_options
def list_sessions(as_json: bool) -> None:
    """List the chat sessions, the latest first."""
    found = _with_history(lambda history: history.alist_sessions())
    found = sorted(found, key=lambda s: s.updated_at, reverse=True)
    output = Output()
    if as_json:
        click.echo(dumps([s.to_dict() for s in found], indent=2))
        return
    if not found:
        output.note("no chat sessions yet; start one with: ragstream chat")
        return
    output.table(
        ["session", "messages", "updated", "first question"],
        [[s.id, str(s.message_count), s.updated_at.astimezone().strftime("%Y-%m-%d %H:%M"),
          s.title] for s in found],
        right=[1],
    )


def _missing_session(name: str) -> None:
    echo_error(f"no chat session {name!r}; list them with: ragstream sessions")
    raise click.exceptions.Exit(NOT_FOUND)


@sessions.command("show")
@click.argument("name")
@_json_option
@common_options
def show_session(name: str, as_json: bool) -> None:
    """Print the messages of session NAME."""
    from ragstream.cli._chat import show_messages

    messages = _with_history(lambda history: history.aget_messages(name))
    if not messages:
        _missing_session(name)
    if as_json:
        click.echo(dumps(messages, indent=2))
        return
    show_messages(Output(), messages)


@sessions.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@common_options
def delete_session(name: str, yes: bool) -> None:
    """Delete session NAME."""
    messages = _with_history(lambda history: history.aget_messages(name))
    if not messages:
        _missing_session(name)
    _confirm(f"session {name!r} ({len(messages)} messages)", yes)
    _with_history(lambda history: history.adelete_session(name))
    Output().line(f"deleted session {name!r} ({len(messages)} messages)")


# -- config, sample-path, serve --------------------------------------------------


@click.command()
@_json_option
@model_options
@store_options
@common_options
def config(as_json: bool, **flags: Any) -> None:
    """Show the effective configuration and where each value came from.

    Flags beat environment variables (RAGSTREAM_*), which beat the config
    file (DATA_DIR/config.toml, or --config / RAGSTREAM_CONFIG), which beats
    the defaults.
    """
    settings = make_settings(**flags)
    rows = settings.shown()
    if as_json:
        click.echo(dumps({name: {"value": value, "source": source}
                          for name, value, source in rows}, indent=2))
        return
    output = Output()
    output.table(["setting", "value", "from"], [list(row) for row in rows])
    if output.tty:
        config_file = settings.home / "config.toml"
        output.line(f"config file: {display_source(config_file)}"
                    + ("" if config_file.is_file() else " (none)"), style="dim")


@click.command("sample-path")
def sample_path() -> None:
    """Print the folder of the sample documentation shipped with ragstream."""
    from ragstream.app import sample_corpus_path

    click.echo(str(sample_corpus_path()))


@click.command()
@click.option("--host", default=None, help="Address to listen on [env RAGSTREAM_HOST; "
              "default 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [env RAGSTREAM_PORT; default 8000].")
@click.option("--api-key", default=None, help="Key clients must send as a bearer token "
              "[env RAGSTREAM_API_KEY].")
@click.option("--cors-origins", default=None, help="Origins allowed to call the API, "
              "comma-separated [env RAGSTREAM_CORS_ORIGINS].")
@click.option("--allow-private-urls", is_flag=True, default=None,
              help="Let POST /ingest fetch private and loopback addresses.")
@model_options
@store_options
@common_options
@click.pass_context
def serve(ctx: click.Context, /, **flags: Any) -> None:
    """Serve the collection over HTTP, with a chat page, until Ctrl-C."""
    settings = make_settings(**flags)
    ctx.meta["ragstream.model"] = settings.model
    from ragstream.server import run_server

    Output().note(f"ragstream serving collection {settings.collection!r} with "
                  f"{settings.model} at http://{settings.host}:{settings.port}/")
    run_server(settings)
