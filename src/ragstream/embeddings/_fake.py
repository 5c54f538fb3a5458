"""Deterministic embeddings for tests: hashed bags of words, no weights needed."""

from __future__ import annotations

import hashlib
import math
import re

from ragstream.embeddings._base import Embeddings

__all__ = ["FakeEmbeddings"]

_WORD = re.compile(r"\w+")


class FakeEmbeddings(Embeddings):
    """Vectors of ``size`` floats made by hashing each word into a dimension.

    The same text always gets the same unit vector, and texts that share
    words get similar vectors, so retrieval in tests behaves sensibly.

    >>> e = FakeEmbeddings(size=16)
    >>> e.embed_query("task decomposition") == e.embed_query("task decomposition")
    True
    """

    def __init__(self, size: int = 64) -> None:
        if size < 2:
            raise ValueError("size must be at least 2")
        self.size = size

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self.size
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            h = int.from_bytes(digest, "little")
            vec[h % self.size] += 1.0 if (h >> 63) & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vec))
        if norm == 0.0:
            vec[0] = 1.0
            return vec
        return [v / norm for v in vec]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)

    def __repr__(self) -> str:
        return f"FakeEmbeddings(size={self.size})"
