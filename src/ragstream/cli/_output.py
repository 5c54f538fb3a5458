"""Terminal output: rich when stdout is a terminal, plain text when it is not.

``Output`` holds the two consoles; ``TokenWriter`` streams text token by
token, wrapping at word boundaries on a terminal; ``to_json`` turns
documents, messages and events into JSON.
"""

from __future__ import annotations

import json
import math
import re
import sys
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from ragstream.documents import Document

__all__ = [
    "Output", "TokenWriter", "cited_line", "display_source", "dumps", "fit_columns",
    "source_rows", "to_json",
]

_SPACE = re.compile(r"(\s+)")


class Output:
    """The consoles of one command. ``tty`` is true when stdout is a terminal."""

    def __init__(self) -> None:
        from rich.console import Console

        self.out: Console = Console(file=sys.stdout, highlight=False, soft_wrap=False)
        self.err: Console = Console(file=sys.stderr, highlight=False)
        self.tty = self.out.is_terminal

    def line(self, text: str = "", *, style: str | None = None) -> None:
        """One line of text (no markup); styled only on a terminal."""
        if self.tty:
            self.out.print(text, style=style, markup=False, soft_wrap=True)
        else:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def note(self, text: str, *, style: str = "dim") -> None:
        """A line on stderr, for what scripts reading stdout should not see."""
        if self.err.is_terminal:
            self.err.print(text, style=style, markup=False, soft_wrap=True)
        else:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def table(
        self, headers: Sequence[str], rows: Sequence[Sequence[str]], *,
        right: Sequence[int] = (), title: str | None = None,
        max_widths: Mapping[int, int] | None = None, cut_left: Sequence[int] = (),
    ) -> None:
        """A compact table on a terminal, one line per row: long cells are cut
        with an ellipsis (at the start for ``cut_left`` columns, so a path keeps
        its file name); numbers (``right``) and the first column are never cut.
        Tab-separated lines when stdout is not a terminal."""
        if not self.tty:
            for row in rows:
                sys.stdout.write("\t".join(row) + "\n")
            sys.stdout.flush()
            return
        from rich import box
        from rich.table import Table

        fitted = fit_columns(
            headers, rows, width=self.out.width, keep={0, *right}, cut_left=set(cut_left),
            max_widths=max_widths or {},
        )
        table = Table(
            *headers, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title=title,
            title_justify="left", title_style="bold", header_style="bold",
        )
        for n in right:
            table.columns[n].justify = "right"
        for column in table.columns:
            column.no_wrap = True
        for row in fitted:
            table.add_row(*row)
        self.out.print(table)


def fit_columns(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, width: int, keep: set[int],
    cut_left: set[int], max_widths: Mapping[int, int],
) -> list[list[str]]:
    """Cells cut so that the table fits ``width`` (columns are 3 characters apart):
    the widest column that may be cut loses a character until it fits."""
    count = len(headers)
    widths = [max(len(str(row[n])) for row in [headers, *rows]) for n in range(count)]
    for n, limit in max_widths.items():
        widths[n] = min(widths[n], max(limit, len(headers[n])))
    budget = width - 3 * (count - 1)
    while sum(widths) > budget:
        cuttable = [n for n in range(count) if n not in keep and widths[n] > len(headers[n]) + 1]
        if not cuttable:
            break
        widths[max(cuttable, key=lambda n: widths[n])] -= 1

    def cut(text: str, n: int) -> str:
        if len(text) <= widths[n]:
            return text
        if n in cut_left:
            return "…" + text[len(text) - widths[n] + 1:]
        return text[: widths[n] - 1] + "…"

    return [[cut(str(cell), n) for n, cell in enumerate(row)] for row in rows]


class TokenWriter:
    """Writes streamed text as it arrives. On a terminal it wraps at word
    boundaries (the terminal alone would cut words in two): a word is held
    until the space after it shows how long it is."""

    def __init__(self, output: Output, *, style: str | None = None) -> None:
        self.output = output
        self.style = style
        self.column = 0
        self.pending = ""  # spaces held back until the next word shows whether they fit
        self.word = ""  # the word being streamed, not yet written
        self.wrote = False

    def write(self, text: str) -> None:
        if not text:
            return
        self.wrote = True
        if not self.output.tty:
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        out: list[str] = []
        for piece in _SPACE.split(text):
            if not piece:
                continue
            if not piece.isspace():
                self.word += piece
                continue
            self._place_word(out)
            if "\n" in piece:
                out.append(piece)
                self.pending = ""
                self.column = len(piece) - piece.rfind("\n") - 1
            else:
                self.pending += piece
        self._emit(out)

    def _place_word(self, out: list[str]) -> None:
        if not self.word:
            return
        width = max(20, self.output.out.width - 1)
        if self.column and self.column + len(self.pending) + len(self.word) > width:
            out.append("\n")
            self.column = 0
        elif self.pending:
            out.append(self.pending)
            self.column += len(self.pending)
        self.pending = ""
        out.append(self.word)
        self.column += len(self.word)
        self.word = ""

    def _emit(self, out: list[str]) -> None:
        if out:
            self.output.out.print(
                "".join(out), end="", style=self.style, markup=False, soft_wrap=True,
            )
            self.output.out.file.flush()

    def flush(self) -> None:
        """Write the word held back (at the end of a stream)."""
        out: list[str] = []
        self._place_word(out)
        self._emit(out)

    def end_line(self) -> None:
        """Finish the current line if anything is on it."""
        if self.output.tty:
            self.flush()
            if self.column:
                self.output.out.print()
        elif self.wrote:
            sys.stdout.write("\n")
            sys.stdout.flush()
        self.column = 0
        self.pending = ""
        self.wrote = False


def display_source(source: Any) -> str:
    """A source as people read it: a path relative to here, or under ``~``."""
    text = str(source or "")
    if not text or "://" in text:
        return text
    try:
        path = Path(text)
        if not path.is_absolute():
            return text
        cwd = Path.cwd()
        if path.is_relative_to(cwd):
            return str(path.relative_to(cwd))
        home = Path.home()
        if path.is_relative_to(home):
            return str(Path("~") / path.relative_to(home))
    except (OSError, ValueError):
        pass
    return text


def source_rows(documents: Sequence[Document]) -> list[list[str]]:
    """Rows of ``#``, title, source and score for retrieved documents."""
    rows = []
    for n, doc in enumerate(documents, 1):
        meta = doc.metadata
        score = meta.get("score")
        title = str(meta.get("title") or "")
        where = display_source(meta.get("source"))
        if meta.get("page") is not None:
            where += f" p.{int(meta['page']) + 1}"
        rows.append([
            f"[{n}]", title, where, f"{score:.2f}" if isinstance(score, int | float) else "",
        ])
    return rows


def cited_line(documents: Sequence[Document], cited: Sequence[int]) -> str:
    """``cited: [2] title, [1] title``: the sources an answer cited, by number,
    in order of first use (``none`` if it cited none); a source with no title
    is named by where it came from."""
    if not cited:
        return "cited: none"
    names = []
    for n in cited:
        meta = documents[n - 1].metadata
        title = str(meta.get("title") or "").strip()
        names.append(f"[{n}] {title or display_source(meta.get('source')) or '(untitled)'}")
    return "cited: " + ", ".join(names)


def to_json(obj: Any) -> Any:
    """``obj`` as plain JSON values: documents, messages and prompt values as dicts."""
    if obj is None or isinstance(obj, bool | int | str):
        return str(obj) if isinstance(obj, str) else obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): to_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_json(v) for v in obj]
    messages = getattr(obj, "messages", None)
    if isinstance(messages, list) and callable(getattr(obj, "to_messages", None)):
        return {"messages": [to_json(m) for m in messages], "type": "ChatPromptValue"}
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return to_json(to_dict())
    if isinstance(obj, BaseException):
        return {"error": type(obj).__name__, "message": str(obj)}
    if isinstance(obj, uuid.UUID | PurePath):
        return str(obj)
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    return str(obj)


def dumps(obj: Any, *, indent: int | None = None) -> str:
    """JSON text of ``obj``: one line unless ``indent`` is given."""
    separators = (",", ":") if indent is None else (",", ": ")
    return json.dumps(to_json(obj), ensure_ascii=False, indent=indent, separators=separators)

