"""Load on the HTTP server: many concurrent streaming clients.

A server process (``ragstream.server.serve``, uvicorn) streams a fake model's
answer (``--tokens`` tokens, ``--delay`` seconds before each) to
``--clients`` concurrent clients at once, on two routes:

- ``/chain/stream``: the LangServe-style stream of a prompt | model | parser chain
- ``/v1/chat/completions`` with ``stream: true``: the whole RAG turn (history-
  aware retrieval over an in-memory keyword retriever, then the answer)

For each route it reports time to first token and the gap between tokens
(p50, p99) for one client alone and for all clients together, the ratio of
the two, and the server's memory per open stream (the rise of its resident
set while all streams are open, divided by the number of streams).

Run: python benchmarks/server_load.py [--clients 200] [--tokens 50] [--delay 0.02]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


# -- the server (run in a child process) --------------------------------------------


def _answer(tokens: int) -> str:
    return " ".join(f"w{i}" for i in range(tokens))


def build_app(tokens: int, delay: float) -> Any:
    from ragstream.app import RagApp
    from ragstream.chains import create_conversational_rag_chain
    from ragstream.config import Settings
    from ragstream.documents import Document
    from ragstream.parsers import StrOutputParser
    from ragstream.prompts import ChatPromptTemplate
    from ragstream.retrievers import BaseRetriever
    from ragstream.server import add_routes, create_rag_server
    from ragstream.testing import FakeChatModel

    docs = [Document(f"Document {i} about task decomposition and agents.",
                     metadata={"source": f"https://example.org/{i}"}) for i in range(20)]

    class Keywords(BaseRetriever):
        async def _aget_relevant_documents(self, query: str, **kwargs: Any) -> list[Document]:
            words = set(query.lower().split())
            return sorted(docs, key=lambda d: -len(words & set(d.page_content.lower().split())))[:4]

    class BenchApp(RagApp):
        model_answer = FakeChatModel(_answer(tokens), delay=delay)

        @property
        def model(self) -> Any:
            return self.model_answer

        @property
        def model_label(self) -> str:
            return "FakeChatModel"

        async def acheck_collection(self, name: str | None = None) -> Any:
            from ragstream.app import CollectionInfo

            return CollectionInfo(name or "bench", len(docs), len(docs), None)

        async def acollection_sources(self, name: str | None = None) -> list[str]:
            return sorted(str(d.metadata["source"]) for d in docs)

        def chain(self, collection: str | None = None, *, k: int | None = None) -> Any:
            if not self._chains:  # built once, as RagApp does
                self._chains[("bench", 4)] = create_conversational_rag_chain(
                    self.model_answer, Keywords())
            return self._chains[("bench", 4)]

    import tempfile

    rag = BenchApp(Settings(home=Path(tempfile.mkdtemp()), model="fake"))
    app = create_rag_server(rag, warm_up=False)  # nothing to load: a fake model, no store
    prompt = ChatPromptTemplate.from_messages([("human", "{question}")])
    add_routes(app, prompt | FakeChatModel(_answer(tokens), delay=delay) | StrOutputParser(),
               path="/chain")
    return app


def serve_child(tokens: int, delay: float) -> None:
    from ragstream.server import serve

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    app = build_app(tokens, delay)
    print(f"http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    serve(app, sock=sock, log_level="warning")


def rss_kib(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(match.group(1)) if match else 0


# -- the clients ---------------------------------------------------------------------

ROUTES = {
    "chain": ("/chain/stream", {"input": {"question": "What is task decomposition?"}}),
    "openai": ("/v1/chat/completions", {
        "model": "ragstream", "stream": True,
        "messages": [{"role": "user", "content": "What is task decomposition?"}],
    }),
}


def _is_token(route: str, data: str) -> bool:
    if route == "chain":
        return data.startswith('"')  # a JSON string chunk
    if data == "[DONE]":
        return False
    delta = json.loads(data)["choices"]
    return bool(delta and delta[0]["delta"].get("content"))


async def one_stream(host: str, port: int, route: str, start: asyncio.Event
                     ) -> tuple[float, list[float], int]:
    """One client on a raw socket: HTTP/1.1 by hand, SSE lines as they come (a
    light client, so the figures are the server's, not an HTTP library's)."""
    path, body = ROUTES[route]
    payload = json.dumps(body).encode()
    request = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
               f"Content-Type: application/json\r\nAccept: text/event-stream\r\n"
               f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n").encode()
    await start.wait()
    sent = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(request + payload)
    arrivals: list[float] = []
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"{route}: {status!r}")
    while (await reader.readline()) not in (b"\r\n", b""):
        pass  # headers
    async for line in reader:  # chunked framing lines are skipped: they never start "data: "
        if line.startswith(b"data: ") and _is_token(route, line[6:].decode().rstrip()):
            arrivals.append(time.perf_counter())
    writer.close()
    ttft = arrivals[0] - sent if arrivals else float("nan")
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    return ttft, gaps, len(arrivals)


async def run_clients(url: str, route: str, clients: int, pid: int
                      ) -> tuple[list[float], list[float], list[int], int, float]:
    host, port = url.removeprefix("http://").split(":")
    start = asyncio.Event()
    peak = [0]

    async def sample() -> None:
        while True:
            peak[0] = max(peak[0], rss_kib(pid))
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    tasks = [asyncio.create_task(one_stream(host, int(port), route, start))
             for _ in range(clients)]
    await asyncio.sleep(0.05)
    began = time.perf_counter()
    start.set()
    results = await asyncio.gather(*tasks)
    wall = time.perf_counter() - began
    sampler.cancel()
    ttfts = [r[0] for r in results]
    gaps = [g for r in results for g in r[1]]
    counts = [r[2] for r in results]
    return ttfts, gaps, counts, peak[0], wall


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def figures(result: tuple[list[float], list[float], list[int], int, float], clients: int,
            idle_kib: int, tokens: int) -> dict[str, float]:
    ttfts, gaps, counts, peak, wall = result
    return {
        "ttft50": pct(ttfts, 50) * 1000, "ttft99": pct(ttfts, 99) * 1000,
        "gap50": pct(gaps, 50) * 1000, "gap99": pct(gaps, 99) * 1000,
        "complete": sum(c == tokens for c in counts), "wall": wall,
        "kib": (peak - idle_kib) / clients if clients > 1 else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.02)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each load; the medians of their figures are shown")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_child(args.tokens, args.delay)
        return

    print(f"fake model: {args.tokens} tokens, {args.delay * 1000:.0f} ms before each; "
          f"{os.cpu_count()} cores; a fresh server process per route; clients on raw "
          f"sockets in this process; medians of {args.repeat} runs (memory: the first run)")
    print(f"{'route':8} {'clients':>7} {'ttft p50':>9} {'ttft p99':>9} {'gap p50':>8} "
          f"{'gap p99':>8} {'tokens':>7} {'wall s':>7} {'KiB/stream':>10}")
    for route in ROUTES:
        measure_route(route, args)


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--tokens", str(args.tokens),
         "--delay", str(args.delay)],
        stdout=subprocess.PIPE, text=True, env=env,
    )
    assert child.stdout is not None
    url = child.stdout.readline().strip()
    for _ in range(200):
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    return child, url


def measure_route(route: str, args: argparse.Namespace) -> None:
    child, url = start_server(args)
    try:
        asyncio.run(run_clients(url, route, 5, child.pid))  # warm up
        idle = rss_kib(child.pid)
        rows: dict[int, list[dict[str, float]]] = {1: [], args.clients: []}
        for i in range(args.repeat):
            rows[1].append(figures(asyncio.run(run_clients(url, route, 1, child.pid)), 1,
                                   idle, args.tokens))
            many = figures(asyncio.run(run_clients(url, route, args.clients, child.pid)),
                           args.clients, idle, args.tokens)
            if i:  # memory freed after a run stays with the process: count the first
                many["kib"] = rows[args.clients][0]["kib"]
            rows[args.clients].append(many)
        shown = {}
        for n, runs in rows.items():
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            shown[n] = med
            print(f"{route:8} {n:>7} {med['ttft50']:>7.1f}ms {med['ttft99']:>7.1f}ms "
                  f"{med['gap50']:>6.1f}ms {med['gap99']:>6.1f}ms "
                  f"{int(med['complete']):>3}/{n:<3} {med['wall']:>7.2f} {med['kib']:>10.1f}")
        many_row, one = shown[args.clients], shown[1]
        print(f"{route:8} {args.clients} vs 1 client: ttft p50 "
              f"x{many_row['ttft50'] / one['ttft50']:.2f}, gap p50 "
              f"x{many_row['gap50'] / one['gap50']:.2f}; server RSS {idle / 1024:.1f} MiB idle")
    finally:
        child.terminate()
        child.wait(10)

if __name__ == "__main__":
    main()
