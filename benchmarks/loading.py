"""Document loading: web pages over real HTTP, and a folder of local files.

Web: a ThreadingHTTPServer on 127.0.0.1 serves blog-like pages (~60 KB each,
the guide's SoupStrainer applied) with a fixed latency per response, standing
in for the network. Compared in the same run:
- a sequential loop of httpx GET + BeautifulSoup(parse_only).get_text(),
  which is what the reference WebBaseLoader.load() does, one page at a time;
- WebBaseLoader with max_concurrency=1 and with the default (8).

Files: a folder of Markdown and text files plus multi-page PDFs, through
FileLoader.load().

Run: python benchmarks/loading.py [--pages N] [--latency S] [--repeat N]
Prints medians over the repeats; ratios are taken within the same run.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bs4
import httpx

from ragstream.loaders import FileLoader, WebBaseLoader

CLASSES = ("post-content", "post-title", "post-header")


def blog_page(number: int) -> bytes:
    sections = "".join(
        f"<h2>Section {s}#</h2><p>{'Agents plan, remember and use tools. ' * 40}</p>"
        for s in range(40)
    )
    return (
        f"<html lang='en'><head><title>Post {number}</title></head><body>"
        "<nav>Home | Posts | Tags</nav><article>"
        f"<h1 class='post-title'>Post {number}</h1><div class='post-header'>June 2023</div>"
        f"<div class='post-content'>{sections}</div></article><footer>©</footer></body></html>"
    ).encode()


class Server(ThreadingHTTPServer):
    # the default listen backlog of 5 drops connection attempts under
    # concurrency, and each dropped one costs a 1 s SYN retry
    request_queue_size = 128


def serve(latency: float) -> tuple[ThreadingHTTPServer, str]:
    pages = {f"/posts/{i}/": blog_page(i) for i in range(1000)}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # headers and body go out in two writes; without this, Nagle's
            # algorithm and delayed ACKs add ~40 ms to every response
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            time.sleep(latency)
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def sequential_reference(urls: list[str]) -> int:
    total = 0
    with httpx.Client() as client:
        for url in urls:
            html = client.get(url).text
            strainer = bs4.SoupStrainer(class_=CLASSES)
            total += len(bs4.BeautifulSoup(html, "html.parser", parse_only=strainer).get_text())
    return total


def ragstream_loader(urls: list[str], concurrency: int) -> int:
    loader = WebBaseLoader(
        web_paths=urls,
        bs_kwargs={"parse_only": bs4.SoupStrainer(class_=CLASSES)},
        max_concurrency=concurrency,
    )
    return sum(len(d.page_content) for d in loader.load())


def median_time(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    times, result = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def make_folder(root: Path, files: int, pdfs: int) -> None:
    # the PDF writer of the test suite, inlined: one text line per page
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "loaders"))
    from conftest import build_pdf

    for i in range(files):
        body = f"# Note {i}\n\n" + "Task decomposition breaks work into steps. " * 60
        (root / f"note{i:04d}.{'md' if i % 2 else 'txt'}").write_text(body)
    for i in range(pdfs):
        pages = [f"Paper {i} page {p}: chain of thought and tree of thoughts." for p in range(5)]
        (root / f"paper{i:03d}.pdf").write_bytes(build_pdf(pages))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=48)
    parser.add_argument("--latency", type=float, default=0.03)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    server, base = serve(args.latency)
    urls = [f"{base}/posts/{i}/" for i in range(args.pages)]
    ragstream_loader(urls[:2], 2)  # warm up imports and the shared loop
    print(f"web: {args.pages} pages of {len(blog_page(0)) // 1000} KB, "
          f"{args.latency * 1000:.0f} ms latency each, median of {args.repeat}")
    ref, ref_chars = median_time(lambda: sequential_reference(urls), args.repeat)
    one, one_chars = median_time(lambda: ragstream_loader(urls, 1), args.repeat)
    eight, eight_chars = median_time(lambda: ragstream_loader(urls, 8), args.repeat)
    assert ref_chars == one_chars == eight_chars, "the loaders must extract the same text"
    print(f"  sequential httpx + bs4 (reference way) {ref:7.3f} s  {args.pages / ref:6.1f} pages/s")
    print(f"  WebBaseLoader max_concurrency=1        {one:7.3f} s  {args.pages / one:6.1f} pages/s"
          f"  ({ref / one:.2f}x)")
    print(f"  WebBaseLoader max_concurrency=8        {eight:7.3f} s  "
          f"{args.pages / eight:6.1f} pages/s  ({ref / eight:.2f}x)")
    server.shutdown()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_folder(root, files=400, pdfs=20)
        seconds, count = median_time(lambda: len(FileLoader(root).load()), args.repeat)
        print(f"files: 400 md/txt + 20 five-page PDFs -> {count} documents in {seconds:.3f} s "
              f"({count / seconds:.0f} docs/s)")


if __name__ == "__main__":
    main()
