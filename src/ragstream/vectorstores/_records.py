"""What incremental indexing remembers about each source it has written.

For every source (a file path or URL), an ``IndexRecord`` keeps a hash of the
source's content and, for each chunk written from it, the chunk's id and a
hash of its text and metadata. ``ragstream.indexing`` compares a source's
new content with its record to decide what to embed, what to keep and what
to delete.

Each vector store keeps its records where it keeps its vectors (see
``VectorStore.record_store``), so that any process that can reach the store
can index into it.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["InMemoryRecordStore", "IndexRecord", "RecordStore"]


@dataclass(frozen=True, slots=True)
class IndexRecord:
    """One indexed source: its content hash and ``{chunk id: chunk hash}``."""

    source: str
    content_hash: str
    chunks: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {"source": self.source, "content_hash": self.content_hash, "chunks": self.chunks},
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> IndexRecord:
        data = json.loads(text)
        return cls(str(data["source"]), str(data["content_hash"]), dict(data["chunks"]))


class RecordStore(ABC):
    """Where index records live. Implementers write four async methods.

    ``acount`` is derived from ``asources``; a store that can count without
    listing overrides it.
    """

    @abstractmethod
    async def aget(self, sources: Sequence[str]) -> dict[str, IndexRecord]:
        """The records of those sources that have one."""

    @abstractmethod
    async def aput(self, records: Sequence[IndexRecord]) -> None:
        """Create or replace records."""

    @abstractmethod
    async def adelete(self, sources: Sequence[str]) -> None:
        """Forget sources (unknown ones are ignored)."""

    @abstractmethod
    async def asources(self) -> list[str]:
        """Every source that has a record."""

    async def acount(self) -> int:
        """How many sources have a record."""
        return len(await self.asources())


class InMemoryRecordStore(RecordStore):
    """Records in a dict, for stores that live in memory."""

    def __init__(self) -> None:
        self.records: dict[str, IndexRecord] = {}

    async def aget(self, sources: Sequence[str]) -> dict[str, IndexRecord]:
        return {s: self.records[s] for s in sources if s in self.records}

    async def aput(self, records: Sequence[IndexRecord]) -> None:
        for record in records:
            self.records[record.source] = record

    async def adelete(self, sources: Sequence[str]) -> None:
        for source in sources:
            self.records.pop(source, None)

    async def asources(self) -> list[str]:
        return list(self.records)

    async def acount(self) -> int:
        return len(self.records)
