"""The JSON form of what a run took and gave: bounded in size, secrets hidden.

A trace keeps inputs and outputs for people to read later, not to rebuild
them, so anything goes in and nothing raises: documents and messages become
their ``to_dict()``, other objects their ``repr``. Each value is walked with a
budget of characters, so a 10 MB list of documents costs about as much as
the budget, not as much as the list; what did not fit is replaced by a marker
saying how much was left out. Values under keys that name a secret
(``api_key``, ``authorization``, ``password``, ``token``, ``secret``...) are
replaced by ``"****"`` wherever they appear.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from pathlib import PurePath
from typing import Any

__all__ = ["MASK", "is_secret_key", "to_json", "to_jsonable"]

MASK = "****"

# A secret's name, as a whole word inside a key: "api_key", "X-Api-Key",
# "OPENAI_API_KEY", "access_token", "client_secret"; not "max_tokens" or
# "input_tokens" (usage counts are kept).
_SECRET = re.compile(
    r"(?:^|[^a-z0-9])(?:api[_\-\s]?key|apikey|authorization|auth|password|passwd|passphrase"
    r"|secret|token|credentials?|cookie|private[_\-]?key)(?:$|[^a-z0-9])",
    re.IGNORECASE,
)
# Words that may be part of a secret's name; only when JSON text holds one
# are its keys looked at one by one (over-matching costs time, nothing else).
_SECRET_WORDS = ("key", "auth", "passw", "passp", "secret", "token", "credential", "cookie")
_KEY = re.compile(r'"((?:[^"\\]|\\.)*)":')
_COMPACT = (",", ":")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_MAX_DEPTH = 24


def is_secret_key(key: object) -> bool:
    """Whether a mapping key names a secret whose value must not be recorded.

    >>> is_secret_key("OPENAI_API_KEY"), is_secret_key("accessToken"), is_secret_key("max_tokens")
    (True, True, False)
    """
    return isinstance(key, str) and _secret_name(key)


@lru_cache(maxsize=4096)
def _secret_name(key: str) -> bool:
    return _SECRET.search(_CAMEL.sub(r"\1_\2", key)) is not None


def to_json(value: Any, *, limit: int) -> tuple[str, bool]:
    """``value`` as JSON text of about ``limit`` characters at most, and
    whether anything was cut to fit."""
    if not _large(value, limit):
        # most values are small and hold no secret: the C encoder does them
        try:
            text = json.dumps(value, default=_plain, ensure_ascii=False, allow_nan=False,
                              separators=_COMPACT)
        except (TypeError, ValueError, RecursionError):  # odd keys, NaN, a cycle
            text = None
        if text is not None and len(text) <= limit and not _names_secret(text):
            return text, False
    walker = _Walker(limit)
    try:
        out = walker.walk(value, 0)
    except Exception as exc:  # a broken __repr__ or to_dict, a dict changed meanwhile
        out, walker.cut = f"<not recorded: {type(exc).__name__}>", True
    return json.dumps(out, ensure_ascii=False, separators=_COMPACT), walker.cut


def to_jsonable(value: Any, *, limit: int) -> tuple[Any, bool]:
    """``value`` as plain JSON values (see ``to_json``)."""
    text, cut = to_json(value, limit=limit)
    return json.loads(text), cut


class _Walker:
    __slots__ = ("budget", "cut")

    def __init__(self, limit: int) -> None:
        self.budget = limit
        self.cut = False

    def text(self, s: str) -> str:
        n = len(s)
        if n <= self.budget:
            self.budget -= n + 2
            return s
        keep = max(self.budget, 0)
        self.budget = -1
        self.cut = True
        return f"{s[:keep]}… [{n - keep} more characters]"

    def walk(self, v: Any, depth: int) -> Any:
        if v is None or v is True or v is False:
            self.budget -= 5
            return v
        if isinstance(v, str):
            return self.text(str(v))  # str(): a str subclass becomes plain text
        if isinstance(v, int):
            self.budget -= 8
            return int(v)
        if isinstance(v, float):
            self.budget -= 12
            return v if math.isfinite(v) else str(v)
        if depth >= _MAX_DEPTH:
            return self.text(_repr(v))
        if isinstance(v, Mapping):
            return self.mapping(v, depth)
        if isinstance(v, list | tuple | set | frozenset):
            return self.sequence(v, depth)
        if isinstance(v, BaseException):
            return {"error": type(v).__name__, "message": self.text(str(v))}
        messages = getattr(v, "messages", None)
        if isinstance(messages, list) and callable(getattr(v, "to_messages", None)):
            return {"type": type(v).__name__, "messages": self.sequence(messages, depth)}
        to_dict = getattr(v, "to_dict", None)
        if callable(to_dict) and not isinstance(v, type):
            try:
                d = to_dict()
            except Exception:
                d = None
            if isinstance(d, Mapping):
                return self.mapping(d, depth)
        if isinstance(v, uuid.UUID | PurePath):
            return self.text(str(v))
        if isinstance(v, datetime | date):
            return self.text(v.isoformat())
        if isinstance(v, bytes | bytearray | memoryview):
            self.budget -= 16
            return f"<{len(v)} bytes>"
        return self.text(_repr(v))

    def mapping(self, m: Mapping[Any, Any], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        n = len(m)
        for i, (k, item) in enumerate(list(m.items())):
            if self.budget <= 0:
                out["…"] = f"{n - i} more keys"
                self.cut = True
                break
            key = k if isinstance(k, str) else _repr(k)
            self.budget -= len(key) + 4
            if is_secret_key(key) and not isinstance(item, int | float | None) and item != "":
                out[key] = MASK  # counts (a bool is an int) are not secrets
            else:
                out[key] = self.walk(item, depth + 1)
        return out

    def sequence(self, items: Any, depth: int) -> list[Any]:
        out: list[Any] = []
        seq = list(items)
        for i, item in enumerate(seq):
            if self.budget <= 0:
                out.append(f"… {len(seq) - i} more items")
                self.cut = True
                break
            self.budget -= 2
            out.append(self.walk(item, depth + 1))
        return out


def _names_secret(text: str) -> bool:
    low = text.lower()
    if not any(word in low for word in _SECRET_WORDS):
        return False
    for m in _KEY.finditer(text):
        key = m.group(1)
        if is_secret_key(json.loads(f'"{key}"') if "\\" in key else key):
            return True
    return False


def _large(value: Any, limit: int) -> bool:
    """Whether ``value`` is plainly too large to encode whole just to find out
    (a long text or list, at the top or one level down)."""
    if isinstance(value, str):
        return len(value) > limit
    if isinstance(value, list | tuple):
        return len(value) > limit // 50 or any(_long(v, limit) for v in value)
    if isinstance(value, Mapping):
        return len(value) > limit // 50 or any(_long(v, limit) for v in value.values())
    return False


def _long(v: Any, limit: int) -> bool:
    return isinstance(v, str | list | tuple) and len(v) > limit // (1 if isinstance(v, str) else 50)


def _plain(v: Any) -> Any:
    """What the C encoder cannot encode itself, made plain (the walker's rules)."""
    if isinstance(v, set | frozenset):
        return list(v)
    messages = getattr(v, "messages", None)
    if isinstance(messages, list) and callable(getattr(v, "to_messages", None)):
        return {"type": type(v).__name__, "messages": messages}
    to_dict = getattr(v, "to_dict", None)
    if callable(to_dict) and not isinstance(v, type):
        d = to_dict()
        if isinstance(d, Mapping):
            return d
    if isinstance(v, BaseException):
        return {"error": type(v).__name__, "message": str(v)}
    if isinstance(v, uuid.UUID | PurePath):
        return str(v)
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, bytes | bytearray | memoryview):
        return f"<{len(v)} bytes>"
    return _repr(v)


def _repr(v: Any) -> str:
    try:
        return repr(v)
    except Exception:
        return f"<{type(v).__name__} object>"
