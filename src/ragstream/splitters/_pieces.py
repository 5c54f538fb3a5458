"""Cutting a text at one separator: into pieces, or into piece boundaries.

The reference cuts with ``re.split`` on the escaped separator. For a literal
separator ``str.split`` and ``re.finditer`` find exactly the same (leftmost,
non-overlapping) occurrences, at C speed. When lengths are ``len``, piece
boundaries are all the merge needs, and a chunk is one slice of the text.
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


def literal_bounds(text: str, sep: str, *, at_end: bool, glue: int, start: int = 0) -> list[int]:
    """Boundaries ``B`` of the pieces of ``text``: piece ``t`` is ``text[B[t]:B[t+1]]``.

    The separator starts each piece, or ends it when ``at_end``. Empty pieces
    are left out, as the reference filters them. With ``glue`` (the text then
    has no empty pieces, see ``_scan``) the last boundary lies ``glue`` past
    the end, where the next separator would be.

    ``finditer`` reports the leftmost, non-overlapping occurrences, exactly
    those ``str.split`` cuts at, without copying the text into pieces. From a
    ``start`` that is itself a boundary, it finds the same ones further on.
    """
    size = len(text)
    if not sep:
        return list(range(start, size + 1))
    shift = len(sep) if at_end else 0
    bounds = [start]
    bounds += [found.start() + shift for found in re.compile(re.escape(sep)).finditer(text, start)]
    bounds.append(size + glue)
    if glue:
        return bounds
    # only the first (separator at the start) or the last (at the end) can be empty
    if at_end:
        if bounds[-2] == size:
            bounds.pop()
    elif bounds[1] == start:
        del bounds[0]
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
