"""The error a batch load raises when some of its sources failed."""

from __future__ import annotations

from collections.abc import Sequence

from ragstream.documents import Document
from ragstream.errors import SourceError

__all__ = ["LoadError"]


class LoadError(SourceError):
    """Some sources of a batch failed; the others were still loaded.

    ``failures`` holds one ``SourceError`` per failed source, in input order.
    ``documents`` holds what ``load()``/``aload()`` did load, so a caller can
    keep it and report the rest; from ``lazy_load()``/``alazy_load()`` those
    documents were already yielded and ``documents`` is empty. ``loaded`` is
    the number of documents loaded either way.

    >>> try:
    ...     docs = loader.load()
    ... except LoadError as exc:
    ...     docs = exc.documents
    ...     print(exc)  # loaded 8 documents, failed 2 sources: <source>: <reason>; ...
    """

    def __init__(
        self,
        failures: Sequence[SourceError],
        *,
        documents: Sequence[Document] = (),
        loaded: int | None = None,
    ) -> None:
        if not failures:
            raise ValueError("LoadError needs at least one failure")
        self.failures = list(failures)
        self.documents = list(documents)
        self.loaded = len(self.documents) if loaded is None else loaded
        sources = ", ".join(f.source for f in self.failures)
        s_docs = "" if self.loaded == 1 else "s"
        s_srcs = "" if len(self.failures) == 1 else "s"
        details = "; ".join(str(f) for f in self.failures)
        super().__init__(
            sources,
            f"loaded {self.loaded} document{s_docs}, "
            f"failed {len(self.failures)} source{s_srcs}: {details}",
        )

    def __str__(self) -> str:
        # the reason already names every failed source; do not prefix them again
        return self.reason
