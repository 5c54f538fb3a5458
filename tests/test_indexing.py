"""Incremental indexing: unchanged sources cost nothing, changes replace old chunks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from ragstream.documents import Document
from ragstream.errors import ConfigError, InputError, SourceError
from ragstream.indexing import (
    IndexProgress,
    IndexResult,
    aindex,
    delete_sources,
    index,
)
from ragstream.testing import FakeEmbeddings
from ragstream.vectorstores import Chroma, InMemoryVectorStore, VectorStore
from ragstream.vectorstores._ids import stable_id
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
