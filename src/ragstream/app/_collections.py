"""Collections as the application lists them: counts, sources, embeddings.

A collection written by ``RagApp`` records the embeddings it was built with
in its metadata (``EMBEDDINGS_KEY``), so asking it with other embeddings can
be refused instead of comparing vectors that do not match.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ragstream.errors import StoreError

__all__ = ["EMBEDDINGS_KEY", "CollectionInfo", "NoDocumentsError", "list_infos", "read_info"]

#: collection metadata naming the embeddings its vectors were made with
EMBEDDINGS_KEY = "ragstream_embeddings"
#: the side collection where ``ragstream.indexing`` keeps a collection's records
RECORDS_SUFFIX = ".index-records"


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


def read_info(client: Any, name: str) -> CollectionInfo | None:
    """The counts of a collection through a chromadb client; None if it does not exist."""
    try:
        collection = client.get_collection(name)
    except Exception as exc:  # chromadb's NotFoundError, from disk or from a server
        if type(exc).__name__ == "NotFoundError" or "does not exist" in str(exc):
            return None
        raise
    try:
        sources = int(client.get_collection(name + RECORDS_SUFFIX).count())
    except Exception:  # a collection written without ragstream.indexing has no records
        sources = 0
    embeddings = (collection.metadata or {}).get(EMBEDDINGS_KEY)
    return CollectionInfo(
        name, int(collection.count()), sources, str(embeddings) if embeddings else None
    )


def list_infos(client: Any) -> list[CollectionInfo]:
    """Every collection (not the records beside them), by name."""
    names = sorted(c if isinstance(c, str) else c.name for c in client.list_collections())
    found = [read_info(client, n) for n in names if not n.endswith(RECORDS_SUFFIX)]
    return [info for info in found if info is not None]
