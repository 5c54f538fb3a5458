"""The recursive character splitter: paragraphs, then lines, then words, then characters."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Sequence
from itertools import compress
from operator import sub
from typing import Any, Self

from ragstream.documents import Document
from ragstream.errors import ConfigError, InputError
from ragstream.splitters._merge import prefix_sums, windows, windows_by_walk
from ragstream.splitters._pieces import (
    KeepSeparator,
    literal_bounds,
    literal_pieces,
    regex_pieces,
)
from ragstream.splitters._scan import Clustered, overlaps_itself, scan
from ragstream.splitters._tokens import token_counter

__all__ = ["RecursiveCharacterTextSplitter"]

DEFAULT_SEPARATORS = ("\n\n", "\n", " ", "")

# metadata made only of these can be copied shallowly: nothing in it can be mutated
_ATOMS = (str, int, float, bool, type(None))


class RecursiveCharacterTextSplitter:
    """Split text into chunks of at most ``chunk_size``, cutting at the coarsest separator.

    The text is cut at the first separator it contains (by default a blank
    line, then a newline, a space, and finally between characters); pieces
    still too long are cut again at the next separator. Neighbouring pieces
    are then merged greedily into chunks, each new chunk starting with up to
    ``chunk_overlap`` of the end of the previous one. The chunks (and
    ``start_index`` values) are the same, character for character, as those of
    ``langchain_text_splitters.RecursiveCharacterTextSplitter`` for the same
    arguments, and are computed several times faster.

    >>> splitter = RecursiveCharacterTextSplitter(chunk_size=16, chunk_overlap=6)
    >>> splitter.split_text("one two three four five six")
    ['one two three', 'three four five', 'five six']
    """

    def __init__(
        self,
        chunk_size: int = 4000,
        chunk_overlap: int = 200,
        *,
        separators: Sequence[str] | None = None,
        keep_separator: KeepSeparator = True,
        is_separator_regex: bool = False,
        add_start_index: bool = False,
        strip_whitespace: bool = True,
        length_function: Callable[[str], int] = len,
    ) -> None:
        _check_sizes(chunk_size, chunk_overlap)
        if keep_separator not in (True, False, "start", "end") or not isinstance(
            keep_separator, bool | str
        ):
            raise ConfigError(
                f"keep_separator must be True, False, 'start' or 'end', got {keep_separator!r}"
            )
        if not callable(length_function):
            raise ConfigError(
                f"length_function must be callable, got {type(length_function).__name__}"
            )
        seps = tuple(separators) if separators else DEFAULT_SEPARATORS
        for sep in seps:
            if not isinstance(sep, str):
                raise ConfigError(f"separators must be strings, got {sep!r}")
        self._chunk_size = chunk_size
        self._chunk_overlap = chunk_overlap
        self._separators = seps
        self._keep_separator = keep_separator
        self._is_separator_regex = is_separator_regex
        self._add_start_index = add_start_index
        self._strip_whitespace = strip_whitespace
        self._length_function = length_function
        # measures many pieces at once (a tokenizer's batch encoder), set by the
        # tokenizer constructor; must agree with length_function piece by piece
        self._measure_many: Callable[[list[str]], list[int]] | None = None
        self._patterns = _compile(seps) if is_separator_regex else ()
        # literal separators measured with len: every chunk is one slice of a text
        self._by_slices = not is_separator_regex and length_function is len

    @property
    def chunk_size(self) -> int:
        """The largest chunk length wanted (a chunk may exceed it when a piece cannot be cut)."""
        return self._chunk_size

    @property
    def chunk_overlap(self) -> int:
        """How much of the end of one chunk the next chunk may repeat."""
        return self._chunk_overlap

    @property
    def separators(self) -> tuple[str, ...]:
        """The separators tried, coarsest first."""
        return self._separators

    @classmethod
    def from_huggingface_tokenizer(cls, tokenizer: Any, /, **kwargs: Any) -> Self:
        """A splitter whose sizes count tokens of a Hugging Face tokenizer.

        ``tokenizer`` is a ``tokenizers.Tokenizer`` or a ``transformers``
        tokenizer; other arguments are those of the constructor.

        >>> from ragstream.splitters import load_minilm_tokenizer
        >>> splitter = RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
        ...     load_minilm_tokenizer(), chunk_size=256, chunk_overlap=32)
        """
        if "length_function" in kwargs:
            raise ConfigError("from_huggingface_tokenizer sets length_function itself")
        count, count_many = token_counter(tokenizer)
        splitter = cls(length_function=count, **kwargs)
        splitter._measure_many = count_many
        return splitter

    def split_text(self, text: str) -> list[str]:
        """Split one text into chunks.

        >>> RecursiveCharacterTextSplitter(chunk_size=20, chunk_overlap=0).split_text(
        ...     "First paragraph.\\n\\nSecond, longer paragraph.")
        ['First paragraph.', 'Second, longer', 'paragraph.']
        """
        if not isinstance(text, str):
            raise InputError(f"split_text expects a str, got {type(text).__name__}")
        out: list[str] = []
        self._split(text, 0, out)
        return out

    def create_documents(
        self, texts: Sequence[str], metadatas: Sequence[dict[str, Any]] | None = None
    ) -> list[Document]:
        """Split each text into documents, each chunk with its own copy of the text's metadata.

        With ``add_start_index`` the metadata also gets ``start_index``, where
        the chunk was found in the text (searched from just before where the
        previous chunk's overlap could begin, as the reference does).
        """
        if isinstance(texts, str):
            raise InputError("create_documents expects a list of texts, got one str")
        if metadatas and len(metadatas) != len(texts):
            raise InputError(
                f"create_documents got {len(metadatas)} metadatas for {len(texts)} texts"
            )
        documents: list[Document] = []
        for position, text in enumerate(texts):
            metadata = metadatas[position] if metadatas else {}
            copier = _copier(metadata)
            index = previous_len = 0
            for chunk in self.split_text(text):
                meta = copier(metadata)
                if self._add_start_index:
                    offset = index + previous_len - self._chunk_overlap
                    index = text.find(chunk, max(0, offset))
                    meta["start_index"] = index
                    previous_len = len(chunk)
                documents.append(Document(chunk, metadata=meta))
        return documents

    def split_documents(self, documents: Iterable[Document]) -> list[Document]:
        """Split documents; every chunk keeps a copy of its document's metadata.

        >>> splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        >>> splits = splitter.split_documents([Document("...", metadata={"source": "a.txt"})])
        """
        texts: list[str] = []
        metadatas: list[dict[str, Any]] = []
        for doc in documents:
            texts.append(doc.page_content)
            metadatas.append(doc.metadata)
        return self.create_documents(texts, metadatas)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(chunk_size={self._chunk_size}, "
            f"chunk_overlap={self._chunk_overlap}, separators={list(self._separators)!r})"
        )

    # the recursion: one call per (sub)text that still needs cutting

    def _choose(self, text: str, start: int) -> tuple[int, bool]:
        """The separator to cut ``text`` at, and whether finer ones remain after it."""
        seps = self._separators
        for i in range(start, len(seps)):
            sep = seps[i]
            if not sep:
                return i, False
            found = self._patterns[i][0].search(text) if self._patterns else sep in text
            if found:
                return i, i + 1 < len(seps)
        return len(seps) - 1, False

    def _split(self, text: str, start: int, out: list[str]) -> None:
        level, finer = self._choose(text, start)
        if self._by_slices:
            self._split_slices(text, level, finer, out)
        else:
            self._split_pieces(text, level, finer, out)

    def _split_slices(self, text: str, level: int, finer: bool, out: list[str]) -> None:
        """Chunks as slices of ``text``: literal separators measured with ``len``."""
        size = self._chunk_size
        overlap = self._chunk_overlap
        strip = self._strip_whitespace
        sep = self._separators[level]
        keep = self._keep_separator
        glue = 0
        if not keep and sep:
            # the reference drops empty pieces and joins the rest with one
            # separator: collapse the text the same way, then every chunk is
            # a slice of it again
            glue = len(sep)
            if text.startswith(sep) or text.endswith(sep) or sep + sep in text:
                text = sep.join(filter(None, text.split(sep)))
            if not text:
                return
        at_end = glue > 0 or keep == "end"

        def on_long(piece: str) -> None:
            if finer:
                self._split(piece, level + 1, out)
            else:
                out.append(piece)

        resume = 0
        # the separator appended for glue could overlap the end of the text
        # and move where a self-overlapping separator is found: no scan then
        if sep and not (glue and overlaps_itself(sep)):
            try:
                scan(
                    text + sep if glue else text,
                    sep,
                    at_end=at_end,
                    glue=glue,
                    size=size,
                    overlap=overlap,
                    strip=strip,
                    out=out,
                    on_long=on_long,
                )
                return
            except Clustered as exc:
                resume = exc.resume
        bounds = literal_bounds(text, sep, at_end=at_end, glue=glue, start=resume)
        count = len(bounds) - 1
        longs: Iterable[int] = ()
        if count and max(map(sub, bounds[1:], bounds)) >= size + glue:
            gaps = map(sub, bounds[1:], bounds)
            longs = compress(range(count), map((size + glue).__le__, gaps))
        lo = 0
        for t in [*longs, count]:
            if t > lo:
                for a, b in windows(bounds, glue, lo, t, size, overlap):
                    chunk = text[bounds[a] : bounds[b] - glue]
                    if strip:
                        chunk = chunk.strip()
                    if chunk:
                        out.append(chunk)
            if t < count:
                on_long(text[bounds[t] : bounds[t + 1] - glue])
            lo = t + 1

    def _split_pieces(self, text: str, level: int, finer: bool, out: list[str]) -> None:
        sep = self._separators[level]
        keep = self._keep_separator
        if self._patterns:
            pattern, kept = self._patterns[level]
            pieces = regex_pieces(text, pattern, kept, keep)
        else:
            pieces = literal_pieces(text, sep, keep)
        lengths = self._measure(pieces)
        size = self._chunk_size
        glue = "" if keep else sep
        sep_len = self._length_function(glue)
        searchable = self._length_function is len or _searchable(lengths, sep_len)
        prefix = prefix_sums(lengths, sep_len) if searchable else None
        longs: list[int] = []
        if prefix is None or (lengths and max(lengths) >= size):
            longs = [t for t, length in enumerate(lengths) if not length < size]
        strip = self._strip_whitespace
        lo = 0
        count = len(pieces)
        for t in [*longs, count]:
            if t > lo:
                spans = (
                    windows(prefix, sep_len, lo, t, size, self._chunk_overlap)
                    if prefix is not None
                    else windows_by_walk(lengths, sep_len, lo, t, size, self._chunk_overlap)
                )
                for a, b in spans:
                    chunk = glue.join(pieces[a:b])
                    if strip:
                        chunk = chunk.strip()
                    if chunk:
                        out.append(chunk)
            if t < count:
                if finer:
                    self._split(pieces[t], level + 1, out)
                else:
                    out.append(pieces[t])
            lo = t + 1

    def _measure(self, pieces: list[str]) -> list[Any]:
        """The length of every piece, measuring each distinct piece once.

        Words and lines repeat a lot in real text, and a tokenizer is slow:
        lengths are looked up by piece. Like the reference, this assumes the
        length function gives the same answer for the same text.
        """
        if self._length_function is len:
            return list(map(len, pieces))
        distinct = list(dict.fromkeys(pieces))
        if self._measure_many is not None:
            measured = self._measure_many(distinct)
        else:
            measured = list(map(self._length_function, distinct))
        return list(map(dict(zip(distinct, measured, strict=True)).__getitem__, pieces))


def _check_sizes(chunk_size: object, chunk_overlap: object) -> None:
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size <= 0:
        raise ConfigError(f"chunk_size must be a positive int, got {chunk_size!r}")
    if not isinstance(chunk_overlap, int) or isinstance(chunk_overlap, bool) or chunk_overlap < 0:
        raise ConfigError(f"chunk_overlap must be an int >= 0, got {chunk_overlap!r}")
    if chunk_overlap >= chunk_size:
        raise ConfigError(
            f"chunk_overlap ({chunk_overlap}) must be smaller than chunk_size ({chunk_size})"
        )


def _compile(separators: Sequence[str]) -> tuple[tuple[re.Pattern[str], re.Pattern[str]], ...]:
    """Each separator as a pattern, and wrapped in a group for keeping it; bad ones fail now."""
    compiled = []
    for sep in separators:
        try:
            compiled.append((re.compile(sep), re.compile(f"({sep})")))
        except re.error as exc:
            raise ConfigError(
                f"separator {sep!r} is not a valid regular expression: {exc}"
            ) from exc
    return tuple(compiled)


def _searchable(lengths: list[Any], sep_len: Any) -> bool:
    """Whether the binary-search merge is exact: non-negative int lengths only."""
    if type(sep_len) is not int or sep_len < 0:
        return False
    return not lengths or (set(map(type, lengths)) == {int} and min(lengths) >= 0)


def _copier(metadata: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    if all(isinstance(value, _ATOMS) for value in metadata.values()):
        return dict
    return copy.deepcopy
