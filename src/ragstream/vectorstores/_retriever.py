"""``VectorStoreRetriever``: a vector store searched as a step of a chain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ragstream.documents import Document
from ragstream.errors import ConfigError, InputError
from ragstream.retrievers import BaseRetriever
from ragstream.vectorstores._base import _check_lambda, _check_threshold, check_positive
from ragstream.vectorstores._filters import normalize_filter

if TYPE_CHECKING:
    from ragstream.vectorstores._base import VectorStore

__all__ = ["SEARCH_TYPES", "VectorStoreRetriever"]

#: the search_kwargs each search type accepts
SEARCH_TYPES: dict[str, tuple[str, ...]] = {
    "similarity": ("k", "filter"),
    "mmr": ("k", "fetch_k", "lambda_mult", "filter"),
    "similarity_score_threshold": ("k", "score_threshold", "filter"),
}


def _check_kwargs(search_type: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    if search_type not in SEARCH_TYPES:
        raise ConfigError(
            f"unknown search_type {search_type!r}; use one of {', '.join(map(repr, SEARCH_TYPES))}"
        )
    allowed = SEARCH_TYPES[search_type]
    unknown = [key for key in kwargs if key not in allowed]
    if unknown:
        raise ConfigError(
            f"search_kwargs {', '.join(map(repr, unknown))} not allowed with search_type "
            f"{search_type!r}; allowed: {', '.join(map(repr, allowed))}"
        )
    out = {"k": 4, **kwargs}
    if search_type == "mmr":
        out.setdefault("fetch_k", max(20, out["k"]))
        out.setdefault("lambda_mult", 0.5)
    if search_type == "similarity_score_threshold" and "score_threshold" not in out:
        raise ConfigError(
            "search_type 'similarity_score_threshold' needs search_kwargs['score_threshold'] "
            "(a cosine similarity from -1 to 1)"
        )
    try:
        check_positive(out["k"], "search_kwargs['k']")
        if "fetch_k" in out:
            check_positive(out["fetch_k"], "search_kwargs['fetch_k']")
            if out["fetch_k"] < out["k"]:
                raise InputError(f"fetch_k ({out['fetch_k']}) must be at least k ({out['k']})")
        if "lambda_mult" in out:
            _check_lambda(out["lambda_mult"])
        if "score_threshold" in out:
            _check_threshold(out["score_threshold"])
        normalize_filter(out.get("filter"))
    except InputError as exc:
        raise ConfigError(f"search_kwargs: {exc}") from None
    return out


class VectorStoreRetriever(BaseRetriever):
    """Retrieves documents from a vector store for a query string.

    Its runs are tagged with the store's and the embeddings' class names, so
    events read e.g. ``tags=['seq:step:2', 'Chroma', 'OpenAIEmbeddings']``.

    With ``include_scores=True`` every document it returns carries its cosine
    similarity to the query (1 for the same direction, down to -1) in
    ``metadata["score"]``, for every search type (for ``mmr``, the similarity
    of each document chosen). The documents are copies: what the store holds
    is never changed, and a ``"score"`` the stored metadata already had is
    replaced on the copy only. Off by default, so documents print as stored.

    >>> retriever = store.as_retriever(search_type="mmr", search_kwargs={"k": 3})  # doctest: +SKIP
    >>> retriever.invoke("What is task decomposition?")  # doctest: +SKIP
    [Document(...), Document(...), Document(...)]
    >>> scored = store.as_retriever(include_scores=True)  # doctest: +SKIP
    >>> [round(d.metadata["score"], 2) for d in scored.invoke("task")]  # doctest: +SKIP
    [0.83, 0.79, 0.71, 0.7]
    """

    def __init__(
        self,
        vectorstore: VectorStore,
        *,
        search_type: str = "similarity",
        search_kwargs: Mapping[str, Any] | None = None,
        include_scores: bool = False,
        tags: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        if search_kwargs is not None and not isinstance(search_kwargs, Mapping):
            raise ConfigError(f"search_kwargs must be a dict, not {type(search_kwargs).__name__}")
        if not isinstance(include_scores, bool):
            raise ConfigError(
                f"include_scores must be True or False, not {type(include_scores).__name__}"
            )
        self.vectorstore = vectorstore
        self.search_type = search_type
        self.search_kwargs = _check_kwargs(search_type, search_kwargs or {})
        self.include_scores = include_scores
        self.tags = [type(vectorstore).__name__, type(vectorstore.embeddings).__name__]
        self.tags.extend(tags or ())
        self.metadata = dict(metadata) if metadata else None

    async def _aget_relevant_documents(self, query: str, **kwargs: Any) -> list[Document]:
        if not self.include_scores:
            return await self._search(query)
        return [
            Document(doc.page_content, {**doc.metadata, "score": score}, id=doc.id)
            for doc, score in await self._search_scored(query)
        ]

    async def _search(self, query: str) -> list[Document]:
        store, kw = self.vectorstore, self.search_kwargs
        if self.search_type == "mmr":
            return await store.amax_marginal_relevance_search(
                query, kw["k"], kw["fetch_k"], kw["lambda_mult"], kw.get("filter")
            )
        if self.search_type == "similarity_score_threshold":
            return [doc for doc, _ in await self._search_scored(query)]
        return await store.asimilarity_search(query, kw["k"], kw.get("filter"))

    async def _search_scored(self, query: str) -> list[tuple[Document, float]]:
        store, kw = self.vectorstore, self.search_kwargs
        if self.search_type == "mmr":
            return await store._ammr_scored(
                query, kw["k"], kw["fetch_k"], kw["lambda_mult"], kw.get("filter")
            )
        return await store.asimilarity_search_with_relevance_scores(
            query, kw["k"], kw.get("filter"), score_threshold=kw.get("score_threshold")
        )

    def __repr__(self) -> str:
        scores = ", include_scores=True" if self.include_scores else ""
        return (
            f"VectorStoreRetriever(vectorstore={type(self.vectorstore).__name__}, "
            f"search_type={self.search_type!r}, search_kwargs={self.search_kwargs!r}{scores})"
        )
