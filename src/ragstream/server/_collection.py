"""The collection the server answers from: whether it holds documents, and
how its file sources are shown.

A question asked of a collection that does not exist, or holds nothing, gets
a clear refusal (409) instead of an answer from no documents, and the
collection is not created by asking. The answer to "does it hold documents"
is kept for ``ttl`` seconds, so a question costs no store read; it is asked
again sooner when an ingest job of this server ends. A collection filled by
``ragstream ingest`` in another process is seen within ``ttl`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ragstream.server._errors import HTTPProblem
from ragstream.server._sources import SourceLabels

__all__ = ["DEFAULT_TTL", "ServedCollection"]

log = logging.getLogger("ragstream.server")

DEFAULT_TTL = 5.0


class ServedCollection:
    """The application's collection as the routes see it.

    Uses ``acheck_collection(name)`` of the application when it has one (and
    ``acollection_sources(name)`` for source labels); without it every
    question is let through.
    """

    def __init__(self, rag_app: Any, *, ttl: float = DEFAULT_TTL,
                 relative_sources: bool = True) -> None:
        self.rag = rag_app
        self.ttl = ttl
        self.relative_sources = relative_sources
        settings = getattr(rag_app, "settings", None)
        collection = getattr(settings, "collection", None)
        self.name: str | None = collection if isinstance(collection, str) else None
        self.chunks: int | None = None
        self.exists: bool | None = None
        self._checked_at: float | None = None
        self._generation = 0
        self._lock: asyncio.Lock | None = None
        self._labels = SourceLabels()
        self._labels_for: tuple[int, int] | None = None

    @property
    def has_documents(self) -> bool | None:
        """What the last check found; None before the first one."""
        return None if self.chunks is None else self.chunks > 0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "exists": self.exists, "documents": self.has_documents,
                "chunks": self.chunks}

    def _fresh(self) -> bool:
        checked = self._checked_at
        return checked is not None and time.monotonic() - checked < self.ttl

    def invalidate(self) -> None:
        """Forget what was found: the next question checks again (after an ingest)."""
        self._generation += 1
        self._checked_at = None

    async def arecent(self) -> ServedCollection:
        """This, checked again if the last check is older than ``ttl`` (for ``/info``);
        a check that fails leaves what was known."""
        if not self._fresh():
            try:
                await self.refresh()
            except Exception:
                log.debug("checking collection %r failed", self.name, exc_info=True)
        return self

    async def require_documents(self) -> None:
        """Return if the collection holds documents; else raise a 409 ``HTTPProblem``
        that says how to add some. Store and configuration errors pass through."""
        if not self._fresh():
            await self.refresh()
        if self.has_documents is False:
            raise HTTPProblem(409, self.refusal(), code="no_documents")

    async def refresh(self) -> None:
        """Check the collection now (one check at a time; others wait for its answer)."""
        check = getattr(self.rag, "acheck_collection", None)
        if check is None:
            self.exists, self.chunks, self._checked_at = True, None, time.monotonic()
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._fresh():
                return  # checked while this one waited
            from ragstream.app import NoDocumentsError

            generation = self._generation
            try:
                info = await check(self.name)
            except NoDocumentsError as exc:
                self.exists, self.chunks = exc.exists, 0
            else:
                self.exists, self.chunks = True, int(info.chunks)
                await self._refresh_labels(info)
            if generation == self._generation:  # no ingest ended meanwhile
                self._checked_at = time.monotonic()

    async def _refresh_labels(self, info: Any) -> None:
        if not self.relative_sources:
            return
        sources = getattr(self.rag, "acollection_sources", None)
        key = (int(info.chunks), int(info.sources))
        if sources is None or key == self._labels_for:
            return
        try:
            self._labels = SourceLabels(await sources(self.name))
        except Exception:  # labels fall back to folder/name; answering goes on
            log.warning("could not list the sources of collection %r", self.name,
                        exc_info=True)
            return
        self._labels_for = key

    def label(self, source: str) -> str:
        """How ``source`` is shown to clients."""
        return self._labels(source) if self.relative_sources else source

    def refusal(self) -> str:
        """What a client is told while the collection holds no documents."""
        name = self.name or "(default)"
        what = "is empty" if self.exists else "does not exist yet"
        return (
            f"collection {name!r} {what}: add documents first, with "
            f"`ragstream ingest PATH_OR_URL --collection {name}` on the server, "
            "or POST /ingest {\"urls\": [...]}"
        )

    def startup_warning(self) -> str:
        """What the server log says at startup while the collection holds no documents."""
        name = self.name or "(default)"
        what = "is empty" if self.exists else "does not exist"
        where = getattr(self.rag, "store_location", None)
        place = f" in {where}" if isinstance(where, str) else ""
        return (
            f"collection {name!r} {what}{place}: questions are refused (HTTP 409) until it "
            f"holds documents; add some with `ragstream ingest PATH_OR_URL --collection "
            f"{name}` (same data directory), or POST /ingest"
        )
