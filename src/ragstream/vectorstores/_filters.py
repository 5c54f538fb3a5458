"""Metadata filters: the subset of Chroma's ``where`` language every store speaks.

    {"source": "a.txt"}                               equality (shorthand for $eq)
    {"page": {"$gte": 2}}                             $eq $ne $gt $gte $lt $lte
    {"lang": {"$in": ["en", "fr"]}}                   $in $nin (a non-empty list)
    {"$and": [{...}, {...}]}, {"$or": [{...}, ...]}   combinations
    {"source": "a.txt", "page": 2}                    several keys mean $and

Semantics, the same on every store (they are Chroma's): a document without
the key never matches ``$eq``, ``$in`` or a comparison, and always matches
``$ne`` and ``$nin``; numbers compare by value (``2 == 2.0``) but booleans
are not numbers; comparisons take numbers only.

``normalize_filter`` checks a filter and rewrites it in the canonical form
(every leaf ``{key: {op: value}}``, ``$and``/``$or`` with at least two
parts), which Chroma accepts as it is. ``matches`` evaluates a canonical
filter on one metadata dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ragstream.errors import InputError

__all__ = ["COMPARISONS", "Where", "eq_key", "matches", "normalize_filter"]

Where = dict[str, Any]

COMPARISONS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin")
_LOGICAL = ("$and", "$or")
_ORDERED = ("$gt", "$gte", "$lt", "$lte")


def _kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "str"
    return None


def eq_key(value: Any) -> tuple[str, Any] | None:
    """A hashable key under which equal metadata values meet (None: never equal)."""
    kind = _kind(value)
    return None if kind is None else (kind, value)


def _fail(message: str, where: Any) -> InputError:
    return InputError(f"bad filter {where!r}: {message}")


def _leaf(key: str, condition: Any, root: Any) -> Where:
    if key.startswith("$"):
        raise _fail(
            f"unknown operator {key!r} at the top level; use $and or $or, "
            f"or a metadata key", root
        )
    if not isinstance(condition, Mapping):
        if _kind(condition) is None:
            raise _fail(
                f"value for {key!r} must be a str, int, float or bool, "
                f"not {type(condition).__name__}", root
            )
        return {key: {"$eq": condition}}
    if len(condition) != 1:
        raise _fail(f"condition on {key!r} must have exactly one operator", root)
    ((op, operand),) = condition.items()
    if op not in COMPARISONS:
        raise _fail(
            f"unknown operator {op!r} on {key!r}; supported: {', '.join(COMPARISONS)}", root
        )
    if op in ("$in", "$nin"):
        if not isinstance(operand, list | tuple) or not operand:
            raise _fail(f"{op} on {key!r} takes a non-empty list", root)
        kinds = {_kind(v) for v in operand}
        if None in kinds or len(kinds) != 1:
            raise _fail(f"{op} on {key!r} takes values of one type (str, number or bool)", root)
        return {key: {op: list(operand)}}
    if op in _ORDERED:
        if _kind(operand) != "number":
            raise _fail(f"{op} on {key!r} compares numbers, not {type(operand).__name__}", root)
        return {key: {op: operand}}
    if _kind(operand) is None:
        raise _fail(
            f"{op} on {key!r} takes a str, int, float or bool, not {type(operand).__name__}", root
        )
    return {key: {op: operand}}


def _normalize(where: Any, root: Any) -> Where:
    if not isinstance(where, Mapping):
        raise _fail(f"expected a dict, got {type(where).__name__}", root)
    if not where:
        raise _fail("an empty condition inside $and/$or", root)
    parts: list[Where] = []
    for key, value in where.items():
        if not isinstance(key, str):
            raise _fail(f"keys must be str, got {key!r}", root)
        if key in _LOGICAL:
            if not isinstance(value, list | tuple) or not value:
                raise _fail(f"{key} takes a non-empty list of filters", root)
            subs = [_normalize(v, root) for v in value]
            parts.append(subs[0] if len(subs) == 1 else {key: subs})
        else:
            parts.append(_leaf(key, value, root))
    return parts[0] if len(parts) == 1 else {"$and": parts}


def normalize_filter(where: Mapping[str, Any] | None) -> Where | None:
    """Check a filter and return its canonical form (None or ``{}``: no filter).

    >>> normalize_filter({"source": "a.txt", "page": {"$gt": 1}})
    {'$and': [{'source': {'$eq': 'a.txt'}}, {'page': {'$gt': 1}}]}
    """
    if where is None:
        return None
    if isinstance(where, Mapping) and not where:
        return None
    return _normalize(where, where)


def _compare(op: str, have: Any, want: Any) -> bool:
    if op in _ORDERED:
        if _kind(have) != "number":
            return False
        if op == "$gt":
            return bool(have > want)
        if op == "$gte":
            return bool(have >= want)
        if op == "$lt":
            return bool(have < want)
        return bool(have <= want)
    key = eq_key(have)
    if op in ("$eq", "$ne"):
        equal = key is not None and key == eq_key(want)
        return equal if op == "$eq" else not equal
    inside = key is not None and key in {eq_key(v) for v in want}
    return inside if op == "$in" else not inside


def matches(where: Where | None, metadata: Mapping[str, Any]) -> bool:
    """Whether one document's metadata satisfies a canonical filter."""
    if where is None:
        return True
    ((key, value),) = where.items()
    if key == "$and":
        return all(matches(w, metadata) for w in value)
    if key == "$or":
        return any(matches(w, metadata) for w in value)
    ((op, operand),) = value.items()
    if key not in metadata:
        return op in ("$ne", "$nin")
    return _compare(op, metadata[key], operand)
