"""Security defaults: bearer-token auth, CORS, and which URLs ingest may fetch.

Auth is a plain ASGI middleware, so the token is checked from the headers
before any route reads the body. The chat page's own files and the health
checks stay public (they hold no data); the page asks for the key when an API
call answers 401. CORS is off unless origins are listed.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Sequence
from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["BearerAuth", "parse_origins", "security_middleware", "select_url_guard"]

PUBLIC_PATHS = frozenset({"/", "/healthz", "/readyz", "/favicon.ico"})
PUBLIC_PREFIXES = ("/static/",)


class BearerAuth:
    """Refuse every request without ``Authorization: Bearer <api_key>`` (401),
    except the public paths; compare in constant time."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_key: str,
        public_paths: frozenset[str] = PUBLIC_PATHS,
        public_prefixes: tuple[str, ...] = PUBLIC_PREFIXES,
    ) -> None:
        if not api_key:
            raise ValueError("BearerAuth needs a non-empty api_key")
        self.app = app
        self._expected = f"Bearer {api_key}".encode()
        self.public_paths = public_paths
        self.public_prefixes = public_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._is_public(scope):
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                given = value
                break
        if hmac.compare_digest(given, self._expected):
            await self.app(scope, receive, send)
            return
        message = (
            "missing API key: send Authorization: Bearer <key>" if not given
            else "invalid API key"
        )
        await _json_error(send, 401, message, scope.get("path", ""))

    def _is_public(self, scope: Scope) -> bool:
        path: str = scope.get("path", "")
        if scope.get("method") == "OPTIONS":
            return True  # CORS preflights carry no credentials
        return path in self.public_paths or path.startswith(self.public_prefixes)


async def _json_error(send: Send, status: int, message: str, path: str) -> None:
    if path.startswith("/v1/"):
        body: dict[str, Any] = {
            "error": {"message": message, "type": "invalid_request_error",
                      "param": None, "code": "invalid_api_key"}
        }
    else:
        body = {"detail": message}
    payload = json.dumps(body).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"www-authenticate", b'Bearer realm="ragstream"'),
        ],
    })
    await send({"type": "http.response.body", "body": payload})


def parse_origins(origins: str | Sequence[str] | None) -> list[str]:
    """Origins from a comma-separated string or a list; empty means CORS off."""
    if origins is None:
        return []
    items = origins.split(",") if isinstance(origins, str) else list(origins)
    return [o.strip().rstrip("/") for o in items if o.strip()]


def security_middleware(
    *, api_key: str | None, cors_origins: str | Sequence[str] | None
) -> list[Middleware]:
    """The middleware stack: CORS outermost (preflights need no key), then auth."""
    stack: list[Middleware] = []
    origins = parse_origins(cors_origins)
    if origins:
        stack.append(Middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["authorization", "content-type"],
            max_age=600,
        ))
    if api_key:
        stack.append(Middleware(BearerAuth, api_key=api_key))
    return stack


URLGuard = Callable[[str], None]


def select_url_guard(
    *, allow_private_urls: bool, url_guard: URLGuard | None = None
) -> URLGuard | None:
    """The guard ingest passes to the loaders: the given one, else none when the
    operator allows private addresses, else the public-addresses-only guard."""
    if url_guard is not None:
        return url_guard
    if allow_private_urls:
        return None
    from ragstream.loaders import public_only_guard

    return public_only_guard
