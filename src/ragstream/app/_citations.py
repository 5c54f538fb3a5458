"""Citation markers in an answer as it streams: ``[1]``, ``[1, 2]``, ``[2-4]``.

Sources are shown numbered from 1, and answers cite them with those numbers
in square brackets. ``CitationParser`` is sans-IO: feed it the answer's
tokens in order and it returns the markers each token completes, whatever
way the marker was split (``" ["``, ``"1"``, ``"]"``). It looks no further
than the ``]``, so a citation is known as soon as its marker is written.

What counts as a marker: numbers in square brackets, separated by commas
or semicolons, each a number or a range (``[2-4]``, also with an en dash);
numbers outside ``1..count`` are left out, and a marker left with none is
not one. Not markers: other bracketed text (``[a]``, ``[10.5]``, ``[see
below]``, a Markdown link's text), brackets inside code (between backticks,
or in a fenced block), inside a Markdown link's target ``(...)`` or inside a
bare URL. A number alone in brackets is taken for a citation even where
Markdown would read a link (``[1](https://...)``): the ``]`` cannot wait for
what follows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CitationParser", "Marker", "find_markers"]

# what may stand between the brackets of a marker while it is being written
_INSIDE = frozenset("0123456789 ,;-\u2013")
_MARKER = re.compile(
    r"\[ *(\d{1,4}(?: *[-\u2013] *\d{1,4})?(?: *[,;] *\d{1,4}(?: *[-\u2013] *\d{1,4})?)*) *\]"
)
_PART = re.compile(r"(\d+)(?: *[-\u2013] *(\d+))?")
# a marker longer than this is prose in brackets, not a citation
_MAX_MARKER = 40
# text with none of these, fed outside any marker, code or URL, changes nothing but
# the position (most tokens: the character loop is skipped for them)
_SIGNIFICANT = re.compile(r"[\[`(:/]")


@dataclass(frozen=True, slots=True)
class Marker:
    """A citation marker found in an answer.

    ``indices`` are the 1-based source numbers it cites (in range, each once,
    in the order written); ``text`` is the marker as written (``"[1, 2]"``);
    ``end`` is the offset in the answer just past its ``]`` (so
    ``answer[end - len(text):end] == text``), counted in characters of the str.
    """

    indices: tuple[int, ...]
    text: str
    end: int

    @property
    def start(self) -> int:
        return self.end - len(self.text)


def _indices(text: str, count: int) -> tuple[int, ...]:
    match = _MARKER.fullmatch(text)
    if match is None:
        return ()
    found: list[int] = []
    for part in _PART.finditer(match.group(1)):
        low = int(part.group(1))
        high = int(part.group(2)) if part.group(2) else low
        if high < low:  # "[4-2]" is not a range anyone means
            continue
        for n in range(max(low, 1), min(high, count) + 1):
            if n not in found:
                found.append(n)
    return tuple(found)


class CitationParser:
    """Finds citation markers in text fed to it piece by piece.

    ``count`` is how many sources there are (markers cite ``1..count``); it
    may be set once the sources are known, before the answer is fed.

    >>> parser = CitationParser(3)
    >>> [m.indices for piece in ["Cats purr", " [", "1", "]", " [2,", " 9]", "."]
    ...  for m in parser.feed(piece)]
    [(1,), (2,)]
    >>> parser.cited, parser.position
    ([1, 2], 21)
    """

    def __init__(self, count: int = 0) -> None:
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"CitationParser: count must be an int >= 0, not {count!r}")
        self.count = count
        self.position = 0  # characters fed so far
        self.cited: list[int] = []  # each cited index once, in order of first use
        self._open: list[str] | None = None  # the marker being written, from its "["
        self._ticks = 0  # length of the run of backticks being read
        self._code = 0  # backticks that opened the code we are in (0: not in code)
        self._previous = ""  # the last character fed
        self._url = False  # inside a bare URL or a Markdown link's (target)
        self._target = False  # ... and it is a link's target, ended by ")"
        self._scheme = ""  # the last characters of the current word, to spot "://"

    def __repr__(self) -> str:
        return (f"CitationParser(count={self.count}, position={self.position}, "
                f"cited={self.cited!r})")

    def feed(self, text: str) -> list[Marker]:
        """The markers that ``text``, the next piece of the answer, completes."""
        if (self._open is None and not self._ticks and not self._code and not self._url
                and text and _SIGNIFICANT.search(text) is None):
            # ("://" needs a ":", so what came before this text cannot start a URL)
            self.position += len(text)
            self._previous = text[-1]
            self._scheme = ""
            return []
        found: list[Marker] = []
        for ch in text:
            self.position += 1
            marker = self._step(ch)
            self._previous = ch
            if marker is not None:
                found.append(marker)
                self.cited.extend(n for n in marker.indices if n not in self.cited)
        return found

    def _step(self, ch: str) -> Marker | None:
        if ch == "`":
            self._ticks += 1
            self._open = None
            return None
        if self._ticks:
            # a run of backticks opens code, or closes the code a run as long opened
            if not self._code:
                self._code = self._ticks
            elif self._ticks == self._code:
                self._code = 0
            self._ticks = 0
        if ch == "\n" and 0 < self._code < 3:
            self._code = 0  # inline code does not go on past its line
        if self._code:
            return None
        if self._in_url(ch):
            self._open = None
            return None
        if self._open is not None:
            self._open.append(ch)
            if ch == "]":
                written, self._open = "".join(self._open), None
                indices = _indices(written, self.count)
                return Marker(indices, written, self.position) if indices else None
            if ch == "[":
                self._open = ["["]
            elif ch not in _INSIDE or len(self._open) > _MAX_MARKER:
                self._open = None
            return None
        if ch == "[":
            self._open = ["["]
        return None

    def _in_url(self, ch: str) -> bool:
        """Whether ``ch`` is part of a URL (bare, or a Markdown link's target)."""
        if self._url:
            if ch.isspace() or (self._target and ch == ")"):
                self._url = self._target = False
                self._scheme = ""
            return self._url
        if ch == "(" and self._previous == "]":
            self._url = self._target = True
            return True
        if ch.isspace():
            self._scheme = ""
        else:
            self._scheme = (self._scheme + ch)[-3:]
            if self._scheme == "://":
                self._url = True
        return False


def find_markers(text: str, count: int) -> list[Marker]:
    """Every citation marker in a whole answer (see ``CitationParser``).

    >>> [(m.text, m.indices) for m in find_markers("See [1][3] and [2-4] or [x].", 3)]
    [('[1]', (1,)), ('[3]', (3,)), ('[2-4]', (2, 3))]
    """
    return CitationParser(count).feed(text)
