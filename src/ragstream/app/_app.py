"""``RagApp``: the settings made into embeddings, stores, a model, a history
and the guide's conversational chain, with ingest and collections on top."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from ragstream.app._chain import citing_rag_chain
from ragstream.app._citations import CitationParser
from ragstream.app._collections import EMBEDDINGS_KEY, CollectionInfo, NoDocumentsError, read_info
from ragstream.app._ingest import IngestReport, IngestRun, ProgressCallback
from ragstream.config import Settings
from ragstream.core import Runnable
from ragstream.core._bridge import run_sync
from ragstream.documents import Document
from ragstream.errors import ConfigError, InputError
from ragstream.messages import AIMessage, BaseMessage, HumanMessage

if TYPE_CHECKING:
    from ragstream.embeddings import Embeddings
    from ragstream.history import ChatHistoryStore
    from ragstream.vectorstores import Chroma

__all__ = ["RagApp", "TurnEvent", "make_embeddings", "sample_corpus_path"]


def sample_corpus_path() -> Path:
    """The folder of the sample corpus shipped with ragstream: its own user documentation.

    >>> sorted(p.name for p in sample_corpus_path().glob("*.md"))[:2]
    ['cli.md', 'configuration.md']
    """
    return Path(str(resources.files("ragstream").joinpath("data", "docs")))


class TurnEvent(TypedDict, total=False):
    """One thing that happened in a turn.

    ``type`` is ``rewrite`` (a token of the rewritten question, in ``text``),
    ``query`` (the question sent to the retriever, in ``text``), ``sources``
    (``documents``, each with ``metadata["score"]``, numbered from 1 in
    order), ``token`` (a token of the answer, in ``text``), ``citation`` (the
    answer cited source ``index``: the ``document`` itself, the ``marker`` as
    written, ``"[1, 2]"``, and the ``offset`` in the answer just past it;
    it follows the token that completed the marker, one event per index) or
    ``done`` (``answer``, ``incomplete``, ``usage``, ``model``, ``timings``,
    and ``citations``, the indices cited, each once, in order of first use).
    """

    type: Literal["rewrite", "query", "sources", "token", "citation", "done"]
    text: str
    documents: list[Document]
    index: int
    document: Document
    marker: str
    offset: int
    answer: str
    incomplete: bool
    usage: dict[str, int] | None
    model: str
    timings: dict[str, float]
    citations: list[int]


def make_embeddings(spec: str) -> Embeddings:
    """Embeddings from a setting: ``minilm`` (the offline default), ``fake[:size]``
    or ``openai[:model]``."""
    name, _, arg = spec.partition(":")
    if name == "minilm" and not arg:
        from ragstream.embeddings import MiniLMEmbeddings

        embeddings: Embeddings = MiniLMEmbeddings()
        return embeddings
    if name == "fake":
        from ragstream.embeddings import FakeEmbeddings

        try:
            size = int(arg) if arg else 384
        except ValueError:
            raise ConfigError(f"embeddings {spec!r}: 'fake:' needs an int size") from None
        return FakeEmbeddings(size=size)
    if name == "openai":
        from ragstream.embeddings import OpenAIEmbeddings

        embeddings = OpenAIEmbeddings(model=arg) if arg else OpenAIEmbeddings()
        return embeddings
    raise ConfigError(
        f"unknown embeddings {spec!r}; use 'minilm', 'fake[:size]' or 'openai[:model]'"
    )


def _embeddings_key(spec: str) -> str:
    """The embeddings setting as recorded on a collection (``fake`` is ``fake:384``)."""
    name, _, arg = spec.strip().partition(":")
    if name == "fake" and not arg:
        return "fake:384"
    return spec.strip()


class RagApp:
    """The store, embeddings, model, history and chain named by ``settings``.

    Nothing is opened or loaded until it is first used.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._embeddings: Embeddings | None = None
        self._model: Runnable[Any, Any] | None = None
        self._history: ChatHistoryStore | None = None
        self._stores: dict[str, Chroma] = {}
        self._chains: dict[tuple[str, int], Runnable[Any, Any]] = {}

    def __repr__(self) -> str:
        return (
            f"RagApp(home={str(self.settings.home)!r}, collection={self.settings.collection!r}, "
            f"model={self.settings.model!r})"
        )

    # -- parts ----------------------------------------------------------------

    @property
    def embeddings(self) -> Embeddings:
        if self._embeddings is None:
            self._embeddings = make_embeddings(self.settings.embeddings)
        return self._embeddings

    @property
    def model(self) -> Runnable[Any, Any]:
        if self._model is None:
            from ragstream.models import init_chat_model

            self._model = init_chat_model(self.settings.model)
        return self._model

    @property
    def model_label(self) -> str:
        """How answers are labelled: the offline mode says so plainly."""
        label = getattr(self.model, "label", None)
        return str(label) if label else self.settings.model

    @property
    def history(self) -> ChatHistoryStore:
        if self._history is None:
            from ragstream.history import open_history

            self._history = open_history(self.settings.history_location)
        return self._history

    @property
    def store_location(self) -> str:
        """Where the collections live: the Chroma server's URL or the folder."""
        return self.settings.chroma_url or str(self.settings.chroma_path)

    def store(self, collection: str | None = None) -> Chroma:
        """The vector store of a collection (created empty on first write)."""
        name = collection or self.settings.collection
        if name not in self._stores:
            from ragstream.vectorstores import Chroma

            meta = {EMBEDDINGS_KEY: _embeddings_key(self.settings.embeddings)}
            if self.settings.chroma_url:
                self._stores[name] = Chroma(
                    collection_name=name, embedding_function=self.embeddings,
                    url=self.settings.chroma_url, collection_metadata=meta,
                )
            else:
                self._stores[name] = Chroma(
                    collection_name=name, embedding_function=self.embeddings,
                    persist_directory=str(self.settings.chroma_path), collection_metadata=meta,
                )
        return self._stores[name]

    def retriever(self, collection: str | None = None, *, k: int | None = None) -> Runnable[
        str, list[Document]
    ]:
        """A retriever over a collection whose documents carry ``metadata["score"]``."""
        store = self.store(collection)
        return store.as_retriever(search_kwargs={"k": k or self.settings.k}, include_scores=True)

    def chain(self, collection: str | None = None, *, k: int | None = None) -> Runnable[Any, Any]:
        """The guide's conversational RAG chain over a collection, its sources
        numbered in the prompt so that the model can cite them (``citing_rag_chain``)."""
        name = collection or self.settings.collection
        top_k = k or self.settings.k
        key = (name, top_k)
        if key not in self._chains:
            self._chains[key] = citing_rag_chain(self.model, self.retriever(name, k=top_k))
        return self._chains[key]

    async def aclose(self) -> None:
        """Close the chat history store if it was opened."""
        if self._history is not None:
            await self._history.aclose()
            self._history = None

    # -- a turn of a conversation ---------------------------------------------

    async def astream_turn(
        self,
        question: str,
        *,
        session_id: str | None = None,
        chat_history: list[BaseMessage] | None = None,
        collection: str | None = None,
        k: int | None = None,
    ) -> AsyncIterator[TurnEvent]:
        """Answer ``question`` in the conversation ``session_id`` (or with the given
        ``chat_history``), yielding what happens as it happens (see ``TurnEvent``).

        A citation marker in the answer (``[2]``, ``[1, 3]``: the numbers of the
        sources) yields a ``citation`` event right after the token that ends it
        (see ``CitationParser`` for what counts as a marker).
        If the consumer stops early (or the task is cancelled) the partial answer
        is saved in the session marked ``incomplete``.

        >>> async for event in app.astream_turn("Why do cats purr?"):  # doctest: +SKIP
        ...     if event["type"] == "citation":
        ...         print(event["index"], event["document"].metadata["source"])
        1 notes/cats.md
        """
        if not isinstance(question, str) or not question.strip():
            raise InputError("the question is empty")
        history = list(chat_history or [])
        if session_id is not None:
            history = await self.history.aget_messages(session_id)
        chain = self.chain(collection, k=k)
        inputs = {"input": question, "chat_history": history}

        answer: list[str] = []
        sources: list[Document] = []
        citations = CitationParser()
        usage: dict[str, int] | None = None
        finished = False
        started = time.perf_counter()
        timings: dict[str, float] = {}
        events = chain.astream_events(
            inputs, include_tags=["contextualize_q_llm", "answer_llm"], include_types=["retriever"]
        )
        try:
            async for event in events:
                kind, tags = event["event"], event["tags"]
                if kind == "on_chat_model_stream":
                    text = event["data"]["chunk"].content
                    if not text:
                        continue
                    if "contextualize_q_llm" in tags:
                        yield {"type": "rewrite", "text": text}
                    else:
                        if not answer:
                            timings["first_token_s"] = time.perf_counter() - started
                        answer.append(text)
                        yield {"type": "token", "text": text}
                        for marker in citations.feed(text):
                            for index in marker.indices:
                                yield {
                                    "type": "citation", "index": index,
                                    "document": sources[index - 1], "marker": marker.text,
                                    "offset": marker.end,
                                }
                elif kind == "on_retriever_start":
                    timings.setdefault("retrieval_start_s", time.perf_counter() - started)
                    yield {"type": "query", "text": str(event["data"]["input"])}
                elif kind == "on_retriever_end" and "output" in event["data"]:
                    # (a failed retrieval ends with "error": the stream then raises it)
                    timings["retrieval_end_s"] = time.perf_counter() - started
                    sources = list(event["data"]["output"])
                    citations.count = len(sources)
                    yield {"type": "sources", "documents": list(sources)}
                elif kind == "on_chat_model_end" and "answer_llm" in tags:
                    usage = getattr(event["data"].get("output"), "usage_metadata", None)
            finished = True
            timings["total_s"] = time.perf_counter() - started
            yield {
                "type": "done", "answer": "".join(answer), "incomplete": False,
                "usage": usage, "model": self.model_label, "timings": timings,
                "citations": list(citations.cited),
            }
        finally:
            await _aclose(events)
            if session_id is not None and (finished or answer):
                await asyncio.shield(
                    self._save(session_id, question, "".join(answer), not finished, usage)
                )

    async def _save(
        self, session_id: str, question: str, answer: str, incomplete: bool,
        usage: dict[str, int] | None,
    ) -> None:
        meta: dict[str, Any] = {"model": self.model_label}
        if incomplete:
            meta["incomplete"] = True
            meta["incomplete_reason"] = "stopped"
        await self.history.aadd_messages(
            session_id,
            [
                HumanMessage(question),
                AIMessage(answer, usage_metadata=usage, response_metadata=meta),
            ],
        )

    # -- ingest ---------------------------------------------------------------

    async def aingest(
        self,
        sources: Sequence[str],
        *,
        collection: str | None = None,
        on_progress: ProgressCallback | None = None,
        url_guard: Callable[[str], None] | None = None,
        css_classes: Sequence[str] = (),
        glob: str = "**/*",
        chunk_size: int | None = None,
        chunk_overlap: int | None = None,
    ) -> IngestReport:
        """Load, split, embed and store ``sources`` (URLs, files, folders, glob
        patterns) into a collection, doing only the work that changed.

        ``on_progress`` receives dicts ``{"stage": "load"|"split"|"embed"|"store"|
        "done", "done": n, "total": m | None, "source": ...}`` (plus ``status``
        and ``chunks`` at ``split``, ``error`` for a source that failed). A
        source that fails is reported in the returned ``IngestReport`` and the
        others are still stored; files of a given folder that no longer exist
        are removed from the collection.

        >>> report = await app.aingest(["notes/", "https://example.org/"])  # doctest: +SKIP
        >>> report.count("added"), report.added, [f.source for f in report.failures]
        (3, 42, [])
        """
        from ragstream.splitters import RecursiveCharacterTextSplitter

        if isinstance(sources, str):
            raise InputError("aingest takes a list of sources, not one str")
        if not sources:
            raise InputError("nothing to ingest: give at least one URL, file, folder or pattern")
        size = chunk_size or self.settings.chunk_size
        overlap = self.settings.chunk_overlap if chunk_overlap is None else chunk_overlap
        if overlap >= size:
            raise ConfigError(f"chunk_overlap ({overlap}) must be smaller than chunk_size ({size})")
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=size, chunk_overlap=overlap, add_start_index=True
        )
        name = collection or self.settings.collection
        store = self.store(name)
        try:
            self._check_embeddings(await self.acollection(name))
        except NoDocumentsError:
            pass  # a new collection takes the embeddings in use
        run = IngestRun(
            store, collection=name, splitter=splitter, on_progress=on_progress,
            url_guard=url_guard, css_classes=css_classes, glob=glob,
        )
        return await run.arun(sources)

    def ingest(self, sources: Sequence[str], **kwargs: Any) -> IngestReport:
        """The sync twin of ``aingest``."""
        return run_sync(lambda: self.aingest(sources, **kwargs))

    # -- collections ----------------------------------------------------------

    def _no_store_yet(self) -> bool:
        # reading must not create the data directory: nothing was ever stored there
        return not self.settings.chroma_url and not self.settings.chroma_path.exists()

    async def alist_collections(self) -> list[CollectionInfo]:
        """Every collection in the store, by name, with its counts."""
        from ragstream.vectorstores import Chroma

        if self._no_store_yet():
            return []
        if self.settings.chroma_url:
            names = await Chroma.alist_collections(url=self.settings.chroma_url)
        else:
            names = await Chroma.alist_collections(persist_directory=self.settings.chroma_path)
        found = [await read_info(self.store(name)) for name in names]
        return [info for info in found if info is not None]

    def list_collections(self) -> list[CollectionInfo]:
        """The sync twin of ``alist_collections``."""
        return run_sync(self.alist_collections)

    async def acollection(self, name: str | None = None) -> CollectionInfo:
        """One collection's counts; ``NoDocumentsError`` if it does not exist."""
        name = name or self.settings.collection
        info = None if self._no_store_yet() else await read_info(self.store(name))
        if info is None:
            raise NoDocumentsError(name, exists=False, where=self.store_location)
        return info

    def collection(self, name: str | None = None) -> CollectionInfo:
        """The sync twin of ``acollection``."""
        return run_sync(lambda: self.acollection(name))

    async def acollection_sources(self, name: str | None = None) -> list[str]:
        """The sources indexed into a collection, sorted."""
        await self.acollection(name)
        return sorted(await self.store(name).record_store().asources())

    async def acheck_collection(self, name: str | None = None) -> CollectionInfo:
        """The collection to answer from, if it can answer: it exists, holds
        documents and was built with the embeddings in use.

        Raises ``NoDocumentsError`` (unknown or empty) or ``ConfigError`` (other
        embeddings).
        """
        info = await self.acollection(name)
        if info.chunks == 0:
            raise NoDocumentsError(info.name, exists=True, where=self.store_location)
        self._check_embeddings(info)
        return info

    def _check_embeddings(self, info: CollectionInfo) -> None:
        used = _embeddings_key(self.settings.embeddings)
        if info.embeddings is not None and info.embeddings != used:
            raise ConfigError(
                f"collection {info.name!r} was built with embeddings {info.embeddings!r}, "
                f"not {used!r}; use --embeddings {info.embeddings} (or RAGSTREAM_EMBEDDINGS), "
                "or ingest into another collection"
            )

    async def adelete_collection(self, name: str) -> CollectionInfo:
        """Delete a collection with its chunks and records; returns what it held."""
        info = await self.acollection(name)
        await self.store(name).adelete_collection()
        self._stores.pop(name, None)
        for key in [key for key in self._chains if key[0] == name]:
            del self._chains[key]
        return info

    def delete_collection(self, name: str) -> CollectionInfo:
        """The sync twin of ``adelete_collection``."""
        return run_sync(lambda: self.adelete_collection(name))


async def _aclose(stream: Any) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()
