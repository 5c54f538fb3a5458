"""Runnable routes in the shapes LangServe clients speak.

For a runnable added at ``path``:

- ``POST {path}/invoke``  ``{"input", "config"?, "kwargs"?}`` →
  ``{"output", "metadata": {"run_id", "feedback_tokens"}, "callback_events"}``
- ``POST {path}/batch``   ``{"inputs": [...], "config"?: {} or [...], "kwargs"?}`` →
  ``{"output": [...], "metadata": {"run_ids", "responses"}, "callback_events"}``
- ``POST {path}/stream``  SSE: ``metadata`` (``{"run_id"}``), a ``data`` event
  per chunk, then ``end``; or ``error`` (``{"status_code", "message"}``) and the end
- ``POST {path}/stream_events``  SSE: a ``data`` event per event dict (filtered
  by ``include_*``/``exclude_*`` in the body), then ``end``
- ``GET {path}/input_schema``, ``{path}/output_schema``: JSON Schemas

The client's ``config`` may set tags, metadata and a run name; ``kwargs`` and
``configurable`` are refused, so a client cannot rebind the model (its base
URL, key or anything else).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from ragstream.core import Runnable
from ragstream.errors import ConfigError, InputError
from ragstream.server._errors import HTTPProblem, public_error
from ragstream.server._requests import DEFAULT_MAX_BODY, check_keys, read_json
from ragstream.server._schema import schema_errors
from ragstream.server._serialize import decode, encode
from ragstream.server._sse import ClientGone, EventStream, StreamRegistry, frame, until_disconnect

__all__ = ["add_routes", "problem_response", "registry_of"]

_CONFIG_KEYS = frozenset(
    {"tags", "metadata", "run_name", "recursion_limit", "configurable", "run_id", "callbacks",
     "max_concurrency"}
)
_FILTERS = ("include_names", "include_types", "include_tags",
            "exclude_names", "exclude_types", "exclude_tags")
MAX_BATCH = 100
BATCH_CONCURRENCY = 8


def registry_of(app: Any) -> StreamRegistry:
    """The app's registry of open event streams (made on first use)."""
    state = app.state
    registry = getattr(state, "event_streams", None)
    if registry is None:
        registry = StreamRegistry()
        state.event_streams = registry
    return registry


def problem_response(exc: BaseException) -> JSONResponse:
    """A JSON error response in the ``{"detail": ...}`` shape of these routes."""
    if isinstance(exc, HTTPProblem):
        detail: Any = exc.errors if exc.status == 422 and exc.errors else exc.message
        if exc.status == 422 and exc.errors:
            return JSONResponse({"detail": detail, "message": exc.message}, status_code=422)
        return JSONResponse({"detail": detail}, status_code=exc.status)
    error = public_error(exc)
    return JSONResponse({"detail": error.message}, status_code=error.status)


def error_frame(exc: BaseException) -> bytes:
    """The ``error`` event that ends a LangServe-style stream."""
    error = public_error(exc)
    return frame("error", {"status_code": error.status, "message": error.message})


SHUTDOWN_FRAME = frame(
    "error", {"status_code": 503, "message": "the server is shutting down; try again"}
)


def _client_config(raw: Any, *, loc: str = "config") -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise HTTPProblem(422, f"{loc} must be an object")
    unknown = sorted(set(raw) - _CONFIG_KEYS)
    if unknown:
        raise HTTPProblem(
            422, f"unknown {loc} keys: {', '.join(unknown)}; "
                 f"this server accepts tags, metadata and run_name",
        )
    if raw.get("configurable"):
        raise HTTPProblem(422, f"{loc}.configurable is not accepted by this server")
    if raw.get("callbacks"):
        raise HTTPProblem(422, f"{loc}.callbacks cannot be sent to a server")
    config: dict[str, Any] = {}
    tags = raw.get("tags")
    if tags is not None:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise HTTPProblem(422, f"{loc}.tags must be a list of strings")
        config["tags"] = tags
    metadata = raw.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise HTTPProblem(422, f"{loc}.metadata must be an object")
        config["metadata"] = metadata
    run_name = raw.get("run_name")
    if run_name is not None:
        if not isinstance(run_name, str) or not run_name:
            raise HTTPProblem(422, f"{loc}.run_name must be a non-empty string")
        config["run_name"] = run_name
    limit = raw.get("max_concurrency")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise HTTPProblem(422, f"{loc}.max_concurrency must be a positive integer")
    return config


def _no_kwargs(raw: Any) -> None:
    if raw is None or raw == {}:
        return
    raise HTTPProblem(
        422, "kwargs are not accepted by this server: a client cannot rebind the runnable"
    )


class _RunnableRoutes:
    def __init__(
        self,
        runnable: Runnable[Any, Any],
        *,
        input_schema: dict[str, Any],
        output_schema: dict[str, Any],
        max_body_bytes: int | None,
        keepalive: float | None,
        prepare_input: Callable[[Any], Any] | None,
        before_run: Callable[[], Awaitable[None]] | None,
    ) -> None:
        self.runnable = runnable
        self.before_run = before_run
        self.input_schema = input_schema
        self.output_schema = output_schema
        self.max_body = max_body_bytes
        self.keepalive = keepalive
        self.prepare_input = prepare_input

    def _input(self, raw: Any, loc: tuple[str | int, ...]) -> Any:
        errors = schema_errors(raw, self.input_schema, loc=loc)
        if errors:
            first = errors[0]
            where = ".".join(str(p) for p in first["loc"][1:]) or "input"
            raise HTTPProblem(422, f"{where}: {first['msg']}", errors=errors)
        try:
            value = decode(raw)
            return self.prepare_input(value) if self.prepare_input else value
        except InputError as exc:
            raise HTTPProblem(422, f"{'.'.join(map(str, loc[1:]))}: {exc}") from None

    def _limit(self, request: Request) -> int:
        if self.max_body is not None:
            return self.max_body
        return int(getattr(request.app.state, "max_body_bytes", DEFAULT_MAX_BODY))

    async def _single(self, request: Request, extra: tuple[str, ...] = ()) -> tuple[Any, Any, Any]:
        body = check_keys(
            await read_json(request, limit=self._limit(request)),
            allowed=("input", "config", "kwargs", *extra), required=("input",),
        )
        _no_kwargs(body.get("kwargs"))
        value = self._input(body["input"], ("body", "input"))
        return value, _client_config(body.get("config")), body

    async def _ready(self) -> None:
        if self.before_run is not None:
            await self.before_run()

    async def invoke(self, request: Request) -> Response:
        try:
            value, config, _ = await self._single(request)
            await self._ready()
            run_id = str(uuid.uuid4())
            output = await until_disconnect(
                request.receive, self.runnable.ainvoke(value, config or None)
            )
        except ClientGone:
            return Response(status_code=499)
        except Exception as exc:
            return problem_response(exc)
        return JSONResponse({
            "output": encode(output),
            "metadata": {"run_id": run_id, "feedback_tokens": []},
            "callback_events": [],
        })

    async def batch(self, request: Request) -> Response:
        try:
            body = check_keys(
                await read_json(request, limit=self._limit(request)),
                allowed=("inputs", "config", "kwargs"), required=("inputs",),
            )
            _no_kwargs(body.get("kwargs"))
            raw_inputs = body["inputs"]
            if not isinstance(raw_inputs, list):
                raise HTTPProblem(422, "inputs must be a list")
            if len(raw_inputs) > MAX_BATCH:
                raise HTTPProblem(
                    422, f"a batch holds at most {MAX_BATCH} inputs, not {len(raw_inputs)}"
                )
            inputs = [self._input(x, ("body", "inputs", i)) for i, x in enumerate(raw_inputs)]
            raw_config = body.get("config")
            if isinstance(raw_config, list):
                if len(raw_config) != len(inputs):
                    raise HTTPProblem(
                        422, f"number of configs ({len(raw_config)}) must match "
                             f"number of inputs ({len(inputs)})",
                    )
                configs = [_client_config(c, loc=f"config[{i}]") for i, c in enumerate(raw_config)]
            else:
                configs = [_client_config(raw_config)] * len(inputs)
            await self._ready()
            run_ids = [str(uuid.uuid4()) for _ in inputs]
            outputs = await until_disconnect(request.receive, self._run_batch(inputs, configs))
        except ClientGone:
            return Response(status_code=499)
        except Exception as exc:
            return problem_response(exc)
        return JSONResponse({
            "output": encode(outputs),
            "metadata": {
                "run_ids": run_ids,
                "responses": [{"run_id": r, "feedback_tokens": []} for r in run_ids],
            },
            "callback_events": [],
        })

    async def _run_batch(self, inputs: list[Any], configs: list[dict[str, Any]]) -> list[Any]:
        import asyncio

        sem = asyncio.Semaphore(BATCH_CONCURRENCY)

        async def one(value: Any, config: dict[str, Any]) -> Any:
            async with sem:
                return await self.runnable.ainvoke(value, config or None)

        runs = (one(v, c) for v, c in zip(inputs, configs, strict=True))
        return list(await asyncio.gather(*runs))

    async def stream(self, request: Request) -> Response | EventStream:
        try:
            value, config, _ = await self._single(request)
        except Exception as exc:
            return problem_response(exc)
        run_id = str(uuid.uuid4())
        runnable = self.runnable

        async def frames() -> AsyncIterator[bytes]:
            await self._ready()
            yield frame("metadata", {"run_id": run_id})
            async for chunk in runnable.astream(value, config or None):
                yield frame("data", chunk)
            yield frame("end")

        return self._event_stream(request, frames())

    async def stream_events(self, request: Request) -> Response | EventStream:
        try:
            value, config, body = await self._single(request, extra=(*_FILTERS, "version"))
            filters: dict[str, Any] = {}
            for name in _FILTERS:
                given = body.get(name)
                if given is None:
                    continue
                if not isinstance(given, list) or not all(isinstance(g, str) for g in given):
                    raise HTTPProblem(422, f"{name} must be a list of strings")
                filters[name] = given
            version: Literal["v1", "v2"] = "v1" if body.get("version") == "v1" else "v2"
            if body.get("version") not in (None, "v1", "v2"):
                raise HTTPProblem(422, "version must be 'v1' or 'v2'")
            events = self.runnable.astream_events(value, config or None, version=version, **filters)
        except ConfigError as exc:  # an unknown event type in a filter
            return problem_response(HTTPProblem(422, str(exc)))
        except Exception as exc:
            return problem_response(exc)

        async def frames() -> AsyncIterator[bytes]:
            try:
                await self._ready()
                async for event in events:
                    yield frame("data", event)
            finally:
                await events.aclose()  # type: ignore[attr-defined]
            yield frame("end")

        return self._event_stream(request, frames())

    def _event_stream(self, request: Request, frames: AsyncIterator[bytes]) -> EventStream:
        return EventStream(
            frames, on_error=error_frame, on_shutdown=SHUTDOWN_FRAME,
            keepalive=self.keepalive, registry=registry_of(request.app),
        )

    async def get_input_schema(self, request: Request) -> Response:
        return JSONResponse(self.input_schema)

    async def get_output_schema(self, request: Request) -> Response:
        return JSONResponse(self.output_schema)


def add_routes(
    app: ASGIApp,
    runnable: Runnable[Any, Any],
    *,
    path: str = "",
    input_schema: dict[str, Any] | None = None,
    output_schema: dict[str, Any] | None = None,
    max_body_bytes: int | None = None,
    keepalive: float | None = 15.0,
    prepare_input: Callable[[Any], Any] | None = None,
    before_run: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Serve ``runnable`` under ``path`` of a Starlette (or FastAPI) ``app`` with the
    routes LangServe's ``RemoteRunnable`` calls.

    Request bodies over ``max_body_bytes`` (default: the limit given to
    ``create_app``, else 1 MiB) are refused with 413. ``input_schema`` (a JSON
    Schema) is checked on every input and served at
    ``{path}/input_schema``; ``prepare_input`` turns a checked, decoded input
    into what the runnable takes. ``before_run()`` is awaited before each run,
    once the request is read: what it raises answers the request as a failed
    run would (an error status, or a stream's ``error`` event), so it can
    refuse runs while the runnable cannot answer. Streams send a ``: ping``
    comment after ``keepalive`` idle seconds.

    >>> from starlette.applications import Starlette
    >>> from ragstream.testing import FakeChatModel
    >>> app = Starlette()
    >>> add_routes(app, FakeChatModel("Hello!"), path="/chat")
    """
    if path and (not path.startswith("/") or path.endswith("/")):
        raise ConfigError(f"path must start with '/' and not end with one, not {path!r}")
    name = runnable.get_name()
    handler = _RunnableRoutes(
        runnable,
        input_schema=input_schema if input_schema is not None else {"title": f"{name}Input"},
        output_schema=output_schema if output_schema is not None else {"title": f"{name}Output"},
        max_body_bytes=max_body_bytes,
        keepalive=keepalive,
        prepare_input=prepare_input,
        before_run=before_run,
    )
    router = getattr(app, "router", None)
    if router is None:
        raise ConfigError(f"add_routes needs a Starlette or FastAPI app, not {type(app).__name__}")
    router.routes.extend([
        Route(f"{path}/invoke", handler.invoke, methods=["POST"]),
        Route(f"{path}/batch", handler.batch, methods=["POST"]),
        Route(f"{path}/stream", handler.stream, methods=["POST"]),
        Route(f"{path}/stream_events", handler.stream_events, methods=["POST"]),
        Route(f"{path}/input_schema", handler.get_input_schema, methods=["GET"]),
        Route(f"{path}/output_schema", handler.get_output_schema, methods=["GET"]),
    ])
