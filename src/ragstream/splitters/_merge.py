"""Where chunks begin and end: the greedy merge with overlap, on piece lengths alone.

The reference merge walks the pieces one by one, keeps a running ``total`` and
pops pieces off the front of its window until the overlap rule holds. That
``total`` is always ``T(a, b) = P[b] - P[a] - S`` for a window of pieces
``[a, b)``, where ``P`` is the prefix sum of ``length + S`` (``S`` the length of
the merge separator). When lengths are non-negative integers ``P`` never
decreases, so both the point where a window overflows and the point where
popping stops are found by binary search: the work per chunk no longer grows
with the number of pieces in it.

Both functions yield the windows ``(a, b)`` of piece indices the reference
would join into chunks, in order; the caller turns a window into text.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from itertools import accumulate

__all__ = ["prefix_sums", "windows", "windows_by_walk"]


def prefix_sums(lengths: Sequence[int], sep_len: int) -> list[int]:
    """``P`` with ``P[0] = 0`` and ``P[k + 1] = P[k] + lengths[k] + sep_len``."""
    return list(accumulate(map(sep_len.__add__, lengths), initial=0))


def windows(
    prefix: Sequence[int], sep_len: int, lo: int, hi: int, size: int, overlap: int
) -> Iterator[tuple[int, int]]:
    """The windows the greedy merge emits for the pieces ``lo..hi-1``.

    ``prefix`` must never decrease and every piece length must be >= 0
    (``sep_len`` too); under that condition the reference's popping loop stops
    at the first index where two monotone conditions both turn false.
    """
    a = i = lo
    while True:
        # first piece j >= i whose addition makes T(a, j + 1) exceed the size
        m = bisect_right(prefix, prefix[a] + sep_len + size, i + 1, hi + 1)
        if m > hi:
            break
        j = m - 1
        if j > a:
            yield a, j
            before = prefix[j] - sep_len
            # pop while T(a, j) > overlap, or while adding j would still overflow
            # and the window still weighs something
            a = max(
                bisect_left(prefix, before - overlap, a, j),
                bisect_left(prefix, min(prefix[j + 1] - sep_len - size, before), a, j),
            )
        i = j + 1
    if hi > a:
        yield a, hi


def windows_by_walk(
    lengths: Sequence[float], sep_len: float, lo: int, hi: int, size: int, overlap: int
) -> Iterator[tuple[int, int]]:
    """The same windows, walking piece by piece as the reference does.

    Used when a custom length function returns values the binary search cannot
    trust (negative numbers, floats); the arithmetic is the reference's own,
    step for step, so rounding lands the same way.
    """
    a = lo
    total: float = 0
    for i in range(lo, hi):
        length = lengths[i]
        if total + length + (sep_len if i > a else 0) > size and i > a:
            yield a, i
            while a < i and (
                total > overlap or (total + length + (sep_len if i > a else 0) > size and total > 0)
            ):
                total -= lengths[a] + (sep_len if i - a > 1 else 0)
                a += 1
        total += length + (sep_len if i > a else 0)
    if hi > a:
        yield a, hi
