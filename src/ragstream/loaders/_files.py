"""``FileLoader``: local files and folders (text, Markdown, HTML, PDF) to documents."""

from __future__ import annotations

import asyncio
import codecs
import os
import re
import time
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from ragstream.documents import Document
from ragstream.errors import ConfigError, SourceError
from ragstream.loaders._base import BaseLoader
from ragstream.loaders._html import decode_html, looks_binary, page_metadata, parse_html
from ragstream.loaders._pdf import PdfMode, read_pdf

__all__ = ["DirectoryLoader", "FileLoader"]

StrPath = str | os.PathLike[str]

_KINDS = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
}
_HEADING = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
# Files are read in a worker thread, as many per trip as fit in this time: one
# trip per small file costs more than reading it when a store's calls hold
# the GIL (each trip can wait out the interpreter's 5 ms switch interval).
_TRIP_SECONDS = 0.02
_TRIP_FILES = 256


def _as_list(paths: StrPath | Sequence[StrPath]) -> list[StrPath]:
    if isinstance(paths, str | os.PathLike):
        return [paths]
    items = list(paths)
    for item in items:
        if not isinstance(item, str | os.PathLike):
            raise ConfigError(f"paths must be str or os.PathLike, not {type(item).__name__}")
    return items


class FileLoader(BaseLoader):
    """Load local files, and the files in folders, as documents.

    Each path may be a file or a folder. A folder is searched with ``glob``
    (recursively unless ``recursive=False``), skipping hidden files and
    folders unless ``include_hidden=True``, and loading the files whose suffix
    is in ``suffixes`` (by default the ones read below), in sorted order. A
    file named directly is always loaded; an unknown suffix is read as text.

    * ``.txt``, ``.md`` and other text: the text as it is, decoded with
      ``encoding`` (UTF-8 by default; a byte order mark wins). Bytes that are
      not valid in that encoding fail the file rather than being replaced.
      Markdown's first ``# heading`` becomes ``title``.
    * ``.html``/``.htm``: decoded by its ``<meta charset>`` (else UTF-8, else
      windows-1252), parsed with BeautifulSoup (``bs_kwargs`` are passed on),
      the text from ``soup.get_text()``; ``title`` from ``<title>``.
    * ``.pdf``: with pypdf, one document per page that has text
      (``pdf_mode="page"``, metadata ``page`` from 0 and ``total_pages``), or
      one per file (``pdf_mode="single"``).

    ``source`` metadata is the file's path (as given, joined with the path
    found under a folder); HTML files also get ``description`` and
    ``language``. Failures are collected as in every loader: the other files
    load, then ``LoadError`` carries both.

    >>> docs = FileLoader("notes/", glob="**/*.md").load()
    >>> docs[0].metadata
    {'source': 'notes/intro.md', 'title': 'Introduction'}
    """

    def __init__(
        self,
        paths: StrPath | Sequence[StrPath],
        *,
        glob: str = "**/*",
        recursive: bool = True,
        suffixes: Collection[str] | None = None,
        include_hidden: bool = False,
        encoding: str = "utf-8",
        bs_kwargs: Mapping[str, Any] | None = None,
        pdf_mode: PdfMode = "page",
        max_bytes: int = 50 * 1024 * 1024,
        continue_on_failure: bool = False,
    ) -> None:
        self.paths = _as_list(paths)
        if not glob:
            raise ConfigError("glob must not be empty; use '**/*' for every file")
        if pdf_mode not in ("page", "single"):
            raise ConfigError(f"pdf_mode must be 'page' or 'single', not {pdf_mode!r}")
        if max_bytes < 1:
            raise ConfigError(f"max_bytes must be at least 1, not {max_bytes!r}")
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise ConfigError(f"unknown encoding {encoding!r}") from exc
        self.glob = glob
        self.recursive = recursive
        self.suffixes = frozenset(
            s.lower() if s.startswith(".") else f".{s.lower()}" for s in (suffixes or _KINDS)
        )
        self.include_hidden = include_hidden
        self.encoding = encoding
        self.bs_kwargs = dict(bs_kwargs or {})
        self.pdf_mode: PdfMode = pdf_mode
        self.max_bytes = max_bytes
        self.continue_on_failure = continue_on_failure

    def __repr__(self) -> str:
        return f"{type(self).__name__}(paths={[str(p) for p in self.paths]!r}, glob={self.glob!r})"

    def files(self) -> list[Path]:
        """The files ``load`` reads, in the order it reads them.

        Each file named, and the files found in each folder (sorted, filtered
        by ``glob``, ``suffixes`` and ``include_hidden``). Paths that cannot
        be read (missing, or a folder with no matching file) are left out:
        loading reports them. A file named twice is listed twice, as it is
        read twice. Nothing is read but folder listings, so a progress bar
        can take ``len(loader.files())`` as its total.

        >>> [p.name for p in FileLoader("notes/", glob="*.md").files()]  # doctest: +SKIP
        ['intro.md', 'usage.md']
        """
        return [item for item in self._plan() if isinstance(item, Path)]

    async def afiles(self) -> list[Path]:
        """The async twin of ``files`` (the folders are listed in a worker thread)."""
        return await asyncio.to_thread(self.files)

    def _plan(self) -> list[Path | SourceError]:
        """Each file to read, or the error of a path that cannot be, in order."""
        out: list[Path | SourceError] = []
        for given in self.paths:
            try:
                out.extend(self._files_of(Path(given)))
            except SourceError as exc:
                out.append(exc)
        return out

    async def _aresults(self) -> AsyncIterator[Document | SourceError]:
        plan = await asyncio.to_thread(self._plan)
        start = 0
        while start < len(plan):
            results, start = await asyncio.to_thread(self._read_some, plan, start)
            for result in results:
                if isinstance(result, SourceError):
                    yield result
                else:
                    for document in result:
                        yield document

    def _read_some(
        self, plan: list[Path | SourceError], start: int
    ) -> tuple[list[list[Document] | SourceError], int]:
        """Read files from ``plan[start]`` on, for up to ``_TRIP_SECONDS``; where it stopped."""
        out: list[list[Document] | SourceError] = []
        began = time.monotonic()
        end = min(len(plan), start + _TRIP_FILES)
        for i in range(start, end):
            item = plan[i]
            if isinstance(item, SourceError):
                out.append(item)
                continue
            try:
                out.append(self._read(item))
            except SourceError as exc:
                out.append(exc)
            if time.monotonic() - began >= _TRIP_SECONDS:
                return out, i + 1
        return out, end

    def _files_of(self, path: Path) -> list[Path]:
        source = str(path)
        try:
            if path.is_dir():
                return self._scan(path)
            if path.exists():
                return [path]
        except OSError as exc:
            raise SourceError(source, f"cannot read: {exc.strerror or exc}") from exc
        raise SourceError(source, "no such file or directory")

    def _scan(self, root: Path) -> list[Path]:
        found = []
        for path in root.glob(self.glob):
            relative = path.relative_to(root)
            if not self.recursive and len(relative.parts) > 1:
                continue
            if not self.include_hidden and any(p.startswith(".") for p in relative.parts):
                continue
            if path.suffix.lower() in self.suffixes and path.is_file():
                found.append(path)
        if not found:
            kinds = ", ".join(sorted(self.suffixes))
            raise SourceError(str(root), f"no files matching {self.glob!r} with suffix {kinds}")
        return sorted(found)

    def _read(self, path: Path) -> list[Document]:
        source = str(path)
        kind = _KINDS.get(path.suffix.lower(), "text")
        try:
            size = path.stat().st_size
            if size > self.max_bytes:
                limit = f"over the {self.max_bytes}-byte limit"
                raise SourceError(source, f"file is {size} bytes, {limit}")
            if kind == "pdf":
                return read_pdf(path, source=source, mode=self.pdf_mode)
            data = path.read_bytes()
        except OSError as exc:
            raise SourceError(source, f"cannot read: {exc.strerror or exc}") from exc
        if kind == "html":
            return [self._html(data, source)]
        return [self._text(data, source, markdown=kind == "markdown")]

    def _html(self, data: bytes, source: str) -> Document:
        if looks_binary(data):
            raise SourceError(source, "binary file, not HTML")
        text, _ = decode_html(data)
        soup = parse_html(text, source=source, bs_kwargs=self.bs_kwargs)
        content = soup.get_text()
        if not content.strip():
            raise SourceError(source, "no text in the HTML file")
        return Document(page_content=content, metadata=page_metadata(soup, source))

    def _text(self, data: bytes, source: str, *, markdown: bool) -> Document:
        if looks_binary(data):
            raise SourceError(source, "binary file, not text")
        text = self._decode(data, source)
        if not text.strip():
            raise SourceError(source, "the file has no text")
        metadata: dict[str, Any] = {"source": source}
        if markdown and (heading := _HEADING.search(text)) is not None:
            metadata["title"] = heading.group(1)
        return Document(page_content=text, metadata=metadata)

    def _decode(self, data: bytes, source: str) -> str:
        for bom, encoding in (
            (codecs.BOM_UTF8, "utf-8"),
            (codecs.BOM_UTF16_LE, "utf-16-le"),
            (codecs.BOM_UTF16_BE, "utf-16-be"),
        ):
            if data.startswith(bom):
                data, chosen = data[len(bom) :], encoding
                break
        else:
            chosen = self.encoding
        try:
            return data.decode(chosen)
        except UnicodeDecodeError as exc:
            name = codecs.lookup(chosen).name
            bad = data[exc.start : exc.start + 1].hex()
            raise SourceError(
                source,
                f"not valid {name} text (byte 0x{bad} at offset {exc.start}); "
                "pass encoding=... to read it in another encoding",
            ) from exc


DirectoryLoader = FileLoader
"""The same loader under the name users of the reference framework look for."""
