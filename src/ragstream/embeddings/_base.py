"""The embeddings interface.

An implementer writes one async method, ``aembed_documents(texts)``; the base
derives ``aembed_query`` and the sync twins ``embed_documents`` and
``embed_query``. Vectors are lists of floats, one per text, in order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from ragstream.core._bridge import run_sync

__all__ = ["Embeddings"]


class Embeddings(ABC):
    """Turns texts into vectors."""

    @abstractmethod
    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""

    async def aembed_query(self, text: str) -> list[float]:
        """The vector of a search query."""
        return (await self.aembed_documents([text]))[0]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """The sync twin of ``aembed_documents``."""
        return run_sync(lambda: self.aembed_documents(texts))

    def embed_query(self, text: str) -> list[float]:
        """The sync twin of ``aembed_query``."""
        return run_sync(lambda: self.aembed_query(text))
