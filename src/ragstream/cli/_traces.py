"""``ragstream traces``: the runs tracing recorded (``RAGSTREAM_TRACING=1``).

    ragstream traces                 the latest traces: time, name, status, latency, tokens
    ragstream traces show TRACE_ID   one trace as a tree of runs with their timings
    ragstream traces delete ...      delete traces by id, or those older than N days

A trace id may be shortened to any unique prefix (the listing shows eight
characters). The store is ``--db``, else ``RAGSTREAM_TRACES_DB``, else
``traces.db`` in the data directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ragstream.cli._base import NOT_FOUND, USAGE, common_options, echo_error, make_settings
from ragstream.cli._output import Output, display_source, dumps

if TYPE_CHECKING:
    from ragstream.tracing import RunRecord, TraceStore

__all__ = ["traces"]

_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
_STYLES = {"error": "red", "cancelled": "yellow", "running": "cyan"}


def _db_option(func: Any) -> Any:
    return click.option(
        "--db", "db", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="The trace store [env RAGSTREAM_TRACES_DB; default DATA_DIR/traces.db].",
    )(func)


@click.group(invoke_without_command=True)
@click.option("--limit", "-n", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many traces to list.")
@click.option("--name", default=None, metavar="NAME", help="Only traces whose root run is NAME.")
@_db_option
@_json_option
@common_options
@click.pass_context
def traces(ctx: click.Context, limit: int, name: str | None, db: Path | None,
           as_json: bool) -> None:
    """List the latest traces (record them with RAGSTREAM_TRACING=1); show one."""
    ctx.obj = {"db": db}
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_traces, limit=limit, name=name, db=db, as_json=as_json)


def _store(db: Path | None) -> TraceStore:
    import os

    from ragstream.tracing import TraceStore

    ctx = click.get_current_context()
    db = db or (ctx.find_object(dict) or {}).get("db")
    if db is None and os.environ.get("RAGSTREAM_TRACES_DB", "").strip().lower() not in (
        "", "off", "none", "0", "false"
    ):
        db = Path(os.environ["RAGSTREAM_TRACES_DB"])
    if db is None:
        db = make_settings().home / "traces.db"
    return TraceStore(db)


@traces.command("list")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many traces to list.")
@click.option("--name", default=None, metavar="NAME", help="Only traces whose root run is NAME.")
@_db_option
@_json_option
@common_options
def list_traces(limit: int, name: str | None, db: Path | None, as_json: bool) -> None:
    """List the latest traces, newest first."""
    store = _store(db)
    try:
        found = store.list_traces(limit, name)
    finally:
        store.close()
    if as_json:
        click.echo(dumps([t.to_dict() for t in found], indent=2))
        return
    output = Output()
    if not found:
        which = f" named {name!r}" if name else ""
        output.note(f"no traces{which} in {display_source(store.path)}; record some by running "
                    "with RAGSTREAM_TRACING=1")
        return
    output.table(
        ["started", "trace", "name", "status", "latency", "tokens", "runs"],
        [[t.start_time.astimezone().strftime("%Y-%m-%d %H:%M:%S"), t.trace_id[:8], t.name,
          t.status, _duration(t.latency_s), str(t.total_tokens) if t.total_tokens else "",
          str(t.runs)] for t in found],
        right=[4, 5, 6],
    )


@traces.command("show")
@click.argument("trace_id")
@_db_option
@_json_option
@common_options
def show_trace(trace_id: str, db: Path | None, as_json: bool) -> None:
    """Show trace TRACE_ID (or a unique prefix of it) as a tree of runs."""
    store = _store(db)
    try:
        matches = store.match(trace_id)
        if len(matches) > 1:
            echo_error(f"trace id prefix {trace_id!r} is ambiguous; give more characters")
            raise click.exceptions.Exit(USAGE)
        root = store.get_trace(matches[0]) if matches else None
    finally:
        store.close()
    if root is None:
        echo_error(f"no trace {trace_id!r} in {display_source(store.path)}; "
                   "list them with: ragstream traces")
        raise click.exceptions.Exit(NOT_FOUND)
    if as_json:
        click.echo(dumps(root.to_dict(), indent=2))
        return
    output = Output()
    tokens = sum((r.usage or {}).get("total_tokens", 0) for r in root.walk())
    output.line(
        f"trace {root.trace_id}  {root.start_time.astimezone():%Y-%m-%d %H:%M:%S}  "
        f"{root.status}  {_duration(root.latency_s)}"
        + (f"  {tokens} tokens" if tokens else ""),
        style="bold",
    )
    width = output.out.width if output.tty else 160
    for label, value in (("input", root.inputs), ("output", root.outputs)):
        if value is not None:
            output.line(_cut(f"{label}: {json.dumps(value, ensure_ascii=False)}", width),
                        style="dim")
    _tree(output, root, "", "")


@traces.command("delete")
@click.argument("trace_ids", nargs=-1, metavar="[TRACE_ID]...")
@click.option("--older-than", type=click.FloatRange(min=0), default=None, metavar="DAYS",
              help="Delete the traces started more than DAYS days ago.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@_db_option
@common_options
def delete_traces(trace_ids: tuple[str, ...], older_than: float | None, yes: bool,
                  db: Path | None) -> None:
    """Delete traces TRACE_ID... (unique prefixes), or those older than --older-than DAYS."""
    import sys

    if not trace_ids and older_than is None:
        raise click.UsageError("name the traces to delete, or give --older-than DAYS")
    store = _store(db)
    try:
        ids = []
        for given in trace_ids:
            matches = store.match(given)
            if len(matches) != 1:
                echo_error(f"trace id prefix {given!r} is ambiguous; give more characters"
                           if matches else f"no trace {given!r} in {display_source(store.path)}")
                raise click.exceptions.Exit(USAGE if matches else NOT_FOUND)
            ids.append(matches[0])
        what = (f"{len(ids)} trace{'s' if len(ids) != 1 else ''}" if ids else "")
        if older_than is not None:
            what += (" and " if what else "") + f"the traces older than {older_than:g} days"
        if not yes:
            if not sys.stdin.isatty():
                raise click.UsageError(f"add --yes to delete {what} without being asked")
            if not click.confirm(f"delete {what}?", default=False):
                raise click.exceptions.Exit(1)
        seconds = None if older_than is None else older_than * 86400
        deleted = store.delete_traces(older_than=seconds, trace_ids=ids)
    finally:
        store.close()
    Output().line(f"deleted {deleted} trace{'s' if deleted != 1 else ''}")


def _tree(output: Output, run: RunRecord, lead: str, rest: str) -> None:
    output.line(lead + _describe(run), style=_STYLES.get(run.status))
    if run.error_type and run.status != "ok":
        output.line(f"{rest}{'│  ' if run.children else '   '}{run.error_type}: "
                    f"{_cut(run.error_message or '', 200)}", style=_STYLES.get(run.status))
    for n, child in enumerate(run.children):
        last = n == len(run.children) - 1
        _tree(output, child, rest + ("└─ " if last else "├─ "), rest + ("   " if last else "│  "))


def _describe(run: RunRecord) -> str:
    parts = [f"{run.name} ({run.run_type})", run.status]
    if run.status != "running":
        parts.append(_duration(run.latency_s))
    if run.first_chunk_s is not None and run.run_type in ("chat_model", "llm"):
        parts.append(f"first token {_duration(run.first_chunk_s)}")
    if run.usage:
        parts.append(f"tokens {run.usage.get('input_tokens', 0)} in / "
                     f"{run.usage.get('output_tokens', 0)} out")
    if run.model:
        parts.append(run.model)
    return "  ".join(parts)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 0.01:
        return f"{seconds * 1000:.2f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(width - 1, 10)] + "…"
