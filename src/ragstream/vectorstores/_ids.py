"""Stable ids and content hashes for documents.

A document's default id depends only on its text and the ``source`` in its
metadata, so adding the same chunk of the same source twice writes it once.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ragstream.documents import Document

__all__ = ["content_hash", "stable_id"]


def _source_of(metadata: dict[str, Any], source_key: str) -> str:
    source = metadata.get(source_key)
    return "" if source is None else str(source)


def stable_id(doc: Document, *, source_key: str = "source") -> str:
    """The id a document gets when none is given: a hash of its source and text.

    >>> stable_id(Document("hello", metadata={"source": "a.txt", "page": 3}))
    '5864a7eadf3d1ae22293252c267ce9e0'
    """
    payload = json.dumps([_source_of(doc.metadata, source_key), doc.page_content])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def content_hash(doc: Document) -> str:
    """A hash of a document's text and all of its metadata (key order does not matter)."""
    payload = json.dumps(
        [doc.page_content, doc.metadata], sort_keys=True, default=str, ensure_ascii=False
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]
