"""Maximal marginal relevance: pick results that are relevant and unlike each other."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["maximal_marginal_relevance", "unit_rows"]


def unit_rows(vectors: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Vectors as float32 rows of length one (zero rows stay zero)."""
    matrix = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0.0] = 1.0
    out: npt.NDArray[np.float32] = matrix / norms
    return out


def maximal_marginal_relevance(
    query: Sequence[float] | npt.NDArray[np.float32],
    candidates: Sequence[Sequence[float]] | npt.NDArray[np.float32],
    *,
    k: int,
    lambda_mult: float,
) -> list[int]:
    """Indices of up to ``k`` candidates, in the order they were chosen.

    Each step takes the candidate with the best
    ``lambda_mult * sim(query, c) - (1 - lambda_mult) * max sim(c, chosen)``
    (cosine similarities): ``lambda_mult=1`` is plain similarity, ``0`` is
    maximal diversity.
    """
    if k <= 0 or len(candidates) == 0:
        return []
    cand = unit_rows(candidates)
    q = unit_rows(query)[0]
    relevance = cand @ q
    chosen = [int(np.argmax(relevance))]
    # the highest similarity of each candidate to anything chosen so far
    redundancy = cand @ cand[chosen[0]]
    while len(chosen) < min(k, len(cand)):
        score = lambda_mult * relevance - (1.0 - lambda_mult) * redundancy
        score[chosen] = -np.inf
        best = int(np.argmax(score))
        chosen.append(best)
        np.maximum(redundancy, cand @ cand[best], out=redundancy)
    return chosen
