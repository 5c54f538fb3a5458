"""Incremental indexing: unchanged sources cost nothing, changes replace old chunks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from ragstream.documents import Document
from ragstream.errors import ConfigError, InputError, SourceError
from ragstream.indexing import (
    IndexProgress,
    IndexRecord,
    IndexResult,
    aindex,
    delete_sources,
    index,
)
from ragstream.testing import FakeEmbeddings
from ragstream.vectorstores import Chroma, InMemoryVectorStore, VectorStore
from ragstream.vectorstores._ids import content_hash, stable_id
from ragstream.vectorstores._records import InMemoryRecordStore
from tests._chroma_server import chroma_server, unique_collection

__all__ = ["chroma_server"]  # the shared server fixture, for the Chroma test


class CountingEmbeddings(FakeEmbeddings):
    """FakeEmbeddings that count the texts they embed and the calls made."""

    def __init__(self) -> None:
        super().__init__(size=32)
        self.texts: list[str] = []
        self.calls: list[int] = []

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        self.texts.extend(texts)
        self.calls.append(len(texts))
        return await super().aembed_documents(texts)


class ParagraphSplitter:
    """A chunk per paragraph, numbered, like a real splitter's ``start_index``."""

    def split_documents(self, documents: list[Document]) -> list[Document]:
        out = []
        for doc in documents:
            for n, part in enumerate(doc.page_content.split("\n\n")):
                out.append(Document(part, {**doc.metadata, "chunk": n}))
        return out


def corpus() -> dict[str, str]:
    return {
        "a.md": "alpha one\n\nalpha two\n\nalpha three",
        "b.md": "beta one\n\nbeta two",
        "c.md": "gamma one",
    }


def docs_of(texts: dict[str, str]) -> list[Document]:
    return [Document(text, {"source": source}) for source, text in texts.items()]


@pytest.fixture
def emb() -> CountingEmbeddings:
    return CountingEmbeddings()


@pytest.fixture
def store(emb: CountingEmbeddings) -> InMemoryVectorStore:
    return InMemoryVectorStore(emb)


def run(docs: Any, store: VectorStore, **kwargs: Any) -> IndexResult:
    return index(docs, store, splitter=ParagraphSplitter(), **kwargs)


def test_a_first_run_embeds_and_records_everything(
    store: InMemoryVectorStore, emb: CountingEmbeddings
) -> None:
    result = run(docs_of(corpus()), store)
    assert result == IndexResult(added=6, sources=3, sources_changed=3)
    assert store.count() == 6 and len(emb.texts) == 6
    records = store.record_store().records
    assert sorted(records) == ["a.md", "b.md", "c.md"]
    chunk = Document("alpha two", {"source": "a.md", "chunk": 1})
    assert stable_id(chunk) in records["a.md"].chunks
    assert store.get_by_ids([stable_id(chunk)])[0].metadata == {"source": "a.md", "chunk": 1}


def test_re_indexing_unchanged_sources_does_no_embedding_work(
    store: InMemoryVectorStore, emb: CountingEmbeddings
) -> None:
    run(docs_of(corpus()), store)
    emb.texts.clear()
    result = run(docs_of(corpus()), store)
    assert emb.texts == []
    assert result == IndexResult(skipped=6, sources=3)
    assert store.count() == 6


def test_a_changed_source_replaces_only_what_changed(
    store: InMemoryVectorStore, emb: CountingEmbeddings
) -> None:
    run(docs_of(corpus()), store)
    emb.texts.clear()
    texts = corpus()
    texts["a.md"] = "alpha one\n\nalpha TWO changed\n\nalpha three"
    result = run(docs_of(texts), store)
    assert emb.texts == ["alpha TWO changed"]
    assert result == IndexResult(
        added=1, skipped=2 + 2 + 1, deleted=1, sources=3, sources_changed=1
    )
    assert store.count() == 6
    found = [d.page_content for d in store.similarity_search("alpha two", k=6)]
    assert "alpha two" not in found and "alpha TWO changed" in found


def test_a_chunk_whose_metadata_changed_is_updated(
    store: InMemoryVectorStore, emb: CountingEmbeddings
) -> None:
    run(docs_of(corpus()), store)
    emb.texts.clear()
    texts = corpus()
    texts["b.md"] = "beta zero\n\nbeta one\n\nbeta two"  # shifts the chunk numbers
    result = run(docs_of(texts), store)
    assert sorted(emb.texts) == ["beta one", "beta two", "beta zero"]
    assert (result.added, result.updated, result.deleted) == (1, 2, 0)
    [doc] = store.get_by_ids([stable_id(Document("beta two", {"source": "b.md"}))])
    assert doc.metadata["chunk"] == 2


def test_force_embeds_everything_again(store: InMemoryVectorStore, emb: CountingEmbeddings) -> None:
    run(docs_of(corpus()), store)
    store.delete(filter={"source": "a.md"})  # behind indexing's back
    emb.texts.clear()
    assert run(docs_of(corpus()), store).skipped == 6  # the records trust the store
    result = run(docs_of(corpus()), store, force=True)
    assert (result.added, result.updated, result.skipped) == (0, 6, 0)
    assert len(emb.texts) == 6 and store.count() == 6


def test_removed_sources_are_deleted_by_full_cleanup_only(store: InMemoryVectorStore) -> None:
    run(docs_of(corpus()), store)
    texts = corpus()
    del texts["a.md"]
    incremental = run(docs_of(texts), store)
    assert incremental.deleted == 0 and store.count() == 6
    full = run(docs_of(texts), store, cleanup="full")
    assert (full.deleted, full.sources_deleted, full.skipped) == (3, 1, 3)
    assert store.count() == 3
    assert "a.md" not in store.record_store().records
    assert not store.similarity_search("alpha", k=6, filter={"source": "a.md"})


def test_delete_sources(store: InMemoryVectorStore) -> None:
    run(docs_of(corpus()), store)
    result = delete_sources(["b.md", "never-indexed.md"], store)
    assert (result.deleted, result.sources_deleted) == (2, 1)
    assert store.count() == 4
    assert sorted(store.record_store().records) == ["a.md", "c.md"]
    assert delete_sources("c.md", store).deleted == 1


def test_without_cleanup_old_chunks_stay_until_a_cleanup_run(
    store: InMemoryVectorStore, emb: CountingEmbeddings
) -> None:
    run(docs_of(corpus()), store)
    texts = corpus()
    texts["c.md"] = "gamma replaced"
    kept = run(docs_of(texts), store, cleanup=None)
    assert (kept.added, kept.deleted) == (1, 0)
    assert store.count() == 7
    emb.texts.clear()
    texts["c.md"] = "gamma replaced\n\ngamma more"
    cleaned = run(docs_of(texts), store)
    assert emb.texts == ["gamma more"]
    assert (cleaned.added, cleaned.skipped, cleaned.deleted) == (1, 5 + 1, 1)
    assert store.count() == 7


def test_documents_without_a_source(store: InMemoryVectorStore) -> None:
    loose = [Document("no source here"), Document("nor here")]
    with pytest.raises(
        InputError, match=r"document 0 \('no source here'\) has no metadata\['source'\]"
    ):
        index(loose, store)
    assert index(loose, store, cleanup=None).added == 2
    assert index(loose, store, cleanup=None).added == 2  # not tracked, but ids are stable
    assert store.count() == 2


def test_a_custom_source_key(store: InMemoryVectorStore, emb: CountingEmbeddings) -> None:
    docs = [Document("x one\n\nx two", {"path": "x.txt"})]
    assert run(docs, store, source_key="path").added == 2
    emb.texts.clear()
    assert run(docs, store, source_key="path").skipped == 2
    assert emb.texts == []


def test_sources_must_come_together_in_a_stream(store: InMemoryVectorStore) -> None:
    mixed = [
        Document("1", {"source": "a"}),
        Document("2", {"source": "b"}),
        Document("3", {"source": "a"}),
    ]
    with pytest.raises(InputError, match="source 'a' are not together"):
        index(iter(mixed), store)
    # a list is grouped first
    assert index(mixed, store).sources == 2
    assert store.record_store().records["a"].chunks.keys() == {
        stable_id(mixed[0]),
        stable_id(mixed[2]),
    }


def test_inputs_can_be_iterables_async_iterables_and_loaders(store: InMemoryVectorStore) -> None:
    docs = docs_of(corpus())

    def generator() -> Iterator[Document]:
        yield from docs

    async def agenerator() -> AsyncIterator[Document]:
        for doc in docs:
            await asyncio.sleep(0)
            yield doc

    class Loader:
        def alazy_load(self) -> AsyncIterator[Document]:
            return agenerator()

    assert run(generator(), store).added == 6
    assert run(agenerator(), store).skipped == 6
    assert run(Loader(), store).skipped == 6
    with pytest.raises(InputError, match="not int"):
        run(42, store)
    with pytest.raises(InputError, match="document 1 is a str"):
        run([docs[0], "text"], store)


def test_bad_arguments_are_named(store: InMemoryVectorStore) -> None:
    with pytest.raises(ConfigError, match="cleanup must be"):
        index([], store, cleanup="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="batch_size must be a positive int"):
        index([], store, batch_size=0)
    with pytest.raises(ConfigError, match="has no split_documents"):
        index([], store, splitter=object())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs a VectorStore, not dict"):
        index([], {})  # type: ignore[arg-type]
    assert index([], store) == IndexResult()


def test_embeddings_are_batched(store: InMemoryVectorStore, emb: CountingEmbeddings) -> None:
    texts = {f"s{i}.md": "\n\n".join(f"part {i} {j}" for j in range(5)) for i in range(6)}
    result = run(docs_of(texts), store, batch_size=4)
    assert result.added == 30
    assert max(emb.calls) <= 4 and sum(emb.calls) == 30


def test_progress_reports_every_step_with_running_counts(store: InMemoryVectorStore) -> None:
    events: list[IndexProgress] = []
    result = run(docs_of(corpus()), store, on_progress=events.append, batch_size=2)
    kinds = [e.event for e in events]
    assert kinds.count("source_split") == 3 and kinds.count("source_done") == 3
    assert kinds.count("embedded") >= 3 and kinds[-1] == "finished"
    last = events[-1]
    assert last.result == result
    assert (last.sources_seen, last.sources_done) == (3, 3)
    assert last.chunks_embedded == last.chunks_to_embed == 6
    splits = {e.source: e.chunks for e in events if e.event == "source_split"}
    assert splits == {"a.md": 3, "b.md": 2, "c.md": 1}
    embedded = [e.chunks_embedded for e in events if e.event == "embedded"]
    assert embedded == sorted(embedded)

    again: list[IndexProgress] = []
    run(docs_of(corpus()), store, on_progress=again.append)
    assert [e.event for e in again] == ["source_unchanged"] * 3 + ["finished"]


def test_loading_splitting_and_embedding_overlap(store: InMemoryVectorStore) -> None:
    """The loader holds back its third source until the first one is embedded."""

    async def main() -> IndexResult:
        first_embedded = asyncio.Event()

        def progress(event: IndexProgress) -> None:
            if event.event == "embedded":
                first_embedded.set()

        async def slow_loader() -> AsyncIterator[Document]:
            docs = docs_of(corpus())
            yield docs[0]
            yield docs[1]  # the first source is complete once the second begins
            await asyncio.wait_for(first_embedded.wait(), timeout=10)
            yield docs[2]

        return await aindex(
            slow_loader(), store, splitter=ParagraphSplitter(), on_progress=progress
        )

    assert asyncio.run(main()).added == 6


def test_a_loader_failure_keeps_what_loaded_and_skips_full_cleanup(
    store: InMemoryVectorStore,
) -> None:
    run(docs_of(corpus()), store)

    async def failing() -> AsyncIterator[Document]:
        yield Document("beta one\n\nbeta two\n\nbeta three", {"source": "b.md"})
        raise SourceError("a.md", "could not be read")

    events: list[IndexProgress] = []
    with pytest.raises(SourceError, match=r"a\.md: could not be read") as caught:
        index(
            failing(),
            store,
            splitter=ParagraphSplitter(),
            cleanup="full",
            on_progress=events.append,
        )
    assert "the sources that loaded were indexed" in caught.value.__notes__[0]
    assert events[-1].event == "finished" and events[-1].result.added == 1
    assert store.count() == 7  # a.md and c.md were not deleted
    assert len(store.record_store().records["b.md"].chunks) == 3


def test_an_embedding_failure_leaves_no_record_so_the_next_run_retries(
    store: InMemoryVectorStore, emb: CountingEmbeddings
) -> None:
    class Broken(CountingEmbeddings):
        async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
            raise RuntimeError("embedding server down")

    broken = InMemoryVectorStore(Broken())
    with pytest.raises(RuntimeError, match="embedding server down"):
        run(docs_of(corpus()), broken)
    assert broken.record_store().records == {}
    broken._embedding = emb
    assert run(docs_of(corpus()), broken).added == 6


@pytest.mark.parametrize("where", ["persistent", "server"])
def test_records_live_with_a_chroma_collection(
    where: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A new store object (another process, another replica) sees what was indexed."""
    pytest.importorskip("chromadb")
    name = f"indexing-{where}-{tmp_path.name[-8:]}".replace("_", "-")
    if where == "persistent":

        def make(emb: CountingEmbeddings) -> Chroma:
            return Chroma(name, embedding_function=emb, persist_directory=tmp_path / "db")
    else:
        url = request.getfixturevalue("chroma_server")
        name = unique_collection("indexing")

        def make(emb: CountingEmbeddings) -> Chroma:
            return Chroma(name, embedding_function=emb, url=url)

    first = CountingEmbeddings()
    assert run(docs_of(corpus()), make(first)).added == 6
    second = CountingEmbeddings()
    texts = corpus()
    texts["c.md"] = "gamma two"
    del texts["b.md"]
    store = make(second)
    result = run(docs_of(texts), store, cleanup="full")
    assert second.texts == ["gamma two"]
    assert (result.added, result.skipped, result.deleted, result.sources_deleted) == (1, 3, 3, 1)
    assert store.count() == 4
    assert sorted(asyncio.run(store.record_store().asources())) == ["a.md", "c.md"]


# -- store calls per batch, and a stop at any step --------------------------------


class CountingRecords(InMemoryRecordStore):
    """Records in memory that count the calls made to read and write them."""

    def __init__(self) -> None:
        super().__init__()
        self.gets: list[int] = []
        self.puts: list[int] = []

    async def aget(self, sources: Sequence[str]) -> dict[str, IndexRecord]:
        self.gets.append(len(sources))
        return await super().aget(sources)

    async def aput(self, records: Sequence[IndexRecord]) -> None:
        self.puts.append(len(records))
        await super().aput(records)


def test_many_small_sources_take_a_few_store_calls_not_one_each(emb: CountingEmbeddings) -> None:
    class CountingStore(InMemoryVectorStore):
        def __init__(self, emb: CountingEmbeddings) -> None:
            super().__init__(emb)
            self.writes: list[int] = []

        async def _aupsert(self, ids: list[str], documents: list[Document],
                           vectors: list[list[float]]) -> None:
            self.writes.append(len(ids))
            await super()._aupsert(ids, documents, vectors)

    store, records = CountingStore(emb), CountingRecords()
    docs = [Document(f"note {i} about topic {i % 7}", {"source": f"n{i}.md"}) for i in range(300)]

    result = index(docs, store, record_store=records, batch_size=64)

    assert result.added == 300 and store.count() == 300 and len(records.records) == 300
    assert sum(store.writes) == 300 and len(store.writes) <= 300 // 16
    assert sum(records.puts) == 300 and len(records.puts) <= len(store.writes)
    assert sum(records.gets) == 300 and len(records.gets) <= 300 // 16
    records.gets.clear()
    records.puts.clear()
    assert index(docs, store, record_store=records).skipped == 300
    assert records.puts == [] and len(records.gets) <= 300 // 16


class Stop(Exception):
    """Stands for the process being killed between two store calls."""


class Steps:
    """Counts the calls that change a store or its records; raises ``Stop`` at one of them."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.n = 0
        self.stop_at = stop_at

    def tick(self) -> None:
        self.n += 1
        if self.n == self.stop_at:
            raise Stop(f"stopped before call {self.n}")


class StoppingStore(InMemoryVectorStore):
    def __init__(self, emb: CountingEmbeddings, steps: Steps) -> None:
        super().__init__(emb)
        self.steps = steps

    async def _aupsert(self, ids: list[str], documents: list[Document],
                       vectors: list[list[float]]) -> None:
        self.steps.tick()
        await super()._aupsert(ids, documents, vectors)

    async def _adelete(self, ids: list[str] | None, where: Any) -> None:
        self.steps.tick()
        await super()._adelete(ids, where)


class StoppingRecords(InMemoryRecordStore):
    def __init__(self, steps: Steps) -> None:
        super().__init__()
        self.steps = steps

    async def aput(self, records: Sequence[IndexRecord]) -> None:
        self.steps.tick()
        await super().aput(records)

    async def adelete(self, sources: Sequence[str]) -> None:
        self.steps.tick()
        await super().adelete(sources)


def snapshot(store: VectorStore, records: InMemoryRecordStore) -> tuple[Any, ...]:
    """What the store holds, checked against the records: every chunk stored is named by a
    record, none is pending, and every record's chunks are stored as it says."""
    named = {i: h for r in records.records.values() for i, h in r.chunks.items()}
    stored = store.get_by_ids(list(named))
    assert store.count() == len(stored) == len(named)  # no orphan, nothing missing
    assert {d.id: content_hash(d) for d in stored} == named
    assert all(r.content_hash for r in records.records.values())
    return (
        sorted((d.page_content, sorted(d.metadata.items())) for d in stored),
        sorted((s, r.content_hash, sorted(r.chunks.items())) for s, r in records.records.items()),
    )


def vouched_chunks_are_stored(store: VectorStore, records: InMemoryRecordStore) -> None:
    """After a stop: a record's chunk with a hash is stored with exactly that content."""
    for record in records.records.values():
        vouched = {i: h for i, h in record.chunks.items() if h}
        stored = {d.id: content_hash(d) for d in store.get_by_ids(list(vouched))}
        assert stored == vouched, record.source


def test_a_run_stopped_at_any_store_call_is_completed_by_the_next(
    emb: CountingEmbeddings,
) -> None:
    """v1 is indexed, then a run towards v2 stops before its 1st, 2nd, ... store call.
    The next run completes v2, or v1 if the files went back, with no duplicate, no orphan
    and no chunk missing: the store ends as a clean run leaves it. (The new file e.md
    stays: a source seen for the first time has no record until its chunks are stored.)"""
    v1 = {**corpus(), "d.md": "delta one\n\ndelta two"}
    v2 = {
        "a.md": "alpha one\n\nalpha TWO changed",  # a chunk changed, one gone
        "b.md": "beta one\n\nbeta two",  # unchanged
        "c.md": "gamma one\n\ngamma new",  # a chunk added
        "e.md": "epsilon one",  # new; d.md is gone
    }

    def clean(texts: dict[str, str]) -> tuple[Any, ...]:
        store, records = InMemoryVectorStore(emb), InMemoryRecordStore()
        run(docs_of(texts), store, record_store=records, cleanup="full")
        return snapshot(store, records)

    back = {**v1, "e.md": v2["e.md"]}
    expected = {"back": clean(back), "v2": clean(v2)}
    total = Steps()
    store, records = StoppingStore(emb, total), StoppingRecords(total)
    run(docs_of(v1), store, record_store=records, cleanup="full")
    total.n = 0
    run(docs_of(v2), store, record_store=records, cleanup="full", batch_size=2)
    calls = total.n
    assert calls >= 6

    for stop_at in range(1, calls + 1):
        for then in ("back", "v2"):
            steps = Steps()
            store, records = StoppingStore(emb, steps), StoppingRecords(steps)
            run(docs_of(v1), store, record_store=records, cleanup="full")
            steps.n, steps.stop_at = 0, stop_at
            with pytest.raises(Stop):
                run(docs_of(v2), store, record_store=records, cleanup="full", batch_size=2)
            vouched_chunks_are_stored(store, records)
            steps.stop_at = None
            run(docs_of(back if then == "back" else v2), store, record_store=records,
                cleanup="full")
            assert snapshot(store, records) == expected[then], (stop_at, then)


def test_deleting_sources_stopped_half_way_is_completed_by_the_next_run(
    emb: CountingEmbeddings,
) -> None:
    for stop_at in (1, 2, 3):
        steps = Steps()
        store, records = StoppingStore(emb, steps), StoppingRecords(steps)
        run(docs_of(corpus()), store, record_store=records)
        steps.n, steps.stop_at = 0, stop_at
        with pytest.raises(Stop):
            delete_sources(["a.md", "b.md"], store, record_store=records)
        vouched_chunks_are_stored(store, records)
        steps.stop_at = None
        # the sources came back: whatever the stop left, they are whole again
        run(docs_of(corpus()), store, record_store=records)
        assert snapshot(store, records) == snapshot(*_fresh(emb, corpus()))


def _fresh(emb: CountingEmbeddings, texts: dict[str, str]) -> tuple[VectorStore, Any]:
    store, records = InMemoryVectorStore(emb), InMemoryRecordStore()
    run(docs_of(texts), store, record_store=records)
    return store, records
