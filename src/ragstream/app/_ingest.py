"""One ingest run: sources resolved, loaded, indexed incrementally, reported.

``IngestRun(store, splitter=...).arun(sources)`` loads URLs, files, folders
and glob patterns with the loaders, indexes them with ``ragstream.indexing``
(unchanged sources skipped without embedding work, changed ones replaced),
removes the files of a given folder that no longer exist, and returns an
``IngestReport``. Progress goes to ``on_progress`` as plain dicts.
"""

from __future__ import annotations

import glob as globbing
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ragstream.documents import Document
from ragstream.errors import InputError, SourceError

if TYPE_CHECKING:
    from ragstream.indexing import IndexProgress, Splitter
    from ragstream.loaders import BaseLoader
    from ragstream.vectorstores import VectorStore

__all__ = ["IngestReport", "IngestRun", "ProgressCallback", "SourceReport", "SourceStatus"]

ProgressCallback = Callable[[dict[str, Any]], Any]
SourceStatus = Literal["added", "updated", "unchanged", "deleted", "failed"]
STATUSES: tuple[SourceStatus, ...] = ("added", "updated", "unchanged", "deleted", "failed")

_GLOB_CHARS = frozenset("*?[")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(slots=True)
class SourceReport:
    """What ingest did with one source: ``status`` and the chunks it has."""

    source: str
    status: SourceStatus
    chunks: int = 0
    error: str | None = None


@dataclass(slots=True)
class IngestReport:
    """What an ingest run did, by source and in chunks.

    Chunk counts: ``added`` (new, embedded and written), ``updated`` (rewritten
    because their metadata changed), ``skipped`` (already stored as they are)
    and ``deleted`` (gone from a changed or removed source).
    """

    collection: str
    sources: list[SourceReport] = field(default_factory=list)
    added: int = 0
    updated: int = 0
    skipped: int = 0
    deleted: int = 0
    seconds: float = 0.0

    def count(self, status: SourceStatus) -> int:
        """How many sources ended with ``status``."""
        return sum(1 for s in self.sources if s.status == status)

    @property
    def failures(self) -> list[SourceReport]:
        """The sources that could not be loaded."""
        return [s for s in self.sources if s.status == "failed"]

    @property
    def chunks_embedded(self) -> int:
        return self.added + self.updated

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, with counts of sources by status."""
        out = asdict(self)
        out["sources_by_status"] = {status: self.count(status) for status in STATUSES}
        return out


class IngestRun:
    """Ingest into one store. A run is used once."""

    def __init__(
        self,
        store: VectorStore,
        *,
        collection: str,
        splitter: Splitter,
        on_progress: ProgressCallback | None = None,
        url_guard: Callable[[str], None] | None = None,
        css_classes: Sequence[str] = (),
        glob: str = "**/*",
    ) -> None:
        self.store = store
        self.splitter = splitter
        self.on_progress = on_progress
        self.url_guard = url_guard
        self.css_classes = css_classes
        self.glob = glob
        self.report = IngestReport(collection)
        self.by_source: dict[str, SourceReport] = {}
        self.known: set[str] = set()  # sources indexed before this run
        self.listed: set[str] = set()  # the URLs and files to load: the load total
        self.total: int | None = None
        self.loaded = 0

    def emit(self, stage: str, done: int, total: int | None, source: Any = None,
             **extra: Any) -> None:
        if self.on_progress is not None:
            self.on_progress({"stage": stage, "done": done, "total": total, "source": source,
                              **extra})

    def fail(self, source: str, reason: str) -> None:
        self.by_source[source] = SourceReport(source, "failed", error=reason)
        self.emit("load", self.loaded, self.total, source, error=reason)

    async def arun(self, sources: Sequence[str]) -> IngestReport:
        from ragstream.indexing import adelete_sources, aindex
        from ragstream.loaders import FileLoader

        started = time.perf_counter()
        urls, files, folders, failed = resolve_sources(sources)
        loaders = self._loaders(urls, [*files, *folders])
        self.listed = set(urls)
        for loader in loaders:
            if isinstance(loader, FileLoader):
                self.listed.update(str(path) for path in await loader.afiles())
        self.total = len(self.listed)
        self.known = set(await self.store.record_store().asources())
        for source, reason in failed:
            self.fail(source, reason)

        result = await aindex(
            self._documents(loaders), self.store, splitter=self.splitter,
            on_progress=self._indexed,
        )
        report = self.report
        report.added, report.updated = result.added, result.updated
        report.skipped, report.deleted = result.skipped, result.deleted

        gone = [
            s for s in self.known
            if s not in self.by_source and any(_under(s, f) for f in folders)
            and not os.path.exists(s)
        ]
        if gone:
            removed = await adelete_sources(gone, self.store)
            report.deleted += removed.deleted
            for source in gone:
                self.by_source[source] = SourceReport(source, "deleted")
        report.sources = list(self.by_source.values())
        report.seconds = round(time.perf_counter() - started, 3)
        self.emit("done", len(report.sources), len(report.sources))
        return report

    def _loaders(self, urls: list[str], paths: list[str]) -> list[BaseLoader]:
        from ragstream.loaders import FileLoader, WebBaseLoader

        bs_kwargs = _bs_kwargs(self.css_classes)
        loaders: list[BaseLoader] = []
        if urls:
            loaders.append(WebBaseLoader(urls, bs_kwargs=bs_kwargs, url_guard=self.url_guard))
        if paths:
            loaders.append(FileLoader(paths, glob=self.glob, bs_kwargs=bs_kwargs))
        return loaders

    async def _documents(self, loaders: list[BaseLoader]) -> AsyncIterator[Document]:
        finished: set[Any] = set()
        for loader in loaders:
            last = None
            try:
                async for doc in loader.alazy_load():
                    source = doc.metadata.get("source")
                    if source in finished:  # named twice: a file, and its folder
                        continue
                    if source != last:
                        if last is not None:
                            finished.add(last)
                        last = source
                        self.loaded += 1
                        self.emit("load", self.loaded, self.total, source)
                    yield doc
            except SourceError as exc:  # LoadError carries each failed source
                for failure in getattr(exc, "failures", None) or [exc]:
                    if failure.source in self.listed:
                        self.loaded += 1  # it was counted in the total
                    self.fail(failure.source, failure.reason)
            if last is not None:
                finished.add(last)

    def _indexed(self, step: IndexProgress) -> None:
        source = step.source
        if step.event in ("source_unchanged", "source_split") and source is not None:
            status: SourceStatus = (
                "unchanged" if step.event == "source_unchanged"
                else "updated" if source in self.known else "added"
            )
            self.by_source[source] = SourceReport(source, status, step.chunks)
            self.emit("split", step.sources_done, step.sources_seen, source,
                      status=status, chunks=step.chunks)
        elif step.event == "embedded":
            self.emit("embed", step.chunks_embedded, step.chunks_to_embed)
        elif step.event == "source_done":
            self.emit("store", step.sources_done, step.sources_seen, source)


def resolve_sources(
    sources: Sequence[str],
) -> tuple[list[str], list[str], list[str], list[tuple[str, str]]]:
    """URLs, files, folders, and the sources that cannot be read, with why.

    Paths become absolute, so a source keeps its name whatever folder ingest
    runs from; a pattern with ``*``, ``?`` or ``[`` is expanded (``**`` crosses
    folders) unless a path of that name exists.
    """
    urls: list[str] = []
    files: list[str] = []
    folders: list[str] = []
    failed: list[tuple[str, str]] = []

    def add(items: list[str], value: str) -> None:
        if value not in items:
            items.append(value)

    for raw in sources:
        if not isinstance(raw, str) or not raw.strip():
            raise InputError(f"a source must be a non-empty str, not {raw!r}")
        source = raw.strip()
        if source.startswith(("http://", "https://")):
            add(urls, source)
            continue
        if _SCHEME.match(source):
            failed.append((source, "only http:// and https:// URLs can be ingested"))
            continue
        path = os.path.expanduser(source)
        if os.path.exists(path):
            absolute = os.path.abspath(path)
            add(folders if os.path.isdir(absolute) else files, absolute)
            continue
        if _GLOB_CHARS & set(source):
            found = [os.path.abspath(m) for m in sorted(globbing.glob(path, recursive=True))
                     if os.path.isfile(m)]
            if not found:
                failed.append((source, "no files match this pattern"))
            for match in found:
                add(files, match)
            continue
        failed.append((source, "no such file or directory"))
    return urls, files, folders, failed


def _under(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip(os.sep) + os.sep)


def _bs_kwargs(css_classes: Sequence[str]) -> dict[str, Any] | None:
    classes = tuple(c.strip() for c in css_classes if c.strip())
    if not classes:
        return None
    from bs4.filter import SoupStrainer

    return {"parse_only": SoupStrainer(class_=classes)}
