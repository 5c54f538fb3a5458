"""``create_app``: a Starlette app with the security defaults, ready for routes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ragstream.core import Runnable
from ragstream.server._requests import DEFAULT_MAX_BODY
from ragstream.server._routes import add_routes, registry_of
from ragstream.server._security import security_middleware
from ragstream.server._sse import StreamRegistry

__all__ = ["create_app", "on_shutdown", "on_startup"]

ShutdownHook = Callable[[], Awaitable[None]]
StartupHook = Callable[[], None]


def on_startup(app: Starlette, hook: StartupHook) -> None:
    """Call ``hook`` in the app's loop when it starts; it must not wait (start a
    task for longer work), so the app is serving at once."""
    hooks: list[StartupHook] = getattr(app.state, "startup_hooks", None) or []
    hooks.append(hook)
    app.state.startup_hooks = hooks


def on_shutdown(app: Starlette, hook: ShutdownHook) -> None:
    """Run ``hook`` when the app shuts down, after its streams have ended."""
    hooks: list[ShutdownHook] = getattr(app.state, "shutdown_hooks", None) or []
    hooks.append(hook)
    app.state.shutdown_hooks = hooks


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.event_streams = StreamRegistry()  # fresh for each run of the app
    for start in getattr(app.state, "startup_hooks", None) or []:
        start()
    yield
    await registry_of(app).aclose()
    for hook in getattr(app.state, "shutdown_hooks", None) or []:
        await hook()


async def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok", "open_streams": len(registry_of(request.app))})


async def _readyz(request: Request) -> Response:
    warmup = getattr(request.app.state, "warmup", None)
    if warmup is None:
        return JSONResponse({"status": "ready", "warmup": None})
    if warmup.ready:
        return JSONResponse({"status": "ready", "warmup": warmup.to_dict()})
    return JSONResponse({"status": "warming_up", "warmup": warmup.to_dict()}, status_code=503,
                        headers={"retry-after": "1"})


def create_app(
    runnable: Runnable[Any, Any] | None = None,
    *,
    path: str = "",
    api_key: str | None = None,
    cors_origins: str | Sequence[str] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    keepalive: float | None = 15.0,
    input_schema: dict[str, Any] | None = None,
    output_schema: dict[str, Any] | None = None,
) -> Starlette:
    """An ASGI app serving ``runnable`` (if given) at ``path`` with the routes of
    ``add_routes``, plus ``GET /healthz`` (the server is up) and ``GET /readyz``
    (200 once the warm-up, if any, has finished; 503 before).

    With ``api_key`` every route but the health checks and the page's files
    requires ``Authorization: Bearer <api_key>``, checked before the body is
    read. CORS answers only the listed ``cors_origins``. Request bodies over
    ``max_body_bytes`` are refused with 413.

    >>> from ragstream.testing import FakeChatModel
    >>> app = create_app(FakeChatModel("Hello!"), path="/chat")
    >>> # uvicorn.run(app, host="127.0.0.1", port=8000)
    """
    app = Starlette(
        routes=[Route("/healthz", _healthz, methods=["GET"]),
                Route("/readyz", _readyz, methods=["GET"])],
        middleware=security_middleware(api_key=api_key, cors_origins=cors_origins),
        lifespan=_lifespan,
    )
    registry_of(app)
    app.state.max_body_bytes = max_body_bytes
    if runnable is not None:
        add_routes(
            app, runnable, path=path, max_body_bytes=max_body_bytes, keepalive=keepalive,
            input_schema=input_schema, output_schema=output_schema,
        )
    return app
