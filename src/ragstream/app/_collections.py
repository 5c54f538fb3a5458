"""Collections as the application lists them: counts, sources, embeddings.

A collection written by ``RagApp`` records the embeddings it was built with
in its metadata (``EMBEDDINGS_KEY``), so asking it with other embeddings can
be refused instead of comparing vectors that do not match.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ragstream.errors import StoreError

if TYPE_CHECKING:
    from ragstream.vectorstores import Chroma

__all__ = ["EMBEDDINGS_KEY", "CollectionInfo", "NoDocumentsError", "read_info"]

#: collection metadata naming the embeddings its vectors were made with
EMBEDDINGS_KEY = "ragstream_embeddings"


class NoDocumentsError(StoreError):
    """A collection to answer from does not exist, or holds no documents.

    ``exists`` tells which: False for an unknown collection, True for an empty one.
    """

    def __init__(self, collection: str, *, exists: bool, where: str) -> None:
        what = "is empty" if exists else "does not exist"
        super().__init__(f"collection {collection!r} {what} ({where})")
        self.collection = collection
        self.exists = exists


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    """A collection as listed: its chunks, its indexed sources, its embeddings."""

    name: str
    chunks: int
    sources: int
    embeddings: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def read_info(store: Chroma) -> CollectionInfo | None:
    """A collection's counts and embeddings; None if it does not exist (nothing is created)."""
    if not await store.aexists():
        return None
    chunks = await store.acount()
    sources = await store.record_store().acount()  # 0 when written without indexing
    embeddings = (await store.aget_collection_metadata()).get(EMBEDDINGS_KEY)
    return CollectionInfo(
        store.collection_name, chunks, sources, str(embeddings) if embeddings else None
    )
