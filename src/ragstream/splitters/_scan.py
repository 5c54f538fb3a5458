"""Chunking at one separator by searching the text, never cutting it into pieces.

When the separator is kept with its pieces and lengths are ``len``, a piece
boundary is just a position in the text, and the greedy merge only ever asks
four questions about boundaries near a position: the next one after it, the
last one before it, the first one at or after it, and how long the piece
starting there is. ``str.find`` and ``str.rfind`` answer them at C speed, so
the work is a handful of calls per chunk instead of a Python object per word.

This is only exact for separators that cannot overlap themselves (no proper
prefix equal to a suffix, like ``" "`` or ``"\\n"``): then every occurrence
``find`` sees is one of the occurrences ``str.split`` cuts at. Separators such
as ``"\\n\\n"`` go through the boundary list in ``_pieces`` instead.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["overlaps_itself", "scan"]


def overlaps_itself(sep: str) -> bool:
    """Whether two occurrences of ``sep`` can overlap (it has a proper border)."""
    return any(sep[:i] == sep[-i:] for i in range(1, len(sep)))


def scan(
    text: str,
    sep: str,
    *,
    at_end: bool,
    size: int,
    overlap: int,
    strip: bool,
    out: list[str],
    on_long: Callable[[str], None],
) -> None:
    """Append to ``out`` the chunks the reference makes from ``text`` cut at ``sep``.

    Boundaries are 0, ``len(text)`` and every occurrence of ``sep`` (shifted
    past it when ``at_end``, the separator then ending its piece). A piece of
    ``size`` or more is handed to ``on_long`` in its turn, as the reference
    hands it to the next separator.
    """
    n = len(text)
    width = len(sep)
    find = text.find
    rfind = text.rfind
    shift = width if at_end else 0
    back = width - 1 if at_end else -1  # find from x - back: occurrences whose boundary is > x

    def after(x: int) -> int:  # first boundary > x
        p = find(sep, max(0, x - back))
        return n if p < 0 else p + shift

    pos = 0
    while pos < n:
        nxt = after(pos)
        if nxt - pos >= size:
            on_long(text[pos:nxt])
            pos = nxt
            continue
        # a run of short pieces starts at pos; start is where the current window begins
        start = pos
        while True:
            limit = start + size
            if limit >= n:
                end = n
            else:
                # last boundary <= limit; start itself is one
                p = (
                    rfind(sep, max(0, start - width + 1), limit)
                    if at_end
                    else rfind(sep, start + 1, limit + width)
                )
                end = start if p < 0 else p + shift
            if end >= n:
                _emit(text[start:n], strip, out)
                pos = n
                break
            nxt = after(end)
            _emit(text[start:end], strip, out)
            if nxt - end >= size:
                # the piece at end is long: it closes this run
                pos = end
                break
            # pop from the front while the window is over the overlap, or while
            # adding the next piece would still overflow it
            # (the threshold is past start: nxt > limit and end > start)
            threshold = max(end - overlap, min(nxt - size, end))
            start = after(threshold - 1)


def _emit(chunk: str, strip: bool, out: list[str]) -> None:
    if strip:
        chunk = chunk.strip()
    if chunk:
        out.append(chunk)
