"""A scripted HTTP/1.1 server on 127.0.0.1, written on raw asyncio streams.

Raw streams, not a web framework, because the faults a model client must
survive live below HTTP frameworks: a socket closed mid-body, headers followed
by silence, a body trickled one byte at a time, a multibyte UTF-8 character
split across two network writes.

The server runs its own event loop on a daemon thread, so tests drive it from
sync code and from any event loop. Each POST takes the next scripted ``Reply``
(or ``default`` when none is queued); every request is recorded as a
``Received`` with the time the client's connection went away.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Frames",
    "Out",
    "Received",
    "Reply",
    "ScriptedServer",
    "refused_url",
    "split_tokens",
    "sse",
    "words",
]

_TOKEN = re.compile(r"\s*[\w']+|\s*[^\w\s]|\s+")


def split_tokens(text: str) -> list[str]:
    """Split text the way models stream it: words with their leading space,
    punctuation on its own."""
    return _TOKEN.findall(text)


@dataclass
class Reply:
    """One scripted response. The defaults give a clean, complete answer.

    ``*_after`` counts content frames (one per token): ``close_after=3`` sends
    three tokens, then closes the socket in the middle of the body.
    """

    #: the answer: a string (split into word tokens) or the exact token list
    text: str | Sequence[str] = "Hello from the test server."
    #: HTTP status; 400 and above send the dialect's JSON error body
    status: int = 200
    #: extra response headers (``Retry-After``...)
    headers: Mapping[str, str] = field(default_factory=dict)
    #: the message of an error body or error frame
    error: str = "scripted failure"
    #: seconds to wait before each content frame
    delay: float = 0.0
    #: seconds to wait after the headers, before the first frame
    first_delay: float = 0.0
    #: close the connection mid-body after this many content frames
    close_after: int | None = None
    #: send the finish frame(s) that say the answer is complete
    finish: bool = True
    #: the finish/stop reason; None for the dialect's default
    finish_reason: str | None = None
    #: send token usage (OpenAI: only when the client asks for it)
    usage: bool = True
    #: OpenAI: end with ``data: [DONE]``
    done: bool = True
    #: send the headers, then nothing until the client goes away
    silence_after_headers: bool = False
    #: write the body (not the headers) one byte at a time, this many seconds
    #: apart (0: one write per byte, no pause)
    trickle: float | None = None
    #: send a frame that is not JSON after this many content frames
    malformed_after: int | None = None
    #: send an error frame after this many content frames, then end the body
    error_after: int | None = None
    #: write each frame holding a multibyte character as two network writes
    #: that cut that character in two
    split_utf8: bool = False
    #: write exactly these bytes as the whole response, then close
    raw: bytes | None = None
    #: embeddings: vector size when the request names none
    dimensions: int = 8

    def tokens(self) -> list[str]:
        return split_tokens(self.text) if isinstance(self.text, str) else list(self.text)


@dataclass
class Received:
    """A request the server read."""

    method: str
    path: str
    #: header names in lower case
    headers: dict[str, str]
    body: bytes
    #: ``time.monotonic()`` when the request was read
    at: float
    #: ``time.monotonic()`` when its connection closed (client gone, or a
    #: scripted close); None while it is open
    disconnected_at: float | None = None

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Frames:
    """A streamed body as a dialect renders it: opening frames, one frame per
    token, closing frames (the closing ones already follow the reply's
    ``finish``/``usage``/``done``)."""

    head: list[bytes]
    content: list[bytes]
    tail: list[bytes]
    error_frame: bytes
    malformed_frame: bytes = b"data: {this is not json\n\n"


class _Conn:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.closed = asyncio.Event()
        self.received: list[Received] = []


class Out:
    """How a dialect answers one request; applies the reply's faults."""

    def __init__(self, conn: _Conn, reply: Reply, stopping: asyncio.Event) -> None:
        self._conn = conn
        self.reply = reply
        self._stopping = stopping
        self.keep_alive = True

    async def _pause(self, seconds: float) -> bool:
        """Wait; False when the client went away (or the server stops) meanwhile."""
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self._conn.closed.wait()
        return not self._conn.closed.is_set() and not self._stopping.is_set()

    async def _write(self, data: bytes, *, body: bool = True) -> bool:
        if self._conn.closed.is_set():
            return False
        w = self._conn.writer
        trickle = self.reply.trickle if body else None
        try:
            if trickle is None:
                w.write(data)
                await w.drain()
                return True
            for i in range(len(data)):
                w.write(data[i : i + 1])
                await w.drain()
                if trickle == 0:
                    await asyncio.sleep(0)  # one send() per byte, as fast as it goes
                elif not await self._pause(trickle):
                    return False
        except (ConnectionError, RuntimeError):
            return False
        return True

    async def _head(self, status: int, headers: Mapping[str, str]) -> bool:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return await self._write(head, body=False)

    async def close(self) -> None:
        """End the connection now (a clean FIN, possibly mid-body)."""
        self.keep_alive = False
        w = self._conn.writer
        with contextlib.suppress(ConnectionError, RuntimeError):
            await w.drain()
        w.close()

    async def json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        """A complete JSON response (headers of the reply added)."""
        if self.reply.raw is not None:
            await self._raw()
            return
        data = json.dumps(body).encode()
        all_headers = {
            "content-type": "application/json",
            "content-length": str(len(data)),
            **(headers or {}),
            **self.reply.headers,
        }
        if not await self._head(status, all_headers):
            return
        if self.reply.silence_after_headers:
            await self._silence()
            return
        if not await self._pause(self.reply.first_delay):
            return
        if self.reply.close_after is not None:
            await self.close()
            return
        await self._write(data)

    async def _raw(self) -> None:
        assert self.reply.raw is not None
        await self._write(self.reply.raw)
        await self.close()

    async def _silence(self) -> None:
        while await self._pause(3600):
            pass
        await self.close()

    async def _chunk(self, frame: bytes) -> bool:
        if self.reply.split_utf8:
            cut = _inside_multibyte(frame)
            if cut is not None:
                if not await self._write(_chunked(frame[:cut])):
                    return False
                # a pause, so the two halves travel in separate TCP segments
                if not await self._pause(0.02):
                    return False
                return await self._write(_chunked(frame[cut:]))
        return await self._write(_chunked(frame))

    async def stream(self, frames: Frames, headers: Mapping[str, str] | None = None) -> None:
        """A chunked ``text/event-stream`` response with the reply's faults."""
        reply = self.reply
        if reply.raw is not None:
            await self._raw()
            return
        all_headers = {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
            "transfer-encoding": "chunked",
            **(headers or {}),
            **reply.headers,
        }
        if not await self._head(200, all_headers):
            return
        if reply.silence_after_headers:
            await self._silence()
            return
        if not await self._pause(reply.first_delay):
            return
        for f in frames.head:
            if not await self._chunk(f):
                return
        for i, f in enumerate([*frames.content, None]):
            if reply.close_after == i:
                await self.close()
                return
            if reply.malformed_after == i and not await self._chunk(frames.malformed_frame):
                return
            if reply.error_after == i:
                if await self._chunk(frames.error_frame):
                    await self._write(b"0\r\n\r\n")
                return
            if f is None:
                break
            if not await self._pause(reply.delay) or not await self._chunk(f):
                return
        for f in frames.tail:
            if not await self._chunk(f):
                return
        await self._write(b"0\r\n\r\n")


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


def _inside_multibyte(data: bytes) -> int | None:
    """An offset that falls inside the first multibyte UTF-8 character."""
    for i, b in enumerate(data):
        if b >= 0xC0:  # a lead byte
            return i + 1
    return None


_REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    408: "Request Timeout", 413: "Payload Too Large", 422: "Unprocessable Entity",
    429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout", 529: "Overloaded",
}


class ScriptedServer:
    """Base of the dialect servers: sockets, scripts, records.

    Use from tests::

        server.script(Reply(status=503), Reply(text="Hi"))
        ...  # call the client
        assert len(server.requests) == 2
    """

    #: what a dialect serves when no reply is scripted
    default: Reply

    def __init__(self) -> None:
        self.default = Reply()
        self._replies: collections.deque[Reply] = collections.deque()
        self._received: list[Received] = []
        self._changed = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self._stopping: asyncio.Event | None = None
        self.port = 0

    # -- lifecycle ------------------------------------------------------------

    def start(self, port: int = 0) -> ScriptedServer:
        """Listen on 127.0.0.1 (``port`` 0: any free port) on a daemon thread."""
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        self._loop = loop

        async def serve() -> None:
            self._stopping = asyncio.Event()
            self._server = await asyncio.start_server(self._on_connect, "127.0.0.1", port)
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(serve())
            loop.run_forever()

        threading.Thread(target=run, name=f"{type(self).__name__}", daemon=True).start()
        if not ready.wait(10):
            raise RuntimeError("the test server did not start")
        return self

    def stop(self) -> None:
        """Close every connection and stop listening."""
        loop = self._loop
        if loop is None:
            return

        async def shutdown() -> None:
            assert self._server is not None and self._stopping is not None
            self._stopping.set()
            self._server.close()
            for task in list(self._conns):
                task.cancel()
            await asyncio.gather(*self._conns, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._loop = None

    def __enter__(self) -> ScriptedServer:
        return self.start() if self._loop is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``"""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The URL clients take as their base (the dialect's ``/v1`` root)."""
        return f"{self.url}/v1"

    # -- scripting ------------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        """Queue replies; each POST takes the next one."""
        self._replies.extend(replies)

    def reset(self) -> None:
        """Forget scripts and records; serve ``Reply()`` by default."""
        self._replies.clear()
        self.default = Reply()
        with self._changed:
            self._received.clear()

    @property
    def pending(self) -> int:
        """How many scripted replies are still queued."""
        return len(self._replies)

    # -- records --------------------------------------------------------------

    @property
    def requests(self) -> list[Received]:
        """Every request read since the last reset, in order."""
        with self._changed:
            return list(self._received)

    def wait_requests(self, n: int, timeout: float = 5.0) -> list[Received]:
        """Wait until at least ``n`` requests were read."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._received) >= n, timeout):
                raise AssertionError(f"{len(self._received)} requests arrived, expected {n}")
            return list(self._received)

    def wait_disconnected(self, request: Received | None = None, timeout: float = 5.0) -> float:
        """Wait until the connection of ``request`` (default: the last one)
        closed; return ``time.monotonic()`` when it did."""
        with self._changed:
            if request is None:
                self._changed.wait_for(lambda: bool(self._received), timeout)
                if not self._received:
                    raise AssertionError("no request arrived")
                request = self._received[-1]
            target = request
            if not self._changed.wait_for(lambda: target.disconnected_at is not None, timeout):
                raise AssertionError(f"the client kept its connection open for {timeout} s")
            assert target.disconnected_at is not None
            return target.disconnected_at

    # -- what dialects write --------------------------------------------------

    async def respond(self, request: Received, reply: Reply, out: Out) -> None:
        raise NotImplementedError

    # -- connections ----------------------------------------------------------

    def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Conn(writer)
        task = asyncio.get_running_loop().create_task(self._serve(reader, conn))
        self._conns.add(task)
        task.add_done_callback(self._conns.discard)

    async def _serve(self, reader: asyncio.StreamReader, conn: _Conn) -> None:
        queue: asyncio.Queue[Received | None] = asyncio.Queue()
        reading = asyncio.create_task(self._read(reader, conn, queue))
        assert self._stopping is not None
        try:
            while True:
                request = await queue.get()
                if request is None:
                    break
                reply = self._next_reply(request)
                out = Out(conn, reply, self._stopping)
                await self.respond(request, reply, out)
                if not out.keep_alive or request.headers.get("connection") == "close":
                    await out.close()
                    break
        except asyncio.CancelledError:
            pass
        finally:
            conn.writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(reading, 1.0)
            reading.cancel()

    def _next_reply(self, request: Received) -> Reply:
        if request.method == "POST" and self._replies:
            return self._replies.popleft()
        return self.default

    async def _read(
        self, reader: asyncio.StreamReader, conn: _Conn, queue: asyncio.Queue[Received | None]
    ) -> None:
        buf = b""
        try:
            while True:
                request, buf = _parse(buf)
                if request is not None:
                    with self._changed:
                        self._received.append(request)
                        conn.received.append(request)
                        self._changed.notify_all()
                    queue.put_nowait(request)
                    continue
                data = await reader.read(65536)
                if not data:
                    break
                buf += data
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            now = time.monotonic()
            conn.closed.set()
            with self._changed:
                for r in conn.received:
                    if r.disconnected_at is None:
                        r.disconnected_at = now
                self._changed.notify_all()
            queue.put_nowait(None)


def _parse(buf: bytes) -> tuple[Received | None, bytes]:
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None, buf
    head = buf[:end].decode("latin-1").split("\r\n")
    method, target, _version = head[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    if len(buf) < end + 4 + length:
        return None, buf
    body = buf[end + 4 : end + 4 + length]
    request = Received(method, target, headers, body, time.monotonic())
    return request, buf[end + 4 + length :]


def refused_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event frame."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {text}\n\n".encode()


def words(texts: Iterable[str]) -> int:
    """A rough token count, for usage figures."""
    return sum(len(split_tokens(t)) for t in texts)
