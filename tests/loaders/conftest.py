"""Fixtures for the loader tests: a small web site on 127.0.0.1 and a PDF writer.

The site is served by ``http.server.ThreadingHTTPServer`` on a daemon
thread, one server for the whole session. It looks like the guide's blog
post and adds every way a page can go wrong: other encodings, redirects to
good and bad places, error statuses, binary bodies, a huge page, slow pages
and many small ones. It records each request so tests can see what was (and
was not) fetched.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

BLOG_POST = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>LLM Powered Autonomous Agents | Lil'Log</title>
<meta name="description" content="Building agents with LLM as its core controller.">
</head>
<body>
<nav class="nav"><a href="/">Lil'Log</a> | <a href="/posts/">Posts</a> | Site menu</nav>
<main class="main">
<article class="post-single">
<header class="post-header">
<h1 class="post-title">
      LLM Powered Autonomous Agents
    </h1>
<div class="post-meta">Date: June 23, 2023  |  Estimated Reading Time: 31 min  |  Author: Lilian Weng</div>
</header>
<div class="post-content"><p>Building agents with LLM (large language model) as its core controller is a cool concept.</p>
<h1 id="agent-system-overview">Agent System Overview<a hidden class="anchor" href="#agent-system-overview">#</a></h1>
<p>In a LLM-powered autonomous agent system, LLM functions as the agent’s brain.</p>
<h2 id="component-one-planning">Component One: Planning<a hidden class="anchor" href="#component-one-planning">#</a></h2>
<p>A complicated task usually involves many steps. An agent needs to know what they are and plan ahead.</p>
<h3 id="task-decomposition">Task Decomposition<a hidden class="anchor" href="#task-decomposition">#</a></h3>
<p>Chain of thought (CoT; Wei et al. 2022) has become a standard prompting technique.</p>
<ul>
<li>Resources:</li>
<li>1. Internet access for searches and information gathering.</li>
</ul>
<h2 id="component-two-memory">Component Two: Memory<a hidden class="anchor" href="#component-two-memory">#</a></h2>
<p>Memory can be defined as the processes used to acquire, store, retain, and later retrieve information.</p>
</div>
</article>
</main>
<footer class="footer">© 2023 Lil'Log · Powered by Hugo &amp; PaperMod</footer>
</body>
</html>
"""  # noqa: E501 (the page is kept as a real page is written)

STRAINED_CLASSES = ("post-content", "post-title", "post-header")
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


def _page(body: str, *, title: str = "") -> str:
    head = f"<title>{title}</title>" if title else ""
    return f"<html><head>{head}</head><body>{body}</body></html>"


# (body bytes, content type) for the pages that do not need code
STATIC: dict[str, tuple[bytes, str | None]] = {
    "/posts/agent/": (BLOG_POST.encode(), "text/html; charset=utf-8"),
    "/enc/latin1-header": (
        _page("<p>Caf\xe9 cr\xe8me \u201cquoted\u201d na\xefve</p>").encode("cp1252"),
        "text/html; charset=ISO-8859-1",
    ),
    "/enc/sjis-meta": (
        (
            '<html><head><meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
            "<title>日本語のページ</title></head><body><p>エージェントの記憶と計画</p></body></html>"
        ).encode("shift_jis"),
        "text/html",
    ),
    "/enc/cp1252-meta": (
        (
            '<html><head><meta charset="windows-1252"></head>'
            "<body><p>Price: 5\u20ac \u2014 d\xe9j\xe0 vu</p></body></html>"
        ).encode("cp1252"),
        "text/html",
    ),
    "/enc/header-beats-meta": (
        '<html><head><meta charset="utf-8"></head><body><p>Gr\xfc\xdfe</p></body></html>'.encode(
            "latin-1"
        ),
        "text/html; charset=iso-8859-1",
    ),
    "/enc/undeclared-utf8": (_page("<p>스트리밍 결과 — naïve</p>").encode(), "text/html"),
    "/enc/undeclared-cp1252": (
        _page("<p>r\xe9sum\xe9 \u2013 fa\xe7ade</p>").encode("cp1252"),
        "text/html",
    ),
    "/plain.txt": (b"Plain text <not a tag> page.\nSecond line.\n", "text/plain; charset=utf-8"),
    "/no-type": (_page("<p>No content type header</p>").encode(), None),
    "/empty": (b"<html><head></head><body><nav></nav>  \n </body></html>", "text/html"),
    "/binary/png": (PNG, "image/png"),
    "/binary/octet": (b"\x00\x01\x02\x03" * 64, "application/octet-stream"),
    "/binary/mislabelled": (PNG + b"\x00" * 64, "text/html"),
    "/huge": (_page("<p>" + "x" * 200_000 + "</p>").encode(), "text/html"),
}
REDIRECTS = {
    "/redirect/to-post": "/posts/agent/",
    "/redirect/chain-1": "chain-2",  # relative, resolved against /redirect/
    "/redirect/chain-2": "http://127.0.0.1:{port}/redirect/chain-3",
    "/redirect/chain-3": "/posts/agent/",
    "/redirect/to-file": "file:///etc/passwd",
    "/redirect/to-ftp": "ftp://127.0.0.1/pub/file.html",
    "/redirect/to-javascript": "javascript:alert(1)",
    "/redirect/loop-a": "/redirect/loop-b",
    "/redirect/loop-b": "/redirect/loop-a",
}


class Site:
    """The running site: its URLs, and what it was asked for."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.port = server.server_address[1]
        self.requests: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.headers.clear()
            self.in_flight = 0
            self.peak = 0


class Handler(BaseHTTPRequestHandler):
    server_version = "LoaderTestSite/1.0"
    site: Site  # set on the subclass made for each server

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        site = self.site
        with site.lock:
            site.requests.append(self.path)
            site.headers.append(dict(self.headers.items()))
        try:
            self._route(self.path)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on purpose: a size cap or a deadline

    def _send(self, status: int, body: bytes, content_type: str | None, **headers: str) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _route(self, path: str) -> None:
        site = self.site
        if path in STATIC:
            body, content_type = STATIC[path]
            self._send(200, body, content_type)
        elif path in REDIRECTS:
            location = REDIRECTS[path].format(port=site.port)
            self._send(302, b"", "text/html", Location=location)
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            self._send(code, _page(f"<h1>Error {code}</h1>").encode(), "text/html")
        elif path == "/huge-streamed":
            # no Content-Length: the body runs until the connection closes,
            # so only a cap enforced while reading can stop it
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html><body><p>")
            for _ in range(200):
                self.wfile.write(b"y" * 10_000)
            self.wfile.write(b"</p></body></html>")
        elif path == "/slow":
            time.sleep(3)
            self._send(200, _page("<p>finally</p>").encode(), "text/html")
        elif path == "/drip":
            # a byte every 50 ms: never idle long enough for a read timeout
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            for _ in range(200):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.05)
        elif path.startswith("/many/"):
            number = path.rsplit("/", 1)[1]
            with site.lock:
                site.in_flight += 1
                site.peak = max(site.peak, site.in_flight)
            try:
                time.sleep(0.05)
                self._send(200, _page(f"<p>Page number {number}</p>").encode(), "text/html")
            finally:
                with site.lock:
                    site.in_flight -= 1
        elif path == "/echo-headers":
            items = "".join(f"<li>{k}: {v}</li>" for k, v in self.headers.items())
            self._send(200, _page(f"<ul>{items}</ul>").encode(), "text/html")
        else:
            self._send(404, _page("<h1>Not Found</h1>").encode(), "text/html")


class Server(ThreadingHTTPServer):
    # the default listen backlog of 5 drops connections under concurrency,
    # and each dropped one costs a 1 s SYN retry
    request_queue_size = 64


@pytest.fixture(scope="session")
def _site_server() -> Iterator[Site]:
    handler = type("SiteHandler", (Handler,), {})
    server = Server(("127.0.0.1", 0), handler)
    site = Site(server)
    handler.site = site
    thread = threading.Thread(target=server.serve_forever, name="loader-test-site", daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()


@pytest.fixture
def site(_site_server: Site) -> Site:
    """The shared site, with its request log cleared for this test."""
    _site_server.reset()
    return _site_server


@pytest.fixture(scope="session")
def refused_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def build_pdf(pages: list[str], *, title: str | None = None) -> bytes:
    """A minimal valid PDF with one text line per page (an empty string: a blank page)."""
    objects: list[bytes] = []
    count = len(pages)
    # 1: catalog, 2: page tree, 3: font, then a page and its content per page
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, text in enumerate(pages):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode("latin-1") if text else b""
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {5 + 2 * i} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>".encode()
        )
        objects.append(
            f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream"
        )
    info = None
    if title is not None:
        objects.append(f"<< /Title ({title}) >>".encode("latin-1"))
        info = len(objects)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    trailer = f"<< /Size {len(objects) + 1} /Root 1 0 R"
    if info is not None:
        trailer += f" /Info {info} 0 R"
    out += f"trailer\n{trailer} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


@pytest.fixture
def make_pdf() -> Callable[..., bytes]:
    """``make_pdf(["page one text", "", "page three"], title=...)`` -> PDF bytes."""
    return build_pdf
