"""Ingest over HTTP: load web pages into the served collection, as a job.

- ``POST /ingest`` ``{"urls": [...]}``: 202 with a ``job_id``; URLs that are
  not http(s), or whose host is (or resolves to) a loopback, private,
  link-local or metadata address, are refused with 422 before the job starts
  (unless the operator allows private URLs). The loaders check every
  redirect with the same guard.
- ``GET /ingest/{job_id}``: the job's state, progress and report
- ``GET /ingest/{job_id}/events``: SSE ``progress`` events (``stage``,
  ``done``, ``total``, ``source``), then ``done`` (the report) or ``error``,
  then ``end``. A listener that connects late gets the events so far first.

Jobs run one at a time in the server's loop; the last ``MAX_JOBS`` are kept.
When a job ends, ``on_done`` is called before its last event is sent (the
server checks its collection again), so a client that asks a question once
it sees ``done`` is answered from what was ingested.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ragstream.errors import SourceError
from ragstream.server._errors import HTTPProblem, public_error
from ragstream.server._requests import read_json
from ragstream.server._routes import error_frame, problem_response, registry_of
from ragstream.server._schema import schema_errors
from ragstream.server._serialize import encode
from ragstream.server._sse import EventStream, frame

__all__ = ["INGEST_SCHEMA", "ingest_routes"]

MAX_URLS = 20
MAX_JOBS = 100
_KEPT_EVENTS = 500

INGEST_SCHEMA: dict[str, Any] = {
    "title": "IngestRequest",
    "type": "object",
    "properties": {
        "urls": {
            "type": "array", "minItems": 1, "maxItems": MAX_URLS,
            "items": {"type": "string", "minLength": 1, "maxLength": 2048},
        },
    },
    "required": ["urls"],
    "additionalProperties": False,
}

URLGuard = Callable[[str], None]


class _Job:
    """One ingest job: its progress events (the last few hundred) and its outcome."""

    def __init__(self, job_id: str, urls: list[str]) -> None:
        self.id = job_id
        self.urls = urls
        self.status = "queued"
        self.created_at = time.time()
        self.report: Any = None
        self.error: str | None = None
        self.task: asyncio.Task[None] | None = None
        self._events: deque[tuple[int, str, Any]] = deque(maxlen=_KEPT_EVENTS)
        self._seq = 0
        self._changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", "cancelled")

    def progress(self, update: Any) -> None:
        """The callback ingest reports progress to (from any thread)."""
        if threading.get_ident() != self._thread:
            self._loop.call_soon_threadsafe(self._publish, "progress", encode(update))
        else:
            self._publish("progress", encode(update))

    def _publish(self, kind: str, data: Any) -> None:
        self._seq += 1
        self._events.append((self._seq, kind, data))
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def finish(self, status: str, kind: str, data: Any) -> None:
        self.status = status
        self._publish(kind, data)

    def last_progress(self) -> Any:
        return next((d for _, k, d in reversed(self._events) if k == "progress"), None)

    async def follow(self) -> AsyncIterator[tuple[str, Any]]:
        seen = 0
        while True:
            for seq, kind, data in list(self._events):
                if seq > seen:
                    seen = seq
                    yield kind, data
            if self.finished and seen >= self._seq:
                return
            await self._changed.wait()

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.id, "status": self.status, "urls": self.urls,
            "created_at": self.created_at, "progress": self.last_progress(),
            "report": self.report, "error": self.error,
        }


class _IngestRoutes:
    def __init__(self, rag_app: Any, *, url_guard: URLGuard | None, max_body_bytes: int,
                 keepalive: float | None, on_done: Callable[[], None] | None) -> None:
        self.rag = rag_app
        self.guard = url_guard
        self.on_done = on_done
        self.max_body = max_body_bytes
        self.keepalive = keepalive
        self.jobs: OrderedDict[str, _Job] = OrderedDict()
        self._one_at_a_time: asyncio.Semaphore | None = None

    async def _check_url(self, url: str) -> None:
        from ragstream.loaders._guard import check_scheme

        check_scheme(url)
        if self.guard is not None:
            await asyncio.to_thread(self.guard, url)  # it resolves names: blocking

    async def start(self, request: Request) -> Response:
        if not callable(getattr(self.rag, "aingest", None)):
            return problem_response(HTTPProblem(501, "this server does not ingest documents"))
        try:
            body = await read_json(request, limit=self.max_body)
            errors = schema_errors(body, INGEST_SCHEMA)
            if errors:
                where = ".".join(str(p) for p in errors[0]["loc"][1:]) or "body"
                raise HTTPProblem(422, f"{where}: {errors[0]['msg']}", errors=errors)
            urls = [u.strip() for u in body["urls"]]
            for url in urls:
                try:
                    await self._check_url(url)
                except SourceError as exc:
                    raise HTTPProblem(422, str(exc)) from None
        except Exception as exc:
            return problem_response(exc)
        job = _Job(secrets.token_hex(8), urls)
        self.jobs[job.id] = job
        while len(self.jobs) > MAX_JOBS:
            oldest = next(iter(self.jobs.values()))
            if not oldest.finished:
                break
            self.jobs.popitem(last=False)
        job.task = asyncio.create_task(self._run(job))
        return JSONResponse(
            {"job_id": job.id, "status": job.status,
             "status_url": f"/ingest/{job.id}", "events_url": f"/ingest/{job.id}/events"},
            status_code=202,
        )

    async def _run(self, job: _Job) -> None:
        if self._one_at_a_time is None:
            self._one_at_a_time = asyncio.Semaphore(1)
        try:
            async with self._one_at_a_time:
                job.status = "running"
                report = await self.rag.aingest(
                    job.urls, on_progress=job.progress, url_guard=self.guard
                )
        except asyncio.CancelledError:
            self._done()
            job.error = "the server shut down before the job finished"
            job.finish("cancelled", "error", {"status_code": 503, "message": job.error})
            raise
        except Exception as exc:
            self._done()  # a failed job may still have stored some sources
            error = public_error(exc)
            job.error = error.message
            job.finish("failed", "error", {"status_code": error.status, "message": error.message})
            return
        self._done()
        job.report = _report_json(report)
        job.finish("done", "done", job.report)

    def _done(self) -> None:
        if self.on_done is not None:
            self.on_done()

    def _job(self, request: Request) -> _Job:
        job = self.jobs.get(request.path_params["job_id"])
        if job is None:
            raise HTTPProblem(404, f"no ingest job {request.path_params['job_id']!r}")
        return job

    async def status(self, request: Request) -> Response:
        try:
            return JSONResponse(self._job(request).to_dict())
        except Exception as exc:
            return problem_response(exc)

    async def events(self, request: Request) -> Response | EventStream:
        try:
            job = self._job(request)
        except Exception as exc:
            return problem_response(exc)

        async def frames() -> AsyncIterator[bytes]:
            async for kind, data in job.follow():
                yield frame(kind, data)
                if kind == "error":
                    return
            yield frame("end")

        return EventStream(
            frames(), on_error=error_frame, keepalive=self.keepalive,
            on_shutdown=frame("error", {"status_code": 503,
                                        "message": "the server is shutting down"}),
            registry=registry_of(request.app),
        )

    async def aclose(self) -> None:
        """Cancel the jobs still running (at server shutdown)."""
        tasks = [j.task for j in self.jobs.values() if j.task is not None and not j.task.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


def _report_json(report: Any) -> Any:
    """The report as JSON, with its failed sources as ``failures``
    (``source``, ``reason``) whatever shape the application gives them."""
    data = encode(report)
    failures = getattr(report, "failures", None)
    if isinstance(data, dict) and failures is not None and not isinstance(failures, int):
        data["failures"] = [
            {"source": str(getattr(f, "source", "")),
             "reason": str(getattr(f, "error", None) or getattr(f, "reason", ""))}
            for f in failures
        ]
    return data


def ingest_routes(
    rag_app: Any, *, url_guard: URLGuard | None, max_body_bytes: int, keepalive: float | None,
    on_done: Callable[[], None] | None = None,
) -> tuple[list[Route], Callable[[], Any]]:
    """The ingest routes over ``rag_app``, and the coroutine function that cancels
    running jobs at shutdown. ``on_done()`` is called as each job ends."""
    handler = _IngestRoutes(rag_app, url_guard=url_guard, max_body_bytes=max_body_bytes,
                            keepalive=keepalive, on_done=on_done)
    routes = [
        Route("/ingest", handler.start, methods=["POST"]),
        Route("/ingest/{job_id}", handler.status, methods=["GET"]),
        Route("/ingest/{job_id}/events", handler.events, methods=["GET"]),
    ]
    return routes, handler.aclose
