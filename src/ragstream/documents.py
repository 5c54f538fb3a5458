"""The document: a piece of text with metadata about where it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Document", "StuffedDocuments"]


@dataclass(eq=True, slots=True)
class Document:
    """A piece of text and its metadata.

    >>> Document("Task decomposition ...", metadata={"source": "https://example.org"})
    Document(page_content='Task decomposition ...', metadata={'source': 'https://example.org'})
    """

    page_content: str
    metadata: dict[str, Any] = field(default_factory=dict)
    id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.page_content, str):
            raise TypeError(
                f"Document.page_content must be a str, not {type(self.page_content).__name__}"
            )
        if self.metadata is None:
            self.metadata = {}

    def __repr__(self) -> str:
        # The guide prints documents this way; the id (set by vector stores) is
        # still on ``doc.id`` and in ``to_dict()``.
        return f"Document(page_content={self.page_content!r}, metadata={self.metadata!r})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict in the shape clients of the reference framework expect."""
        return {
            "id": self.id,
            "metadata": self.metadata,
            "page_content": self.page_content,
            "type": "Document",
        }


class StuffedDocuments(str):
    """The text of several documents joined for a prompt, remembering the documents.

    It is a ``str`` everywhere text is expected; a prompt that renders it keeps
    ``documents`` on the prompt value, so a model that cites its sources (the
    offline extractive model) knows which document each passage came from.
    """

    documents: list[Document]

    def __new__(cls, text: str, documents: list[Document]) -> StuffedDocuments:
        obj = super().__new__(cls, text)
        obj.documents = list(documents)
        return obj
