"""Index records of a Chroma collection, kept in a side collection beside it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ragstream.documents import Document
from ragstream.vectorstores._chroma_client import RECORDS_SUFFIX, not_found
from ragstream.vectorstores._ids import stable_id
from ragstream.vectorstores._records import IndexRecord, RecordStore

if TYPE_CHECKING:
    from ragstream.vectorstores._chroma import Chroma

__all__ = ["ChromaRecords"]

T = TypeVar("T")


class ChromaRecords(RecordStore):
    """Index records as documents of a side collection (ids: hash of the source).

    Reading creates nothing: before the first write there are no records.
    """

    def __init__(self, store: Chroma) -> None:
        self.store = store
        self.collection: Any = None

    def _side(self, *, create: bool) -> Any:
        """The side collection; None if it does not exist and ``create`` is False."""
        if self.collection is None:
            name = self.store.collection_name + RECORDS_SUFFIX
            if create:
                self.store._get_collection()  # records are written beside their collection
                self.collection = self.store._get_client().get_or_create_collection(
                    name, embedding_function=None
                )
            else:
                try:
                    self.collection = self.store._get_client().get_collection(
                        name, embedding_function=None
                    )
                except Exception as exc:
                    if not_found(exc):
                        return None
                    raise
        return self.collection

    @staticmethod
    def _id(source: str) -> str:
        return stable_id(Document("", {"source": source}))

    async def _read(self, what: str, work: Callable[[Any], T], empty: T) -> T:
        def read() -> T:
            side = self._side(create=False)
            return empty if side is None else work(side)

        return await self.store._call_client(what, read)

    async def _write(self, what: str, work: Callable[[Any], None]) -> None:
        await self.store._call_client(what, lambda: work(self._side(create=True)))

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

        return await self._read("reading index records", work, {})

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

        await self._write("writing index records", work)

    async def adelete(self, sources: Sequence[str]) -> None:
        if not sources:
            return
        ids = [self._id(s) for s in sources]

        def work(side: Any) -> None:
            for part in self.store._batches(len(ids)):
                side.delete(ids=ids[part])

        await self._read("deleting index records", work, None)

    async def asources(self) -> list[str]:
        def work(side: Any) -> list[str]:
            got = side.get(include=["metadatas"])
            return [str(m["source"]) for m in got["metadatas"] if m]

        return await self._read("listing index records", work, [])

    async def acount(self) -> int:
        return await self._read("counting index records", lambda side: int(side.count()), 0)
