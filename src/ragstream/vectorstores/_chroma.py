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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ragstream.documents import Document
from ragstream.embeddings import Embeddings
from ragstream.errors import ConfigError, MissingDependencyError, RagstreamError, StoreError
from ragstream.vectorstores._base import SearchHit, VectorStore
from ragstream.vectorstores._filters import Where
from ragstream.vectorstores._ids import stable_id
from ragstream.vectorstores._mmr import unit_rows
from ragstream.vectorstores._records import IndexRecord, RecordStore

__all__ = ["Chroma", "sanitize_metadata"]

T = TypeVar("T")

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$")
_RECORDS_SUFFIX = ".index-records"


def _chromadb() -> Any:
    try:
        import chromadb
    except ImportError as exc:
        raise MissingDependencyError("chromadb", "local") from exc
    return chromadb


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


def _parse_url(url: str) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"Chroma url must look like http://host:8000, got {url!r}")
    if parts.path not in ("", "/") or parts.query:
        raise ConfigError(f"Chroma url must not have a path or query, got {url!r}")
    ssl = parts.scheme == "https"
    try:
        port = parts.port or (443 if ssl else 8000)
    except ValueError as exc:
        raise ConfigError(f"Chroma url {url!r}: {exc}") from None
    return parts.hostname, port, ssl


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
        remote = url is not None or host is not None
        if sum([client is not None, remote, persist_directory is not None]) > 1:
            raise ConfigError("Chroma: give at most one of client, url/host and persist_directory")
        if url is not None and (host is not None or port is not None):
            raise ConfigError("Chroma: give url, or host and port, not both")
        self.collection_name = collection_name
        self.persist_directory = (
            str(Path(persist_directory)) if persist_directory is not None else None
        )
        self.collection_metadata = dict(collection_metadata) if collection_metadata else None
        self._server: tuple[str, int, bool] | None = None
        if url is not None:
            self._server = _parse_url(url)
        elif host is not None:
            self._server = (host, port or 8000, ssl)
        self._headers = dict(headers) if headers else None
        self._embedding = embedding_function
        self._client = client
        self._collection: Any = None
        self._distance: Callable[[float], float] = _cosine_distance("cosine")
        self._max_batch = 1000
        self._lock = threading.Lock()
        self._records: _ChromaRecords | None = None

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
        if self._server is not None:
            host, port, ssl = self._server
            return f"at {'https' if ssl else 'http'}://{host}:{port}"
        if self.persist_directory is not None:
            return f"in {self.persist_directory}"
        return "in memory" if self._client is None else "(given client)"

    def __repr__(self) -> str:
        return f"Chroma(collection_name={self.collection_name!r}, {self._where()})"

    # -- the connection ------------------------------------------------------

    def _get_client(self) -> Any:
        if self._client is None:
            chromadb = _chromadb()
            settings = chromadb.config.Settings(anonymized_telemetry=False)
            if self._server is not None:
                host, port, ssl = self._server
                self._client = chromadb.HttpClient(
                    host=host, port=port, ssl=ssl, headers=self._headers, settings=settings
                )
            elif self.persist_directory is not None:
                self._client = chromadb.PersistentClient(
                    path=self.persist_directory, settings=settings
                )
            else:
                self._client = chromadb.EphemeralClient(settings=settings)
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

    def _run(self, what: str, work: Callable[[Any], T]) -> T:
        try:
            return work(self._get_collection())
        except RagstreamError:
            raise
        except Exception as exc:  # chromadb's errors, and httpx's for a server
            raise StoreError(
                f"Chroma collection {self.collection_name!r} {self._where()}: {what} failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    async def _call(self, what: str, work: Callable[[Any], T]) -> T:
        # chromadb blocks (disk or HTTP): keep the event loop free
        return await asyncio.to_thread(self._run, what, work)

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
            self._records = _ChromaRecords(self)
        return self._records

    # -- whole collections ---------------------------------------------------

    async def adelete_collection(self) -> None:
        """Drop the collection and its index records (the next use starts empty)."""

        def work(_collection: Any) -> None:
            client = self._get_client()
            for name in (self.collection_name, self.collection_name + _RECORDS_SUFFIX):
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


class _ChromaRecords(RecordStore):
    """Index records as documents of a side collection (ids: hash of the source)."""

    def __init__(self, store: Chroma) -> None:
        self.store = store
        self.collection: Any = None

    def _side(self) -> Any:
        if self.collection is None:
            self.store._get_collection()  # same client, same errors
            self.collection = self.store._get_client().get_or_create_collection(
                self.store.collection_name + _RECORDS_SUFFIX, embedding_function=None
            )
        return self.collection

    @staticmethod
    def _id(source: str) -> str:
        return stable_id(Document("", {"source": source}))

    async def _side_call(self, what: str, work: Callable[[Any], T]) -> T:
        return await self.store._call(what, lambda _c: work(self._side()))

    async def aget(self, sources: Sequence[str]) -> dict[str, IndexRecord]:
        if not sources:
            return {}
        ids = [self._id(s) for s in sources]

        def work(side: Any) -> dict[str, IndexRecord]:
            out = {}
            for part in self.store._batches(len(ids)):
                got = side.get(ids=ids[part], include=["documents"])
                for text in got["documents"]:
                    record = IndexRecord.from_json(text)
                    out[record.source] = record
            return out

        return await self._side_call("reading index records", work)

    async def aput(self, records: Sequence[IndexRecord]) -> None:
        if not records:
            return
        ids = [self._id(r.source) for r in records]
        texts = [r.to_json() for r in records]
        metas = [{"source": r.source} for r in records]

        def work(side: Any) -> None:
            for part in self.store._batches(len(ids)):
                # Chroma wants a vector for everything it stores; records need none
                side.upsert(
                    ids=ids[part], documents=texts[part], metadatas=metas[part],
                    embeddings=[[1.0]] * len(ids[part]),
                )

        await self._side_call("writing index records", work)

    async def adelete(self, sources: Sequence[str]) -> None:
        if not sources:
            return
        ids = [self._id(s) for s in sources]

        def work(side: Any) -> None:
            for part in self.store._batches(len(ids)):
                side.delete(ids=ids[part])

        await self._side_call("deleting index records", work)

    async def asources(self) -> list[str]:
        def work(side: Any) -> list[str]:
            got = side.get(include=["metadatas"])
            return [str(m["source"]) for m in got["metadatas"] if m]

        return await self._side_call("listing index records", work)
