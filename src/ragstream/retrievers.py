"""Retrievers: runnables that take a query string and return documents."""

from __future__ import annotations

from typing import Any, ClassVar

from ragstream.core import Runnable
from ragstream.documents import Document
from ragstream.errors import InputError

__all__ = ["BaseRetriever"]


class BaseRetriever(Runnable[str, list[Document]]):
    """Base for retrievers: implement ``_aget_relevant_documents(query)``.

    Runs of a retriever emit ``on_retriever_start``/``on_retriever_end``; in
    ``version="v1"`` events a retriever nested in a chain is named ``Retriever``
    and its data is wrapped as ``{"query": q}`` and ``{"documents": [...]}``.
    """

    run_type: ClassVar[str] = "retriever"
    _emits_stream: ClassVar[bool] = False
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None

    async def _aget_relevant_documents(self, query: str, **kwargs: Any) -> list[Document]:
        raise NotImplementedError(f"{type(self).__name__} must implement _aget_relevant_documents")

    async def _ainvoke(self, input: Any, **kwargs: Any) -> list[Document]:
        if not isinstance(input, str):
            raise InputError(
                f"{self.get_name()}: a retriever takes a query string, not {type(input).__name__}"
            )
        return await self._aget_relevant_documents(input, **kwargs)

    def _local_tags(self) -> tuple[str, ...]:
        return tuple(self.tags or ())

    def _local_metadata(self) -> dict[str, Any] | None:
        return self.metadata
