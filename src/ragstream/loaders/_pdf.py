"""PDF files to documents, with pypdf (imported on first use)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ragstream.documents import Document
from ragstream.errors import SourceError

__all__ = ["PdfMode", "read_pdf"]

PdfMode = Literal["page", "single"]


def read_pdf(path: Path, *, source: str, mode: PdfMode) -> list[Document]:
    """One document per page with text (``mode="page"``), or one for the file (``"single"``).

    Page documents carry ``page`` (0-based, as the reference PDF loader) and
    ``total_pages``; pages without text (scans, blank pages) are skipped.
    """
    from pypdf import PdfReader

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise SourceError(source, "the PDF is encrypted and needs a password")
        texts = [page.extract_text() or "" for page in reader.pages]
        title = _title(reader)
    except SourceError:
        raise
    except Exception as exc:
        # pypdf reports damage through many exception types (PdfReadError,
        # ValueError, KeyError, ...), whatever part of the file it trips on
        raise SourceError(source, f"not a readable PDF: {exc or type(exc).__name__}") from exc
    total = len(texts)
    if not any(text.strip() for text in texts):
        raise SourceError(source, f"no text in the PDF's {total} page(s) (scanned images?)")
    base = {"source": source, **({"title": title} if title else {})}
    if mode == "single":
        content = "\n\n".join(text for text in texts if text.strip())
        return [Document(page_content=content, metadata={**base, "total_pages": total})]
    return [
        Document(page_content=text, metadata={**base, "page": number, "total_pages": total})
        for number, text in enumerate(texts)
        if text.strip()
    ]


def _title(reader: object) -> str | None:
    info = getattr(reader, "metadata", None)
    title = getattr(info, "title", None) if info is not None else None
    if not title:
        return None
    return str(title).strip() or None
