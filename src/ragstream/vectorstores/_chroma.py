"""``Chroma``: the vector store of the guide, on the real ``chromadb`` engine.

Three ways to reach a collection, chosen by the arguments:

- ``persist_directory="..."``: embedded, on disk (``chromadb.PersistentClient``);
- ``url="http://host:8000"`` or ``host=``/``port=``: a Chroma server
  (``chroma run``, or Chroma's distributed deployment), over HTTP;
- neither: embedded, in memory (``chromadb.EphemeralClient``). Chroma shares
  one in-memory database per process, so two stores with the same
  ``collection_name`` see the same documents.

ragstream computes the vectors itself (with ``embedding_function``, MiniLM
when none is given) and hands them to Chroma normalized; collections are
created in the cosine space. A collection made elsewhere in the ``l2`` or
``ip`` space still works: distances are converted to cosine distances.

Chroma metadata holds str, int, float, bool and non-empty lists of one of
those. Other values are stored changed: ``None`` values are left out, dicts
and other lists are stored as JSON text, anything else as ``str(value)``.

Index records (see ``ragstream.indexing``) live in a second collection named
``"<collection_name>.index-records"``, beside the first.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from ragstream.documents import Document
from ragstream.embeddings import Embeddings
from ragstream.errors import ConfigError, RagstreamError, StoreError
from ragstream.vectorstores._base import SearchHit, VectorStore
from ragstream.vectorstores._chroma_client import (
    RECORDS_SUFFIX,
    describe,
    not_found,
    open_client,
    target,
)
from ragstream.vectorstores._chroma_records import ChromaRecords
from ragstream.vectorstores._filters import Where
from ragstream.vectorstores._mmr import unit_rows
from ragstream.vectorstores._records import RecordStore

__all__ = ["Chroma", "sanitize_metadata"]

T = TypeVar("T")

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$")


def _scalar_kind(value: Any) -> type | None:
    if isinstance(value, bool):
        return bool
    if isinstance(value, int | float | str):
        return type(value)
    return None


def sanitize_metadata(metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    """Metadata as Chroma can hold it (None when nothing is left).

    >>> sanitize_metadata({"source": "a.txt", "page": None, "authors": ["x", "y"], "extra": {}})
    {'source': 'a.txt', 'authors': ['x', 'y'], 'extra': '{}'}
    """
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if value is None:
            continue
        name = str(key)
        if _scalar_kind(value) is not None:
            out[name] = value
        elif isinstance(value, list | tuple):
            kinds = {_scalar_kind(v) for v in value}
            if value and len(kinds) == 1 and None not in kinds:
                out[name] = list(value)
            else:
                out[name] = json.dumps(value, default=str, ensure_ascii=False)
        elif isinstance(value, dict):
            out[name] = json.dumps(value, default=str, ensure_ascii=False)
        else:
            out[name] = str(value)
    return out or None


def _metadata(stored: Mapping[str, Any] | None) -> dict[str, Any]:
    # Chroma returns keys in no fixed order; sorted keys print the same every time
    return dict(sorted((stored or {}).items()))


def _cosine_distance(space: str) -> Callable[[float], float]:
    if space == "l2":  # squared L2 of unit vectors is 2 - 2 cos
        return lambda d: d / 2.0
    return lambda d: d  # cosine: 1 - cos; ip of unit vectors: 1 - cos as well


class Chroma(VectorStore):
    """A Chroma collection as a vector store.

    >>> from ragstream.vectorstores import Chroma
    >>> from ragstream.embeddings import OpenAIEmbeddings
    >>> splits = [Document("Task decomposition is ...", {"source": "a.txt"})]
    >>> vectorstore = Chroma.from_documents(documents=splits, embedding=OpenAIEmbeddings())
    >>> retriever = vectorstore.as_retriever()  # doctest: +SKIP
    """

    def __init__(
        self,
        collection_name: str = "ragstream",
        embedding_function: Embeddings | None = None,
        persist_directory: str | os.PathLike[str] | None = None,
        *,
        client: Any = None,
        host: str | None = None,
        port: int | None = None,
        url: str | None = None,
        ssl: bool = False,
        headers: Mapping[str, str] | None = None,
        collection_metadata: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(collection_name, str) or not _NAME.match(collection_name) or (
            ".." in collection_name
        ):
            raise ConfigError(
                f"Chroma collection_name must be 3-512 characters of letters, digits, '.', '_'"
                f" or '-', starting and ending with a letter or digit; got {collection_name!r}"
            )
        if embedding_function is not None and not isinstance(embedding_function, Embeddings):
            raise ConfigError(
                f"Chroma embedding_function must be an Embeddings, "
                f"not {type(embedding_function).__name__}"
            )
        self._server, self.persist_directory = target(
            client=client, persist_directory=persist_directory, url=url, host=host, port=port,
            ssl=ssl,
        )
        self.collection_name = collection_name
        self.collection_metadata = dict(collection_metadata) if collection_metadata else None
        self._headers = dict(headers) if headers else None
        self._embedding = embedding_function
        self._client = client
        self._collection: Any = None
        self._distance: Callable[[float], float] = _cosine_distance("cosine")
        self._max_batch = 1000
        self._lock = threading.Lock()
        self._records: ChromaRecords | None = None

    @classmethod
    def _from_embedding(cls, embedding: Embeddings, **kwargs: Any) -> Chroma:
        return cls(embedding_function=embedding, **kwargs)

    @property
    def embeddings(self) -> Embeddings:
        if self._embedding is None:
            from ragstream.embeddings._minilm import MiniLMEmbeddings

            self._embedding = MiniLMEmbeddings()
        return self._embedding

    def _where(self) -> str:
        return describe(self._server, self.persist_directory, self._client)

    def __repr__(self) -> str:
        return f"Chroma(collection_name={self.collection_name!r}, {self._where()})"

    # -- the connection ------------------------------------------------------

    def _get_client(self) -> Any:
        if self._client is None:
            self._client = open_client(self._server, self.persist_directory, self._headers)
            try:
                self._max_batch = int(self._client.get_max_batch_size())
            except Exception:  # older servers do not say; keep a safe size
                self._max_batch = 1000
        return self._client

    def _get_collection(self) -> Any:
        if self._collection is None:
            with self._lock:
                if self._collection is None:
                    client = self._get_client()
                    extra: dict[str, Any] = {"metadata": self.collection_metadata}
                    if not (self.collection_metadata or {}).get("hnsw:space"):
                        extra["configuration"] = {"hnsw": {"space": "cosine"}}
                    collection = client.get_or_create_collection(
                        self.collection_name, embedding_function=None, **extra
                    )
                    self._distance = _cosine_distance(_space_of(collection))
                    self._collection = collection
        return self._collection

    def _guarded(self, what: str, work: Callable[[], T]) -> T:
        try:
            return work()
        except RagstreamError:
            raise
        except Exception as exc:  # chromadb's errors, and httpx's for a server
            raise StoreError(
                f"Chroma collection {self.collection_name!r} {self._where()}: {what} failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    async def _call(self, what: str, work: Callable[[Any], T]) -> T:
        # chromadb blocks (disk or HTTP): keep the event loop free
        return await asyncio.to_thread(self._guarded, what, lambda: work(self._get_collection()))

    async def _call_client(self, what: str, work: Callable[[], T]) -> T:
        """Like ``_call``, for work that must not open (so create) the collection."""
        return await asyncio.to_thread(self._guarded, what, work)

    def _batches(self, n: int) -> list[slice]:
        size = max(1, self._max_batch)
        return [slice(i, i + size) for i in range(0, n, size)]

    # -- the five methods of a store -----------------------------------------

    async def _aupsert(
        self, ids: list[str], documents: list[Document], vectors: list[list[float]]
    ) -> None:
        matrix = unit_rows(vectors)
        metadatas = [sanitize_metadata(d.metadata) for d in documents]
        texts = [d.page_content for d in documents]

        def work(collection: Any) -> None:
            for part in self._batches(len(ids)):
                collection.upsert(
                    ids=ids[part], embeddings=matrix[part], documents=texts[part],
                    metadatas=metadatas[part],
                )

        await self._call(f"adding {len(ids)} documents", work)

    async def _asearch(
        self, vector: list[float], *, k: int, where: Where | None, with_vectors: bool
    ) -> list[SearchHit]:
        include = ["documents", "metadatas", "distances"]
        if with_vectors:
            include.append("embeddings")
        query = unit_rows(vector)

        def work(collection: Any) -> Any:
            return collection.query(
                query_embeddings=query, n_results=k, where=where, include=include
            )

        result = await self._call("searching", work)
        ids = result["ids"][0]
        docs = result["documents"][0]
        metas = result["metadatas"][0]
        distances = result["distances"][0]
        vectors = result["embeddings"][0] if with_vectors else [None] * len(ids)
        return [
            SearchHit(
                Document(text or "", _metadata(meta), id=doc_id),
                min(2.0, max(0.0, self._distance(float(distance)))),
                vec,
            )
            for doc_id, text, meta, distance, vec in zip(
                ids, docs, metas, distances, vectors, strict=True
            )
        ]

    async def _adelete(self, ids: list[str] | None, where: Where | None) -> None:
        def work(collection: Any) -> None:
            if ids is None:
                collection.delete(where=where)
                return
            for part in self._batches(len(ids)):
                collection.delete(ids=ids[part], where=where)

        await self._call("deleting", work)

    async def _aget_by_ids(self, ids: list[str]) -> list[Document]:
        def work(collection: Any) -> list[Document]:
            out = []
            for part in self._batches(len(ids)):
                got = collection.get(ids=ids[part], include=["documents", "metadatas"])
                for doc_id, text, meta in zip(
                    got["ids"], got["documents"], got["metadatas"], strict=True
                ):
                    out.append(Document(text or "", _metadata(meta), id=doc_id))
            return out

        return await self._call("reading documents by id", work)

    async def acount(self) -> int:
        return await self._call("counting", lambda collection: int(collection.count()))

    def record_store(self) -> RecordStore:
        if self._records is None:
            self._records = ChromaRecords(self)
        return self._records

    # -- whole collections ---------------------------------------------------

    @classmethod
    async def alist_collections(
        cls,
        *,
        client: Any = None,
        persist_directory: str | os.PathLike[str] | None = None,
        url: str | None = None,
        host: str | None = None,
        port: int | None = None,
        ssl: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> list[str]:
        """The names of the collections in a Chroma, sorted.

        The Chroma is chosen as for a store: ``persist_directory``, ``url`` (or
        ``host``/``port``), a chromadb ``client``, or none of them for the
        in-memory one. The side collections that hold index records
        (``"<name>.index-records"``) are left out. Listing creates nothing: a
        ``persist_directory`` that does not exist holds no collections.

        >>> await Chroma.alist_collections(url="http://localhost:8000")  # doctest: +SKIP
        ['docs', 'notes']
        """
        server, folder = target(
            client=client, persist_directory=persist_directory, url=url, host=host, port=port,
            ssl=ssl,
        )
        if folder is not None and not Path(folder).exists():
            return []

        def work() -> list[str]:
            found = (client or open_client(server, folder, dict(headers or {}) or None))
            names = [c if isinstance(c, str) else c.name for c in found.list_collections()]
            return sorted(n for n in names if not n.endswith(RECORDS_SUFFIX))

        try:
            return await asyncio.to_thread(work)
        except RagstreamError:
            raise
        except Exception as exc:  # chromadb's errors, and httpx's for a server
            raise StoreError(
                f"Chroma {describe(server, folder, client)}: listing collections failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    @classmethod
    def list_collections(
        cls,
        *,
        client: Any = None,
        persist_directory: str | os.PathLike[str] | None = None,
        url: str | None = None,
        host: str | None = None,
        port: int | None = None,
        ssl: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> list[str]:
        """The sync twin of ``alist_collections``.

        >>> Chroma.list_collections(persist_directory="data/chroma")  # doctest: +SKIP
        ['docs']
        """
        from ragstream.core._bridge import run_sync

        return run_sync(
            lambda: cls.alist_collections(
                client=client, persist_directory=persist_directory, url=url, host=host,
                port=port, ssl=ssl, headers=headers,
            )
        )

    async def aexists(self) -> bool:
        """Whether the collection exists, without creating it (every other use does)."""

        def work() -> bool:
            if self._collection is not None:
                return True
            try:
                self._get_client().get_collection(self.collection_name)
            except Exception as exc:
                if not_found(exc):
                    return False
                raise
            return True

        return await self._call_client("checking the collection", work)

    def exists(self) -> bool:
        """The sync twin of ``aexists``."""
        from ragstream.core._bridge import run_sync

        return run_sync(self.aexists)

    async def aget_collection_metadata(self) -> dict[str, Any]:
        """The collection's metadata as stored.

        That is what it was created with: when the collection existed before
        this store was made, not ``collection_metadata`` (given for creating).
        """
        return await self._call(
            "reading the collection metadata", lambda collection: dict(collection.metadata or {})
        )

    def get_collection_metadata(self) -> dict[str, Any]:
        """The sync twin of ``aget_collection_metadata``."""
        from ragstream.core._bridge import run_sync

        return run_sync(self.aget_collection_metadata)

    async def adelete_collection(self) -> None:
        """Drop the collection and its index records (the next use starts empty)."""

        def work(_collection: Any) -> None:
            client = self._get_client()
            for name in (self.collection_name, self.collection_name + RECORDS_SUFFIX):
                try:
                    client.delete_collection(name)
                except Exception as exc:  # a missing records collection is fine
                    if name == self.collection_name:
                        raise exc
            self._collection = None
            if self._records is not None:
                self._records.collection = None

        await self._call("deleting the collection", work)

    def delete_collection(self) -> None:
        """The sync twin of ``adelete_collection``."""
        from ragstream.core._bridge import run_sync

        run_sync(self.adelete_collection)


def _space_of(collection: Any) -> str:
    try:
        # the raw JSON: reading ``configuration`` warns about legacy embedding functions
        config = collection.configuration_json or {}
        for index in ("hnsw", "spann"):
            part = config.get(index) or {}
            if part.get("space"):
                return str(part["space"])
    except Exception:  # a client too old to expose configuration
        pass
    return str((collection.metadata or {}).get("hnsw:space", "l2"))
