"""Chunking at one separator by searching the text, never cutting it into pieces.

With ``len`` as the length function a piece boundary is just a position in
the text, and the greedy merge only ever asks a few questions about
boundaries near a position: the last one before it, the first one after it,
and how long the piece starting there is. ``str.find`` and ``str.rfind``
answer them at C speed, so the work is a handful of calls per chunk instead
of a Python object per word.

This is only exact for separators that cannot overlap themselves (no proper
prefix equal to a suffix, like ``" "`` or ``"\\n"``): then every occurrence
``find`` sees is one of the occurrences ``str.split`` cuts at. Separators such
as ``"\\n\\n"`` go through the boundary list of ``_pieces`` instead.

The geometry, shared with ``_pieces.literal_bounds``: boundaries are 0, the
end of the text, and every occurrence of the separator, shifted past it when
the separator ends its piece. When the separator is dropped and re-inserted
between pieces (``keep_separator=False``), the text has had its runs of
separators collapsed and one separator appended, so that each piece owns the
separator after it: that separator (``glue`` characters) counts in the merge
arithmetic, exactly as the reference counts the joiner, and is cut off again
at the end of every chunk.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Clustered", "overlaps_itself", "scan"]


class Clustered(Exception):
    """Overlapping occurrences of the separator: scanning cannot tell where to cut.

    Every chunk before ``resume`` is in ``out`` already, and ``resume`` is a
    boundary: the rest is chunked from there by the boundary list, exactly as
    if the whole text had been.
    """

    def __init__(self, resume: int) -> None:
        super().__init__(resume)
        self.resume = resume


def overlaps_itself(sep: str) -> bool:
    """Whether two occurrences of ``sep`` can overlap (it has a proper border)."""
    return any(sep[:i] == sep[-i:] for i in range(1, len(sep)))


def scan(
    text: str,
    sep: str,
    *,
    at_end: bool,
    glue: int,
    size: int,
    overlap: int,
    strip: bool,
    out: list[str],
    on_long: Callable[[str], None],
) -> None:
    """Append to ``out`` the chunks the reference makes from ``text`` cut at ``sep``.

    A piece of ``size`` or more is handed to ``on_long`` in its turn, as the
    reference hands it to the next separator. ``glue`` is 0, or the length of
    ``sep`` when the text is prepared for a dropped separator (see above).
    Raises ``Clustered`` when ``sep`` overlaps itself somewhere in ``text``.
    """
    n = len(text)
    width = len(sep)
    find = text.find
    rfind = text.rfind
    append = out.append
    shift = width if at_end else 0  # boundary = occurrence + shift
    # with glue, a window spanning B[b] - B[a] weighs that minus one glue
    size += glue
    overlap += glue
    # An occurrence that overlaps no other is one str.split cuts at. In a
    # cluster of overlapping ones ("\n\n\n") only a walk from the left can
    # tell which: there the scan stops, takes back what it emitted since the
    # last boundary it is sure of (safe), and leaves the rest to the caller.
    clusters = overlaps_itself(sep)
    lap = width - 1
    # a whitespace separator at the edge of a chunk would be stripped anyway:
    # leaving it out of the slice saves strip() a second copy
    head = width if strip and not glue and not at_end and sep.isspace() else 0
    tail = width if strip and not glue and at_end and sep.isspace() else 0
    safe = pos = 0
    mark = len(out)  # out's length when safe was reached

    def after(x: int) -> int:
        """The first boundary > x."""
        lo = x + 1 - shift
        q = find(sep, lo if lo > 0 else 0)
        if q < 0:
            return n
        if clusters and find(sep, q - lap if q > lap else 0, q + lap) >= 0:
            raise Clustered(safe)
        return q + shift

    try:
        while pos < n:
            safe, mark = pos, len(out)
            nxt = after(pos)
            if nxt - pos >= size:
                on_long(text[pos : nxt - glue])
                pos = nxt
                continue
            # a run of short pieces starts at pos; start is where the current window begins
            start = pos
            while True:
                safe, mark = start, len(out)
                limit = start + size
                if limit >= n:
                    end = n
                else:
                    # the last boundary <= limit (there is one past start: its piece is short)
                    lo = start + 1 - shift
                    q = rfind(sep, lo if lo > 0 else 0, limit + width - shift)
                    if clusters and q >= 0 and find(sep, q - lap if q > lap else 0, q + lap) >= 0:
                        raise Clustered(safe)
                    end = start if q < 0 else q + shift
                chunk = text[
                    (start + head if start else start) : (end - tail if end < n else end) - glue
                ]
                if strip:
                    chunk = chunk.strip()
                if chunk:
                    append(chunk)
                if end >= n:
                    pos = n
                    break
                nxt = after(end)
                if nxt - end >= size:
                    # the piece at end is long: it closes this run
                    pos = end
                    break
                # Pop from the front while the window is over the overlap, or while
                # adding the next piece would still overflow it: the new start is
                # the first boundary at or past both thresholds (both are past start,
                # as nxt > limit and end > start).
                threshold = nxt - size if nxt - size < end else end
                if end - overlap > threshold:
                    threshold = end - overlap
                start = after(threshold - 1)
    except Clustered:
        del out[mark:]  # chunks of the window being cut when the cluster showed up
        raise
