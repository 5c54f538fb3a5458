"""Incremental indexing: embed only what changed, delete what went away.

``index(documents, vectorstore, splitter=...)`` takes loaded documents (a
list, an iterable, an async iterable, or a loader), groups them by source
(``metadata["source"]``), and for each source compares a hash of its
content with the record kept from the last run (see ``RecordStore``):

- an unchanged source is skipped: not split, not embedded, not written;
- a new or changed source is split; chunks already stored as they are keep
  their place, the others are embedded and written, and (with ``cleanup``)
  chunks the source no longer has are deleted;
- with ``cleanup="full"``, sources recorded before but absent from this run
  are deleted too (give the whole collection of documents, then).

Chunk ids are ``stable_id(chunk)``, a hash of the chunk's text and source, so
a chunk that did not change keeps its id across runs.

Loading, splitting, embedding and writing overlap: they run as four stages
joined by bounded queues, embedding in batches of ``batch_size`` chunks.
Store calls are made per batch, never per source: records are read for the
sources waiting to be split, and a write stores the chunks of every batch
ready by then, then the records of every source it finished, in one call
each. ``on_progress`` is called with an ``IndexProgress`` after every step,
with running counts a progress bar can show.

A run stopped at any point (an error, Ctrl-C, the process killed) leaves a
store the next run completes without duplicates or orphans: chunk ids are
stable, so writing a chunk again replaces it; a record is written only once
every chunk it vouches for is stored; and before the chunks of an already
recorded source change, its record is rewritten to name them as pending (an
empty hash, which matches nothing), so the next run re-checks that source
and deletes, or writes again, whatever a stop left half done. One case is
left to the user: a source indexed for the first time has no record until
its chunks are stored, so if a run stops half-way and that source is gone
before the next run, its stored chunks stay (delete them by filter on
``source``).

>>> from ragstream.indexing import index
>>> result = index(loader, vectorstore, splitter=splitter)  # doctest: +SKIP
>>> result  # doctest: +SKIP
IndexResult(added=120, updated=0, skipped=0, deleted=0, sources=3, sources_changed=3, ...)
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from ragstream.core._bridge import run_sync
from ragstream.documents import Document
from ragstream.errors import ConfigError, InputError, SourceError
from ragstream.vectorstores._base import VectorStore
from ragstream.vectorstores._ids import content_hash, stable_id
from ragstream.vectorstores._records import IndexRecord, RecordStore

__all__ = [
    "IndexProgress",
    "IndexRecord",
    "IndexResult",
    "RecordStore",
    "Splitter",
    "adelete_sources",
    "aindex",
    "delete_sources",
    "index",
]

Cleanup = Literal["incremental", "full"] | None

#: sources read from the loader ahead of splitting, and whose records are read at once
_GROUPS = 32
#: the chunk hash of a record entry not known to be stored (pending deletion)
_PENDING = ""


class Splitter(Protocol):
    """Anything that splits documents into chunks, like ``RecursiveCharacterTextSplitter``."""

    def split_documents(self, documents: list[Document]) -> list[Document]: ...


@dataclass(frozen=True, slots=True)
class IndexResult:
    """What an indexing run did, in chunks (and in sources)."""

    added: int = 0  #: chunks new to the store, embedded and written
    updated: int = 0  #: chunks whose text stayed but metadata changed, rewritten
    skipped: int = 0  #: chunks already stored as they are: no embedding, no write
    deleted: int = 0  #: chunks removed: gone from a changed source, or of a removed source
    sources: int = 0  #: sources seen in this run
    sources_changed: int = 0  #: new or changed sources (split and embedded)
    sources_deleted: int = 0  #: recorded sources removed (``cleanup="full"``, ``delete_sources``)


@dataclass(frozen=True, slots=True)
class IndexProgress:
    """One step of an indexing run, with the counts so far.

    ``event`` is ``"source_unchanged"``, ``"source_split"`` (``chunks`` is how
    many the source has), ``"embedded"`` (a batch was embedded),
    ``"source_done"`` (a source's chunks are all written), ``"source_deleted"``
    or ``"finished"``. A progress bar can show ``chunks_embedded`` out of
    ``chunks_to_embed``, or ``sources_done`` out of ``sources_seen``.
    """

    event: str
    source: str | None
    chunks: int
    sources_seen: int
    sources_done: int
    chunks_to_embed: int
    chunks_embedded: int
    result: IndexResult


@dataclass(eq=False)
class _Group:
    source: str | None
    docs: list[Document]
    record: IndexRecord | None = None
    digest: str = ""
    before: IndexRecord | None = None  # the old record, with what will change pending
    stale: list[str] = field(default_factory=list)
    pending: int = 0
    items: list[_Item] = field(default_factory=list)


@dataclass(eq=False)
class _Item:
    group: _Group
    id: str
    chunk: Document
    known: bool  # the id was stored before (its metadata changed)


class _Run:
    """Counters of one run and the progress callback."""

    def __init__(self, on_progress: Callable[[IndexProgress], Any] | None) -> None:
        self.on_progress = on_progress
        self.result = IndexResult()
        self.done = 0
        self.to_embed = 0
        self.embedded = 0

    def count(self, **deltas: int) -> None:
        self.result = replace(
            self.result, **{k: getattr(self.result, k) + v for k, v in deltas.items()}
        )

    def emit(self, event: str, source: str | None = None, chunks: int = 0) -> None:
        if self.on_progress is not None:
            self.on_progress(
                IndexProgress(
                    event, source, chunks, self.result.sources, self.done, self.to_embed,
                    self.embedded,
                    self.result,
                )
            )


def _pending(record: IndexRecord, changing: Iterable[str]) -> IndexRecord:
    """``record`` with the chunks about to be written or deleted pending: its hash and
    theirs match nothing, so a run stopped half-way is re-checked by the next one."""
    chunks = {**record.chunks, **dict.fromkeys(changing, _PENDING)}
    return IndexRecord(record.source, _PENDING, chunks)


def _source_hash(docs: list[Document]) -> str:
    digest = hashlib.sha256()
    for doc in docs:
        digest.update(content_hash(doc).encode())
    return digest.hexdigest()[:32]


async def _documents(source: Any) -> AsyncIterator[Document]:
    if hasattr(source, "alazy_load"):
        source = source.alazy_load()
    if isinstance(source, AsyncIterable):
        async for doc in source:
            yield doc
    elif isinstance(source, list | tuple):
        for doc in source:
            yield doc
    elif isinstance(source, Iterable):
        # a sync iterator may block (a lazy loader): step it off the event loop
        iterator = iter(source)
        end = object()
        while (doc := await asyncio.to_thread(next, iterator, end)) is not end:
            yield doc
    else:
        raise InputError(
            f"index takes documents (a list, an iterable or a loader), not {type(source).__name__}"
        )


async def _run_all(*coros: Coroutine[Any, Any, None]) -> None:
    """Run the stages together; the first failure cancels the others and is raised."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _check(vectorstore: Any, splitter: Any, cleanup: Any, batch_size: Any) -> None:
    if not isinstance(vectorstore, VectorStore):
        raise ConfigError(f"index needs a VectorStore, not {type(vectorstore).__name__}")
    if splitter is not None and not callable(getattr(splitter, "split_documents", None)):
        raise ConfigError(f"splitter {type(splitter).__name__} has no split_documents method")
    if cleanup not in (None, "incremental", "full"):
        raise ConfigError(f"cleanup must be 'incremental', 'full' or None, got {cleanup!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive int, got {batch_size!r}")


async def aindex(
    documents: Any,
    vectorstore: VectorStore,
    *,
    splitter: Splitter | None = None,
    source_key: str = "source",
    cleanup: Cleanup = "incremental",
    batch_size: int = 64,
    record_store: RecordStore | None = None,
    on_progress: Callable[[IndexProgress], Any] | None = None,
    force: bool = False,
) -> IndexResult:
    """Index documents into ``vectorstore``, doing only the work that changed.

    ``documents`` is a list or (async) iterable of ``Document``, or a loader
    (anything with ``alazy_load``). Documents of one source must come
    together (a list is grouped for you). With ``cleanup`` set every document
    needs ``metadata[source_key]``. Records live in ``record_store``, by
    default the store's own (``vectorstore.record_store()``).

    ``force=True`` embeds and writes every chunk again, whatever the records
    say: after a change of embeddings model, or if chunks were deleted from
    the store behind indexing's back.

    If a loader raises ``SourceError`` (some sources failed to load), the
    sources that did load are still indexed, ``cleanup="full"`` deletes
    nothing, and the error is raised at the end.
    """
    _check(vectorstore, splitter, cleanup, batch_size)
    records = record_store if record_store is not None else vectorstore.record_store()
    run = _Run(on_progress)
    groups: asyncio.Queue[_Group | None] = asyncio.Queue(maxsize=_GROUPS)
    items: asyncio.Queue[_Item | None] = asyncio.Queue(maxsize=2 * batch_size)
    batches: asyncio.Queue[tuple[list[_Item], list[list[float]]] | None] = asyncio.Queue(4)
    seen: set[str] = set()
    load_errors: list[SourceError] = []

    if isinstance(documents, list | tuple):  # a list can be grouped up front
        by_source: dict[Any, list[Document]] = {}
        for doc in documents:
            key = doc.metadata.get(source_key) if isinstance(doc, Document) else None
            by_source.setdefault(key, []).append(doc)
        documents = [doc for docs in by_source.values() for doc in docs]

    async def load() -> None:
        group: _Group | None = None
        n = 0
        try:
            async for doc in _documents(documents):
                if not isinstance(doc, Document):
                    raise InputError(f"document {n} is a {type(doc).__name__}, not a Document")
                n += 1
                raw = doc.metadata.get(source_key)
                if raw is None and cleanup is not None:
                    raise InputError(
                        f"document {n - 1} ({doc.page_content[:40]!r}) has no "
                        f"metadata[{source_key!r}]; index it with cleanup=None, or give it one"
                    )
                source = None if raw is None else str(raw)
                if group is not None and group.source == source:
                    group.docs.append(doc)
                    continue
                if group is not None:
                    await groups.put(group)
                if source is not None and source in seen:
                    raise InputError(
                        f"the documents of source {source!r} are not together; "
                        "give each source's documents one after another"
                    )
                if source is not None:
                    seen.add(source)
                run.count(sources=1)
                group = _Group(source, [doc])
        except SourceError as exc:  # failed sources: index what did load, then raise
            load_errors.append(exc)
        if group is not None:
            await groups.put(group)
        await groups.put(None)

    async def commit(done: list[_Group]) -> None:
        """Finished sources: their stale chunks deleted, then their records written."""
        if not done:
            return
        stale = [doc_id for group in done for doc_id in group.stale]
        if stale:
            await vectorstore.adelete(stale)
            run.count(deleted=len(stale))
        recorded = [g.record for g in done if g.record is not None]
        if recorded:
            await records.aput(recorded)
        for group in done:
            run.done += 1
            run.emit("source_done", group.source)

    def plan(group: _Group, old: IndexRecord | None, chunks: list[Document] | None) -> bool:
        """Decide what to write for a group; False if it has nothing to write."""
        if chunks is None:  # unchanged
            assert old is not None
            run.count(skipped=len(old.chunks))
            run.done += 1
            run.emit("source_unchanged", group.source, len(old.chunks))
            return False
        new: dict[str, tuple[Document, str]] = {}
        for chunk in chunks:
            new[stable_id(chunk, source_key=source_key)] = (chunk, content_hash(chunk))
        before = old.chunks if old is not None else {}
        todo = [(i, c, i in before) for i, (c, h) in new.items() if force or before.get(i) != h]
        run.count(skipped=len(new) - len(todo), sources_changed=1)
        kept = {i: h for i, (_, h) in new.items()}
        if cleanup is None:
            kept = {**before, **kept}
        else:
            group.stale = [i for i in before if i not in new]
        if group.source is not None:
            group.record = IndexRecord(group.source, group.digest, kept)
            if old is not None and (todo or group.stale):
                group.before = _pending(old, [i for i, _, _ in todo] + group.stale)
        group.pending = len(todo)
        group.items = [_Item(group, doc_id, chunk, known) for doc_id, chunk, known in todo]
        run.to_embed += len(todo)
        run.emit("source_split", group.source, len(new))
        return bool(todo)

    def changed(group: _Group, old: IndexRecord | None) -> bool:
        group.digest = _source_hash(group.docs)
        return force or old is None or old.content_hash != group.digest

    def split_all(todo: list[_Group]) -> list[list[Document]]:
        if splitter is None:
            return [group.docs for group in todo]
        return [splitter.split_documents(list(group.docs)) for group in todo]

    async def split() -> None:
        finished = False
        while not finished:
            batch = [await groups.get()]
            while batch[-1] is not None and not groups.empty() and len(batch) < _GROUPS:
                batch.append(groups.get_nowait())
            finished = batch[-1] is None
            todo = [g for g in batch if g is not None]
            sources = [g.source for g in todo if g.source is not None]
            old = await records.aget(sources) if sources else {}
            olds = [old.get(g.source) if g.source is not None else None for g in todo]
            flags = [changed(g, o) for g, o in zip(todo, olds, strict=True)]
            to_split = [g for g, flag in zip(todo, flags, strict=True) if flag]
            # one hop to a thread for the whole batch, not one per source
            split_docs = iter(await asyncio.to_thread(split_all, to_split) if to_split else [])
            nothing_to_write: list[_Group] = []
            planned: list[_Group] = []
            for group, o, flag in zip(todo, olds, flags, strict=True):
                writes = plan(group, o, next(split_docs) if flag else None)
                if writes:
                    planned.append(group)
                elif flag:
                    nothing_to_write.append(group)
            # what a recorded source is about to change is named pending first
            pending = [g.before for g in todo if g.before is not None]
            if pending:
                await records.aput(pending)
            await commit(nothing_to_write)
            for group in planned:
                for item in group.items:
                    await items.put(item)
                group.items = []
        await items.put(None)

    async def embed() -> None:
        finished = False
        while not finished:
            batch: list[_Item] = []
            item = await items.get()
            while item is not None:
                batch.append(item)
                if len(batch) >= batch_size or items.empty():
                    break
                item = items.get_nowait()
            finished = item is None
            if batch:
                texts = [i.chunk.page_content for i in batch]
                vectors = await vectorstore.embeddings.aembed_documents(texts)
                run.embedded += len(batch)
                run.emit("embedded", None, len(batch))
                await batches.put((batch, [list(v) for v in vectors]))
        await batches.put(None)

    async def write() -> None:
        finished = False
        while not finished:
            # every batch embedded while the last write ran goes in this one
            got = [await batches.get()]
            while got[-1] is not None and not batches.empty():
                got.append(batches.get_nowait())
            finished = got[-1] is None
            batch = [item for b in got if b is not None for item in b[0]]
            if not batch:
                continue
            vectors = [vector for b in got if b is not None for vector in b[1]]
            unique = {item.id: (item, vector) for item, vector in zip(batch, vectors, strict=True)}
            await vectorstore._aupsert(
                list(unique),
                [Document(i.chunk.page_content, dict(i.chunk.metadata), id=i.id)
                 for i, _ in unique.values()],
                [v for _, v in unique.values()],
            )
            known = sum(1 for i in batch if i.known)
            run.count(added=len(batch) - known, updated=known)
            done: list[_Group] = []
            for item in batch:
                item.group.pending -= 1
                if item.group.pending == 0:
                    done.append(item.group)
            await commit(done)

    await _run_all(load(), split(), embed(), write())

    if load_errors:
        run.emit("finished")
        error = load_errors[0]
        error.add_note(f"the sources that loaded were indexed: {run.result}")
        raise error
    if cleanup == "full":
        gone = [s for s in await records.asources() if s not in seen]
        if gone:
            await _delete_recorded(gone, vectorstore, records, run)
    run.emit("finished")
    return run.result


async def _delete_recorded(
    sources: list[str], vectorstore: VectorStore, records: RecordStore, run: _Run
) -> None:
    found = list((await records.aget(sources)).values())
    if not found:
        return
    # chunks first, their records last; a stop in between leaves pending records
    # that name the chunks, so the next run deletes them (or writes them again)
    await records.aput([_pending(r, r.chunks) for r in found])
    chunks = [doc_id for record in found for doc_id in record.chunks]
    if chunks:
        await vectorstore.adelete(chunks)
    await records.adelete([record.source for record in found])
    for record in found:
        run.count(deleted=len(record.chunks), sources_deleted=1)
        run.emit("source_deleted", record.source, len(record.chunks))


async def adelete_sources(
    sources: Iterable[str],
    vectorstore: VectorStore,
    *,
    record_store: RecordStore | None = None,
    on_progress: Callable[[IndexProgress], Any] | None = None,
) -> IndexResult:
    """Delete the chunks that indexing wrote for these sources, and their records.

    Sources indexing never recorded are ignored.
    """
    if isinstance(sources, str):
        sources = [sources]
    _check(vectorstore, None, None, 1)
    records = record_store if record_store is not None else vectorstore.record_store()
    run = _Run(on_progress)
    await _delete_recorded([str(s) for s in sources], vectorstore, records, run)
    run.emit("finished")
    return run.result


def index(
    documents: Any,
    vectorstore: VectorStore,
    *,
    splitter: Splitter | None = None,
    source_key: str = "source",
    cleanup: Cleanup = "incremental",
    batch_size: int = 64,
    record_store: RecordStore | None = None,
    on_progress: Callable[[IndexProgress], Any] | None = None,
    force: bool = False,
) -> IndexResult:
    """The sync twin of ``aindex``.

    >>> from ragstream.indexing import index
    >>> from ragstream.splitters import RecursiveCharacterTextSplitter
    >>> splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    >>> index(docs, vectorstore, splitter=splitter)  # doctest: +SKIP
    IndexResult(added=66, updated=0, skipped=0, deleted=0, sources=1, sources_changed=1, ...)
    """
    return run_sync(
        lambda: aindex(
            documents, vectorstore, splitter=splitter, source_key=source_key, cleanup=cleanup,
            batch_size=batch_size, record_store=record_store, on_progress=on_progress,
            force=force,
        )
    )


def delete_sources(
    sources: Iterable[str],
    vectorstore: VectorStore,
    *,
    record_store: RecordStore | None = None,
    on_progress: Callable[[IndexProgress], Any] | None = None,
) -> IndexResult:
    """The sync twin of ``adelete_sources``."""
    return run_sync(
        lambda: adelete_sources(
            sources, vectorstore, record_store=record_store, on_progress=on_progress
        )
    )
