"""Reading a request's JSON body: content type, size limit, syntax.

The size is checked against ``Content-Length`` before a byte is read, and
counted while reading (a chunked body has no length), so an oversized body
is refused without being held in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request

from ragstream.server._errors import HTTPProblem

__all__ = ["DEFAULT_MAX_BODY", "check_keys", "read_json"]

DEFAULT_MAX_BODY = 1024 * 1024


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


async def read_json(request: Request, *, limit: int = DEFAULT_MAX_BODY) -> Any:
    """The request's body parsed as JSON, or an ``HTTPProblem`` (400, 413, 415)."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != "application/json" and not kind.endswith("+json"):
        shown = kind or "none"
        raise HTTPProblem(415, f"send the body as JSON with Content-Type: application/json "
                               f"(got {shown})")
    length = request.headers.get("content-length")
    if length is not None:
        try:
            size = int(length)
        except ValueError:
            raise HTTPProblem(400, f"Content-Length {length!r} is not a number") from None
        if size > limit:
            raise HTTPProblem(413, f"the request body is {size} bytes; the limit is {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPProblem(413, f"the request body is over the limit of {limit} bytes")
    if not body.strip():
        raise HTTPProblem(400, "the request body is empty; send a JSON object")
    try:
        return json.loads(body, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise HTTPProblem(
            400, f"the request body is not valid JSON: {exc.msg} "
                 f"(line {exc.lineno}, column {exc.colno})"
        ) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPProblem(400, f"the request body is not valid JSON: {exc}") from None


def check_keys(
    body: Any, *, allowed: Iterable[str], required: Iterable[str] = (), what: str = "the body"
) -> dict[str, Any]:
    """``body`` if it is an object with only ``allowed`` keys and every ``required``
    one; else a 422 naming the first problem."""
    if not isinstance(body, dict):
        raise HTTPProblem(
            422, f"{what} must be a JSON object, not {_json_type(body)}",
            errors=[{"loc": ["body"], "msg": "must be an object", "type": "type_error"}],
        )
    allowed = set(allowed)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise HTTPProblem(
            422,
            f"unknown field{'s' if len(unknown) > 1 else ''} in {what}: "
            f"{', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(allowed))}",
            param=unknown[0],
            errors=[{"loc": ["body", k], "msg": "unknown field", "type": "extra_forbidden"}
                    for k in unknown],
        )
    missing = [k for k in required if k not in body]
    if missing:
        raise HTTPProblem(
            422, f"{what} is missing the field {missing[0]!r}", param=missing[0],
            errors=[{"loc": ["body", k], "msg": "field required", "type": "missing"}
                    for k in missing],
        )
    return body


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
