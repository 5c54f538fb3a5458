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

import math
import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from pathlib import PurePath
from typing import Any

__all__ = ["MASK", "is_secret_key", "to_jsonable"]

MASK = "****"

# A secret's name, as a whole word inside a key: "api_key", "X-Api-Key",
# "OPENAI_API_KEY", "access_token", "client_secret"; not "max_tokens" or
# "input_tokens" (usage counts are kept).
_SECRET = re.compile(
    r"(?:^|[^a-z0-9])(?:api[_\-\s]?key|apikey|authorization|auth|password|passwd|passphrase"
    r"|secret|token|credentials?|cookie|private[_\-]?key)(?:$|[^a-z0-9])",
    re.IGNORECASE,
)
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


def to_jsonable(value: Any, *, limit: int) -> tuple[Any, bool]:
    """``value`` as plain JSON values of about ``limit`` characters at most,
    and whether anything was cut to fit."""
    walker = _Walker(limit)
    try:
        out = walker.walk(value, 0)
    except Exception as exc:  # a broken __repr__ or to_dict, a dict changed meanwhile
        return f"<not recorded: {type(exc).__name__}>", True
    return out, walker.cut


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


def _repr(v: Any) -> str:
    try:
        return repr(v)
    except Exception:
        return f"<{type(v).__name__} object>"
