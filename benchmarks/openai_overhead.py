"""Per-token overhead of ``ChatOpenAI.astream`` over the raw ``openai`` SDK stream.

Both read the same 2,000-token, zero-delay answer from the OpenAI-compatible
test server, which runs in a separate process so that its work is not counted.
Runs alternate between the two clients; figures are medians.

- wall µs/token: the time to read the whole answer, per token;
- CPU µs/token: this process's CPU time per token (what the client itself
  spends, whatever the server's pace).

Run: python benchmarks/openai_overhead.py [--repeat N] [--tokens N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def start_server(tokens: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.servers", "--tokens", str(tokens)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    base_url = proc.stdout.readline().strip()
    if not base_url.startswith("http"):
        proc.kill()
        raise RuntimeError("the test server did not start")
    return proc, base_url


async def measure(
    read: Callable[[], Awaitable[int]], tokens: int, repeat: int
) -> tuple[float, float]:
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        got = await read()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        if got != tokens:
            raise RuntimeError(f"read {got} tokens, expected {tokens}")
    per = 1e6 / tokens
    return statistics.median(walls) * per, statistics.median(cpus) * per


async def run(base_url: str, tokens: int, repeat: int) -> dict[str, tuple[float, float]]:
    from openai import AsyncOpenAI

    from ragstream.models import ChatOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
    model = ChatOpenAI(base_url=base_url, api_key="bench")
    messages: Any = [{"role": "user", "content": "hi"}]

    async def raw_sdk() -> int:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, stream=True,
            stream_options={"include_usage": True},
        )
        n = 0
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                n += 1
        return n

    async def chat_openai() -> int:
        n = 0
        async for chunk in model.astream("hi"):
            if chunk.content:
                n += 1
        return n

    readers = {"raw AsyncOpenAI stream": raw_sdk, "ChatOpenAI.astream": chat_openai}
    for read in readers.values():  # warm up: imports, connections
        await measure(read, tokens, 2)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in readers}
    for _ in range(repeat):  # alternate, so drift hits both alike
        for name, read in readers.items():
            samples[name].append(await measure(read, tokens, 1))
    await client.close()
    return {
        name: (statistics.median(w for w, _ in s), statistics.median(c for _, c in s))
        for name, s in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--tokens", type=int, default=2000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    proc, base_url = start_server(args.tokens)
    try:
        results = asyncio.run(run(base_url, args.tokens, args.repeat))
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)
    print(f"{args.tokens}-token answer from a local server, median of {args.repeat} runs")
    print(f"  {'':<26} {'wall µs/token':>14} {'CPU µs/token':>13}")
    for name, (wall, cpu) in results.items():
        print(f"  {name:<26} {wall:14.1f} {cpu:13.1f}")
    (raw_wall, raw_cpu), (ours_wall, ours_cpu) = results.values()
    print(f"  {'difference':<26} {ours_wall - raw_wall:+14.1f} {ours_cpu - raw_cpu:+13.1f}"
          f"   (x{ours_wall / raw_wall:.2f} wall, x{ours_cpu / raw_cpu:.2f} CPU)")


if __name__ == "__main__":
    main()
