"""Cutting a text at one separator: into pieces, or into piece boundaries.

The reference cuts with ``re.split`` on the escaped separator. For a literal
separator ``str.split`` finds exactly the same (leftmost, non-overlapping)
occurrences, at C speed. When the separator is kept with its piece, the
pieces are contiguous slices of the text, so their boundaries are all that is
needed: a chunk is then one slice of the text, never a join.
"""

from __future__ import annotations

import re
from itertools import repeat
from typing import Literal

__all__ = ["KeepSeparator", "literal_bounds", "literal_pieces", "regex_pieces"]

KeepSeparator = bool | Literal["start", "end"]


def literal_pieces(text: str, sep: str, keep: KeepSeparator) -> list[str]:
    """The non-empty pieces of ``text`` cut at the literal ``sep``."""
    if not sep:
        return list(text)
    parts = text.split(sep)
    if not keep:
        return list(filter(None, parts))
    if keep == "end":
        pieces = list(map(str.__add__, parts[:-1], repeat(sep)))
        if parts[-1]:
            pieces.append(parts[-1])
        return pieces
    pieces = list(map(sep.__add__, parts[1:]))
    if parts[0]:
        pieces.insert(0, parts[0])
    return pieces


def literal_bounds(text: str, sep: str, keep: KeepSeparator) -> list[int]:
    """Boundaries ``B`` of the kept-separator pieces: piece ``t`` is ``text[B[t]:B[t+1]]``.

    ``keep`` is true here (``"end"`` glues the separator to the piece before
    it, any other true value to the piece after it). Empty pieces are left
    out, as the reference filters them.
    """
    size = len(text)
    if not sep:
        return list(range(size + 1))
    bounds = _occurrence_bounds(text, sep, keep)
    # the reference drops empty pieces: only the first (kept at the start) or
    # the last (kept at the end) can be empty
    if len(bounds) > 1:
        if keep == "end":
            if bounds[-2] == size:
                bounds.pop()
        elif bounds[1] == 0:
            del bounds[0]
    return bounds


def _occurrence_bounds(text: str, sep: str, keep: KeepSeparator) -> list[int]:
    """Boundaries from the occurrences of ``sep``: no copy of the text, one int per piece.

    ``finditer`` reports the leftmost, non-overlapping occurrences, exactly
    those ``str.split`` cuts at, and scans faster than a ``str.find`` loop.
    """
    shift = len(sep) if keep == "end" else 0
    bounds = [0]
    bounds += [found.start() + shift for found in re.finditer(re.escape(sep), text)]
    bounds.append(len(text))
    return bounds


def regex_pieces(
    text: str, pattern: re.Pattern[str], kept: re.Pattern[str], keep: KeepSeparator
) -> list[str]:
    """The non-empty pieces of ``text`` cut where ``pattern`` matches.

    ``kept`` is ``pattern`` wrapped in one capturing group. The pairing of
    pieces with captured separators follows the reference step for step, so a
    pattern with capturing groups of its own behaves exactly as it does there.
    """
    if not pattern.pattern:
        return list(text)
    if not keep:
        return [piece for piece in pattern.split(text) if piece]
    parts = kept.split(text)
    if keep == "end":
        pieces = [parts[i] + parts[i + 1] for i in range(0, len(parts) - 1, 2)]
    else:
        pieces = [parts[i] + parts[i + 1] for i in range(1, len(parts), 2)]
    if len(parts) % 2 == 0:
        pieces += parts[-1:]
    if keep == "end":
        pieces.append(parts[-1])
    else:
        pieces.insert(0, parts[0])
    return [piece for piece in pieces if piece]
