"""``ragstream ingest``: sources into a collection, with progress and a summary.

On a terminal a progress bar (on stderr) counts the sources loaded and the
chunks embedded, with the rate and the time left; one line per source says
what happened to it. Ctrl-C stops the run: what was stored stays stored, and
the next run resumes by skipping it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ragstream.cli._base import (
    INTERRUPTED,
    SOURCES_FAILED,
    common_options,
    make_app,
    make_settings,
    store_options,
)
from ragstream.cli._output import Output, display_source, dumps

if TYPE_CHECKING:
    from rich.progress import Progress, Task, TaskID
    from rich.text import Text

    from ragstream.app import IngestReport

__all__ = ["ingest"]

_STYLES = {"added": "green", "updated": "yellow", "unchanged": "dim", "deleted": "magenta",
           "failed": "red"}


def _rate_column() -> Any:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Items per second, from rich's own moving estimate."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{speed:,.1f}/s", style="progress.data.speed")

    return RateColumn()


class IngestView:
    """Progress and per-source lines for one ingest run."""

    def __init__(self, output: Output, *, quiet: bool) -> None:
        self.output = output
        self.quiet = quiet
        self.progress: Progress | None = None
        self.load_task: TaskID | None = None
        self.embed_task: TaskID | None = None
        self.planned: dict[str, tuple[str, int]] = {}  # source: (status, chunks)
        self.printed: set[tuple[str, str]] = set()

    def start(self) -> None:
        if self.quiet or not self.output.err.is_terminal:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
            _rate_column(), TimeRemainingColumn(), console=self.output.err, transient=True,
        )
        self.load_task = self.progress.add_task("loading", total=None)
        self.embed_task = self.progress.add_task("embedding", total=0)
        self.progress.start()

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def update(self, step: dict[str, Any]) -> None:
        """The ``on_progress`` callback of ``RagApp.aingest``."""
        stage, source = step.get("stage"), step.get("source")
        if self.progress is not None:
            if stage == "load" and self.load_task is not None:
                self.progress.update(self.load_task, completed=step["done"], total=step["total"])
            elif stage == "embed" and self.embed_task is not None:
                self.progress.update(self.embed_task, completed=step["done"], total=step["total"])
        if source is None:
            return
        if step.get("error"):
            self.source_line(str(source), "failed", str(step["error"]))
        elif stage == "split":
            status, chunks = str(step["status"]), int(step.get("chunks") or 0)
            if status == "unchanged":
                self.source_line(str(source), status, _chunks(chunks))
            else:  # shown once its chunks are stored
                self.planned[str(source)] = (status, chunks)
        elif stage == "store" and source in self.planned:
            status, chunks = self.planned.pop(str(source))
            self.source_line(str(source), status, _chunks(chunks))

    def source_line(self, source: str, status: str, detail: str) -> None:
        if self.quiet or (source, status) in self.printed:
            return
        self.printed.add((source, status))
        text = f"{status:<9}  {display_source(source)}  ({detail})"
        if self.progress is not None:
            self.progress.console.print(text, style=_STYLES.get(status), markup=False,
                                        highlight=False, soft_wrap=True)
        else:
            self.output.line(text, style=_STYLES.get(status))


def _chunks(n: int) -> str:
    return f"{n} chunk{'' if n == 1 else 's'}"


def _summary(output: Output, report: IngestReport, location: str) -> None:
    counts = ", ".join(
        f"{report.count(status)} {status}"
        for status in ("added", "updated", "unchanged", "deleted", "failed")
        if report.count(status) or status in ("added", "unchanged")
    )
    embedded = report.chunks_embedded
    line = (
        f"collection {report.collection!r}: {counts} · {_chunks(embedded)} embedded"
        + (f" ({report.skipped} already stored)" if report.skipped else "")
        + (f", {report.deleted} deleted" if report.deleted else "")
        + f" · {report.seconds:.1f} s"
    )
    output.line(line, style="bold")
    output.line(f"stored in {display_source(location)}", style="dim")


@click.command()
@click.argument("sources", nargs=-1, metavar="SOURCE...")
@click.option("--sample", is_flag=True,
              help="Also ingest the sample documentation that ships with ragstream.")
@click.option("--css-class", "css_classes", multiple=True, metavar="CLASS",
              help="Keep only the parts of HTML pages with this CSS class (repeat for more).")
@click.option("--glob", default="**/*", show_default=True,
              help="Which files of a folder to read.")
@click.option("--chunk-size", type=int, default=None, metavar="N",
              help="Characters per chunk [env RAGSTREAM_CHUNK_SIZE; default 1000].")
@click.option("--chunk-overlap", type=int, default=None, metavar="N",
              help="Characters neighbouring chunks share [env RAGSTREAM_CHUNK_OVERLAP; "
                   "default 200].")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@store_options
@common_options
@click.pass_context
def ingest(ctx: click.Context, sources: tuple[str, ...], sample: bool,
           css_classes: tuple[str, ...], glob: str, chunk_size: int | None,
           chunk_overlap: int | None, as_json: bool, collection: str | None,
           embeddings: str | None, chroma_url: str | None) -> None:
    """Load documents (URLs, files, folders, glob patterns) into a collection.

    Incremental: unchanged sources are skipped, changed ones replaced. A
    source that fails is reported and the others are stored (exit status 3).

    \b
    ragstream ingest --sample
    ragstream ingest notes/ "papers/**/*.pdf" https://example.org/post.html
    ragstream ingest https://example.org/post.html --css-class post-content
    """
    if not sources and not sample:
        raise click.UsageError(
            "give at least one SOURCE (a URL, file, folder or glob pattern), or --sample"
        )
    from ragstream.app import sample_corpus_path

    wanted = list(sources) + ([str(sample_corpus_path())] if sample else [])
    settings = make_settings(collection=collection, embeddings=embeddings,
                             chroma_url=chroma_url, chunk_size=chunk_size,
                             chunk_overlap=chunk_overlap)
    app = make_app(settings)
    output = Output()
    view = IngestView(output, quiet=as_json)

    async def main() -> IngestReport:
        view.start()
        try:
            return await app.aingest(wanted, on_progress=view.update,
                                     css_classes=css_classes, glob=glob)
        finally:
            view.stop()
            await app.aclose()

    from ragstream.cli._base import run_one

    try:
        report = run_one(main)
    except KeyboardInterrupt:
        view.stop()
        output.note("interrupted: what was stored is kept; run the same command again to resume")
        ctx.exit(INTERRUPTED)
    if as_json:
        click.echo(dumps(report.to_dict(), indent=2))
    else:
        for item in report.sources:
            if item.status == "deleted":
                view.source_line(item.source, "deleted", "file no longer exists")
        _summary(output, report, app.store_location)
    if report.failures:
        failed = "; ".join(f"{display_source(f.source)}: {f.error}" for f in report.failures)
        n = len(report.failures)
        click.echo(f"error: {n} source{'' if n == 1 else 's'} failed: {failed}", err=True)
        ctx.exit(SOURCES_FAILED)
    if output.tty and not as_json:
        option = "" if settings.collection == "docs" else f" -c {settings.collection}"
        output.line(f'next: ragstream ask{option} "your question" --steps', style="dim")
