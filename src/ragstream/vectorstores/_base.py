"""The vector store interface.

Stores are async-first. An implementer writes five async methods —
``_aupsert``, ``_asearch``, ``_adelete``, ``_aget_by_ids`` and ``acount`` —
and an ``embeddings`` property; the base derives everything else: adding
documents and texts with stable ids, similarity search (by text or by
vector, with distances or relevance scores), maximal marginal relevance,
deletion by id or filter, ``from_documents``, ``as_retriever``, and a sync
twin of every async method.

Scores mean the same on every store:

- ``similarity_search_with_score`` gives the **cosine distance**,
  ``1 - cos(query, doc)``: 0 for the same direction, up to 2; lower is closer.
- ``similarity_search_with_relevance_scores`` gives the **cosine similarity**,
  ``1 - distance``: 1 for the same direction, down to -1; higher is closer.
  The ``similarity_score_threshold`` retriever keeps documents whose
  relevance is at least ``score_threshold``.

Ids: a document added without an id (neither ``ids=`` nor ``Document.id``)
gets ``stable_id(doc)``, a hash of its text and ``metadata["source"]``, so
re-adding the same chunk replaces it instead of duplicating it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Self

from ragstream.core._bridge import run_sync
from ragstream.documents import Document
from ragstream.embeddings import Embeddings
from ragstream.errors import InputError, StoreError
from ragstream.vectorstores._filters import Where, normalize_filter
from ragstream.vectorstores._ids import stable_id
from ragstream.vectorstores._mmr import maximal_marginal_relevance
from ragstream.vectorstores._records import InMemoryRecordStore, RecordStore

if TYPE_CHECKING:
    from ragstream.vectorstores._retriever import VectorStoreRetriever

__all__ = ["SearchHit", "VectorStore"]

Filter = Mapping[str, Any]


class SearchHit(NamedTuple):
    """One search result as an implementer returns it."""

    document: Document
    distance: float  # cosine distance
    vector: Sequence[float] | None = None  # only when asked for


def check_positive(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be a positive int, got {value!r}")
    return value


def _check_query(query: Any) -> str:
    if not isinstance(query, str):
        raise InputError(f"the search query must be a str, not {type(query).__name__}")
    return query


def _check_vector(vector: Any) -> list[float]:
    try:
        out = [float(x) for x in vector]
    except (TypeError, ValueError) as exc:
        raise InputError(f"the search vector must be a sequence of numbers: {exc}") from None
    if not out:
        raise InputError("the search vector is empty")
    return out


def _check_ids(ids: Any, count: int | None = None) -> list[str]:
    if isinstance(ids, str) or not isinstance(ids, Iterable):
        raise InputError(f"ids must be a list of str, not {type(ids).__name__}")
    out = list(ids)
    for i in out:
        if not isinstance(i, str) or not i:
            raise InputError(f"ids must be non-empty str, got {i!r}")
    if count is not None and len(out) != count:
        raise InputError(f"got {len(out)} ids for {count} documents")
    return out


class VectorStore(ABC):
    """A store of documents and their vectors, searched by cosine similarity.

    >>> from ragstream.vectorstores import InMemoryVectorStore
    >>> from ragstream.testing import FakeEmbeddings
    >>> store = InMemoryVectorStore.from_texts(
    ...     ["cats purr", "dogs bark"], FakeEmbeddings(), metadatas=[{"source": "a"}] * 2
    ... )
    >>> store.similarity_search("why do cats purr", k=1)[0].page_content
    'cats purr'
    """

    _index_records: RecordStore | None = None

    # -- what implementers write ---------------------------------------------

    @property
    @abstractmethod
    def embeddings(self) -> Embeddings:
        """The embeddings that turn texts and queries into vectors."""

    @abstractmethod
    async def _aupsert(
        self, ids: list[str], documents: list[Document], vectors: list[list[float]]
    ) -> None:
        """Write documents (ids are unique and set on the documents), replacing same ids."""

    @abstractmethod
    async def _asearch(
        self, vector: list[float], *, k: int, where: Where | None, with_vectors: bool
    ) -> list[SearchHit]:
        """Up to ``k`` nearest documents (with ids) matching ``where``, nearest first."""

    @abstractmethod
    async def _adelete(self, ids: list[str] | None, where: Where | None) -> None:
        """Delete documents with those ids and/or matching ``where`` (both: both must hold)."""

    @abstractmethod
    async def _aget_by_ids(self, ids: list[str]) -> list[Document]:
        """The documents with those ids that exist, in any order."""

    @abstractmethod
    async def acount(self) -> int:
        """How many documents the store holds."""

    def record_store(self) -> RecordStore:
        """Where ``ragstream.indexing`` keeps its records for this store.

        The default keeps them in memory, beside a store that lives in memory;
        a persistent store overrides this to keep them where its data lives.
        """
        records = self._index_records
        if records is None:
            records = InMemoryRecordStore()
            self._index_records = records
        return records

    @classmethod
    def _from_embedding(cls, embedding: Embeddings, **kwargs: Any) -> Self:
        """Build an empty store for ``from_documents``/``from_texts``."""
        return cls(embedding, **kwargs)  # type: ignore[call-arg]

    # -- adding --------------------------------------------------------------

    async def aadd_documents(
        self, documents: Iterable[Document], *, ids: Sequence[str] | None = None
    ) -> list[str]:
        """Embed and write documents; return their ids, in order.

        The id of each document is, first found: ``ids[i]``, ``Document.id``,
        or ``stable_id(doc)``. A document whose id is already stored replaces it.
        """
        docs = list(documents)
        for n, doc in enumerate(docs):
            if not isinstance(doc, Document):
                raise InputError(f"document {n} is a {type(doc).__name__}, not a Document")
        given = _check_ids(ids, len(docs)) if ids is not None else None
        all_ids = [
            given[n] if given is not None else (doc.id or stable_id(doc))
            for n, doc in enumerate(docs)
        ]
        if not docs:
            return []
        # the same id twice in one call: the last one wins, as with two calls
        last = {doc_id: n for n, doc_id in enumerate(all_ids)}
        unique_ids = list(last)
        unique = [docs[n] for n in last.values()]
        vectors = await self.embeddings.aembed_documents([d.page_content for d in unique])
        if len(vectors) != len(unique):
            raise StoreError(
                f"{type(self.embeddings).__name__} returned {len(vectors)} vectors "
                f"for {len(unique)} texts"
            )
        await self._aupsert(
            unique_ids,
            [
                Document(d.page_content, dict(d.metadata), id=i)
                for d, i in zip(unique, unique_ids, strict=True)
            ],
            [list(v) for v in vectors],
        )
        return all_ids

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        *,
        ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Embed and write texts with optional metadata; return their ids."""
        items = list(texts)
        if metadatas is not None and len(metadatas) != len(items):
            raise InputError(f"got {len(metadatas)} metadatas for {len(items)} texts")
        docs = []
        for n, text in enumerate(items):
            if not isinstance(text, str):
                raise InputError(f"text {n} is a {type(text).__name__}, not a str")
            docs.append(Document(text, dict(metadatas[n]) if metadatas is not None else {}))
        return await self.aadd_documents(docs, ids=ids)

    # -- searching -----------------------------------------------------------

    async def asimilarity_search_by_vector_with_score(
        self, embedding: Sequence[float], k: int = 4, filter: Filter | None = None
    ) -> list[tuple[Document, float]]:
        """The ``k`` documents nearest to a vector, with their cosine distance."""
        vector = _check_vector(embedding)
        check_positive(k, "k")
        where = normalize_filter(filter)
        hits = await self._asearch(vector, k=k, where=where, with_vectors=False)
        return [(hit.document, hit.distance) for hit in hits]

    async def asimilarity_search_by_vector(
        self, embedding: Sequence[float], k: int = 4, filter: Filter | None = None
    ) -> list[Document]:
        """The ``k`` documents nearest to a vector, nearest first."""
        pairs = await self.asimilarity_search_by_vector_with_score(embedding, k, filter)
        return [doc for doc, _ in pairs]

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, filter: Filter | None = None
    ) -> list[tuple[Document, float]]:
        """The ``k`` documents nearest to a query, with their cosine distance (lower is closer)."""
        _check_query(query)
        check_positive(k, "k")
        where = normalize_filter(filter)
        vector = await self.embeddings.aembed_query(query)
        hits = await self._asearch(list(vector), k=k, where=where, with_vectors=False)
        return [(hit.document, hit.distance) for hit in hits]

    async def asimilarity_search(
        self, query: str, k: int = 4, filter: Filter | None = None
    ) -> list[Document]:
        """The ``k`` documents nearest to a query, nearest first."""
        return [doc for doc, _ in await self.asimilarity_search_with_score(query, k, filter)]

    async def asimilarity_search_with_relevance_scores(
        self,
        query: str,
        k: int = 4,
        filter: Filter | None = None,
        *,
        score_threshold: float | None = None,
    ) -> list[tuple[Document, float]]:
        """The ``k`` nearest documents with their cosine similarity (higher is closer),
        keeping only those at or above ``score_threshold`` when it is given."""
        if score_threshold is not None:
            _check_threshold(score_threshold)
        pairs = await self.asimilarity_search_with_score(query, k, filter)
        scored = [(doc, 1.0 - distance) for doc, distance in pairs]
        if score_threshold is None:
            return scored
        return [(doc, score) for doc, score in scored if score >= score_threshold]

    async def amax_marginal_relevance_search_by_vector(
        self,
        embedding: Sequence[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter | None = None,
    ) -> list[Document]:
        """``k`` documents among the ``fetch_k`` nearest, chosen to be relevant and diverse."""
        pairs = await self._ammr_scored_by_vector(embedding, k, fetch_k, lambda_mult, filter)
        return [doc for doc, _ in pairs]

    async def amax_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter | None = None,
    ) -> list[Document]:
        """``k`` documents among the ``fetch_k`` nearest to a query, relevant and diverse.

        ``lambda_mult`` trades relevance (1) for diversity (0).
        """
        return [doc for doc, _ in await self._ammr_scored(query, k, fetch_k, lambda_mult, filter)]

    async def _ammr_scored(
        self, query: str, k: int, fetch_k: int, lambda_mult: float, filter: Filter | None
    ) -> list[tuple[Document, float]]:
        """MMR's choice for a query, in order, each with its cosine similarity to the query."""
        _check_query(query)
        check_positive(k, "k")
        normalize_filter(filter)  # a bad filter fails before the query is embedded
        vector = await self.embeddings.aembed_query(query)
        return await self._ammr_scored_by_vector(vector, k, fetch_k, lambda_mult, filter)

    async def _ammr_scored_by_vector(
        self, embedding: Sequence[float], k: int, fetch_k: int, lambda_mult: float,
        filter: Filter | None,
    ) -> list[tuple[Document, float]]:
        vector = _check_vector(embedding)
        check_positive(k, "k")
        check_positive(fetch_k, "fetch_k")
        if fetch_k < k:
            raise InputError(f"fetch_k ({fetch_k}) must be at least k ({k})")
        _check_lambda(lambda_mult)
        where = normalize_filter(filter)
        hits = await self._asearch(vector, k=fetch_k, where=where, with_vectors=True)
        vectors = [hit.vector for hit in hits if hit.vector is not None]
        if len(vectors) != len(hits):
            raise StoreError(f"{type(self).__name__} returned no vectors for an MMR search")
        order = maximal_marginal_relevance(vector, vectors, k=k, lambda_mult=lambda_mult)
        return [(hits[i].document, 1.0 - hits[i].distance) for i in order]

    # -- reading and deleting ------------------------------------------------

    async def aget_by_ids(self, ids: Sequence[str]) -> list[Document]:
        """The documents with these ids, in the order asked; unknown ids are skipped."""
        wanted = _check_ids(ids)
        if not wanted:
            return []
        found = {doc.id: doc for doc in await self._aget_by_ids(list(dict.fromkeys(wanted)))}
        return [found[i] for i in dict.fromkeys(wanted) if i in found]

    async def adelete(
        self, ids: Sequence[str] | None = None, *, filter: Filter | None = None
    ) -> None:
        """Delete documents by id, by metadata filter, or both (documents matching both).

        Unknown ids are ignored. Give at least one of ``ids`` and ``filter``.
        """
        where = normalize_filter(filter)
        wanted = _check_ids(ids) if ids is not None else None
        if wanted is None and where is None:
            raise InputError("delete needs ids or a filter (refusing to delete everything)")
        if wanted is not None and not wanted:
            return
        await self._adelete(wanted, where)

    # -- building ------------------------------------------------------------

    @classmethod
    async def afrom_documents(
        cls,
        documents: Iterable[Document],
        embedding: Embeddings,
        *,
        ids: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> Self:
        """A new store (built with ``kwargs``) holding these documents."""
        store = cls._from_embedding(embedding, **kwargs)
        await store.aadd_documents(documents, ids=ids)
        return store

    @classmethod
    async def afrom_texts(
        cls,
        texts: Iterable[str],
        embedding: Embeddings,
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        *,
        ids: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> Self:
        """A new store (built with ``kwargs``) holding these texts."""
        store = cls._from_embedding(embedding, **kwargs)
        await store.aadd_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    def from_documents(
        cls,
        documents: Iterable[Document],
        embedding: Embeddings,
        *,
        ids: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> Self:
        """A new store holding these documents.

        >>> from ragstream.vectorstores import Chroma
        >>> from ragstream.testing import FakeEmbeddings
        >>> store = Chroma.from_documents(documents=[Document("hi")], embedding=FakeEmbeddings())
        """
        store = cls._from_embedding(embedding, **kwargs)
        store.add_documents(documents, ids=ids)
        return store

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str],
        embedding: Embeddings,
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        *,
        ids: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> Self:
        """A new store holding these texts."""
        store = cls._from_embedding(embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    def as_retriever(
        self,
        *,
        search_type: str = "similarity",
        search_kwargs: Mapping[str, Any] | None = None,
        include_scores: bool = False,
        tags: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> VectorStoreRetriever:
        """A retriever over this store.

        ``search_type`` is ``"similarity"`` (the default), ``"mmr"`` or
        ``"similarity_score_threshold"``; ``search_kwargs`` takes ``k``,
        ``filter``, and ``fetch_k``/``lambda_mult`` (mmr) or ``score_threshold``.
        With ``include_scores=True`` each document returned is a copy with its
        cosine similarity to the query in ``metadata["score"]``.

        >>> retriever = store.as_retriever(include_scores=True)  # doctest: +SKIP
        >>> retriever.invoke("why do cats purr")[0].metadata  # doctest: +SKIP
        {'source': 'a', 'score': 0.8165}
        """
        from ragstream.vectorstores._retriever import VectorStoreRetriever

        return VectorStoreRetriever(
            self, search_type=search_type, search_kwargs=search_kwargs,
            include_scores=include_scores, tags=tags, metadata=metadata,
        )

    # -- sync twins ----------------------------------------------------------

    def add_documents(
        self, documents: Iterable[Document], *, ids: Sequence[str] | None = None
    ) -> list[str]:
        """The sync twin of ``aadd_documents``."""
        return run_sync(lambda: self.aadd_documents(documents, ids=ids))

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        *,
        ids: Sequence[str] | None = None,
    ) -> list[str]:
        """The sync twin of ``aadd_texts``."""
        return run_sync(lambda: self.aadd_texts(texts, metadatas, ids=ids))

    def similarity_search(
        self, query: str, k: int = 4, filter: Filter | None = None
    ) -> list[Document]:
        """The sync twin of ``asimilarity_search``."""
        return run_sync(lambda: self.asimilarity_search(query, k, filter))

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: Filter | None = None
    ) -> list[tuple[Document, float]]:
        """The sync twin of ``asimilarity_search_with_score`` (cosine distance)."""
        return run_sync(lambda: self.asimilarity_search_with_score(query, k, filter))

    def similarity_search_with_relevance_scores(
        self,
        query: str,
        k: int = 4,
        filter: Filter | None = None,
        *,
        score_threshold: float | None = None,
    ) -> list[tuple[Document, float]]:
        """The sync twin of ``asimilarity_search_with_relevance_scores`` (cosine similarity)."""
        return run_sync(
            lambda: self.asimilarity_search_with_relevance_scores(
                query, k, filter, score_threshold=score_threshold
            )
        )

    def similarity_search_by_vector(
        self, embedding: Sequence[float], k: int = 4, filter: Filter | None = None
    ) -> list[Document]:
        """The sync twin of ``asimilarity_search_by_vector``."""
        return run_sync(lambda: self.asimilarity_search_by_vector(embedding, k, filter))

    def similarity_search_by_vector_with_score(
        self, embedding: Sequence[float], k: int = 4, filter: Filter | None = None
    ) -> list[tuple[Document, float]]:
        """The sync twin of ``asimilarity_search_by_vector_with_score``."""
        return run_sync(
            lambda: self.asimilarity_search_by_vector_with_score(embedding, k, filter)
        )

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter | None = None,
    ) -> list[Document]:
        """The sync twin of ``amax_marginal_relevance_search``."""
        return run_sync(
            lambda: self.amax_marginal_relevance_search(query, k, fetch_k, lambda_mult, filter)
        )

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: Sequence[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter | None = None,
    ) -> list[Document]:
        """The sync twin of ``amax_marginal_relevance_search_by_vector``."""
        return run_sync(
            lambda: self.amax_marginal_relevance_search_by_vector(
                embedding, k, fetch_k, lambda_mult, filter
            )
        )

    def get_by_ids(self, ids: Sequence[str]) -> list[Document]:
        """The sync twin of ``aget_by_ids``."""
        return run_sync(lambda: self.aget_by_ids(ids))

    def delete(self, ids: Sequence[str] | None = None, *, filter: Filter | None = None) -> None:
        """The sync twin of ``adelete``."""
        run_sync(lambda: self.adelete(ids, filter=filter))

    def count(self) -> int:
        """The sync twin of ``acount``."""
        return run_sync(self.acount)


def _check_threshold(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not -1.0 <= value <= 1.0:
        raise InputError(
            f"score_threshold must be a number from -1 to 1 (a cosine similarity), got {value!r}"
        )
    return float(value)


def _check_lambda(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise InputError(f"lambda_mult must be a number from 0 to 1, got {value!r}")
    return float(value)
