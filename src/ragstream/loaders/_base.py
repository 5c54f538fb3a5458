"""The loader interface: one async method, every other way of loading derived.

An implementer writes ``_aresults()``, an async generator yielding, in input
order, each loaded ``Document`` or the ``SourceError`` of a source that could
not be loaded. The base turns that into ``alazy_load``/``aload`` and their
sync twins ``lazy_load``/``load``, with one policy for failures:

* every source is tried, whatever happened to the others;
* if any failed, a ``LoadError`` is raised at the end, carrying the failures
  and (from ``load``/``aload``) the documents that did load;
* with ``continue_on_failure=True`` failures are logged and skipped instead.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator

from ragstream.core._bridge import iterate_sync, run_sync
from ragstream.documents import Document
from ragstream.errors import SourceError
from ragstream.loaders._errors import LoadError

__all__ = ["BaseLoader"]

logger = logging.getLogger("ragstream.loaders")


class BaseLoader(ABC):
    """Loads documents from sources; subclasses implement ``_aresults``."""

    continue_on_failure: bool = False

    @abstractmethod
    def _aresults(self) -> AsyncIterator[Document | SourceError]:
        """Each document loaded, or the error of each source that failed, in order."""

    async def alazy_load(self) -> AsyncIterator[Document]:
        """Yield documents as they are loaded; raise ``LoadError`` at the end if any failed."""
        failures: list[SourceError] = []
        loaded = 0
        async for item in self._aresults():
            if isinstance(item, SourceError):
                self._failed(item, failures)
            else:
                loaded += 1
                yield item
        if failures:
            raise LoadError(failures, loaded=loaded)

    async def aload(self) -> list[Document]:
        """Load every document; raise ``LoadError`` (with the loaded ones) if any source failed."""
        failures: list[SourceError] = []
        documents: list[Document] = []
        async for item in self._aresults():
            if isinstance(item, SourceError):
                self._failed(item, failures)
            else:
                documents.append(item)
        if failures:
            raise LoadError(failures, documents=documents)
        return documents

    def lazy_load(self) -> Iterator[Document]:
        """The sync twin of ``alazy_load``: stopping early stops the loading."""
        return iterate_sync(self.alazy_load)

    def load(self) -> list[Document]:
        """The sync twin of ``aload``."""
        return run_sync(self.aload)

    def _failed(self, error: SourceError, failures: list[SourceError]) -> None:
        if self.continue_on_failure:
            logger.warning("skipped %s", error)
        else:
            failures.append(error)
