"""Metadata filters over many rows at once, for the in-memory store.

The first filter on a key builds that key's column once: the rows holding
each value (for equality and ``$in``), and, on first comparison, the numeric
values as an array. A filter then costs a few NumPy operations instead of a
Python call per row. The store drops the columns whenever it changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ragstream.vectorstores._filters import Where, eq_key

__all__ = ["MetadataColumns"]

Mask = npt.NDArray[np.bool_]

_ORDER: dict[str, Callable[[npt.NDArray[np.float64], float], Mask]] = {
    "$gt": np.greater,
    "$gte": np.greater_equal,
    "$lt": np.less,
    "$lte": np.less_equal,
}


class _Column:
    def __init__(self, key: str, metadatas: Sequence[dict[str, Any]]) -> None:
        self.key = key
        self.metadatas = metadatas
        self.rows: dict[tuple[str, Any], list[int]] = {}
        for row, metadata in enumerate(metadatas):
            value = metadata.get(key)
            found = eq_key(value) if value is not None else None
            if found is not None:
                self.rows.setdefault(found, []).append(row)
        self._numbers: npt.NDArray[np.float64] | None = None
        self._arrays: dict[tuple[str, Any], npt.NDArray[np.intp]] = {}

    def rows_of(self, value: Any) -> npt.NDArray[np.intp] | None:
        """The rows whose value equals ``value``, as an index array."""
        found = eq_key(value)
        if found is None:
            return None
        array = self._arrays.get(found)
        if array is None:
            rows = self.rows.get(found)
            if not rows:
                return None
            array = self._arrays[found] = np.asarray(rows, dtype=np.intp)
        return array

    def numbers(self) -> npt.NDArray[np.float64]:
        """The key's numeric values, NaN where absent or not a number."""
        if self._numbers is None:
            values = np.full(len(self.metadatas), np.nan)
            for (kind, value), rows in self.rows.items():
                if kind == "number":
                    values[rows] = value
            self._numbers = values
        return self._numbers


class MetadataColumns:
    """Evaluates canonical filters (see ``_filters``) over rows ``0..n-1``."""

    def __init__(self, metadatas: Sequence[dict[str, Any]]) -> None:
        self.metadatas = metadatas
        self.n = len(metadatas)
        self._columns: dict[str, _Column] = {}

    def _column(self, key: str) -> _Column:
        column = self._columns.get(key)
        if column is None:
            column = self._columns[key] = _Column(key, self.metadatas)
        return column

    def _equal(self, column: _Column, values: Sequence[Any]) -> Mask:
        mask = np.zeros(self.n, dtype=bool)
        for value in values:
            rows = column.rows_of(value)
            if rows is not None:
                mask[rows] = True
        return mask

    def mask(self, where: Where) -> Mask:
        """A boolean per row: does its metadata match ``where``?"""
        ((key, value),) = where.items()
        if key == "$and":
            out = self.mask(value[0])
            for part in value[1:]:
                out &= self.mask(part)
            return out
        if key == "$or":
            out = self.mask(value[0])
            for part in value[1:]:
                out |= self.mask(part)
            return out
        ((op, operand),) = value.items()
        column = self._column(key)
        if op == "$eq":
            return self._equal(column, [operand])
        if op == "$ne":
            return ~self._equal(column, [operand])
        if op == "$in":
            return self._equal(column, operand)
        if op == "$nin":
            return ~self._equal(column, operand)
        compare = _ORDER[op]
        with np.errstate(invalid="ignore"):  # NaN (absent) compares False, as wanted
            out = compare(column.numbers(), float(operand))
        return out
