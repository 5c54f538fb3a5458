"""Per-token overhead of the streaming engine.

Measures, for a 2,000-token zero-delay fake answer:
- iterating the raw fake model (sync and async),
- ``stream``, ``astream``, ``astream_events`` (v2 and v1) of a
  prompt | model | parser chain and of the guide's retrieval chain,
- the time added before the first answer token,
- the import time of ``ragstream`` and of its chain modules,
- 100 concurrent ``astream_events`` streams of 500 tokens.

Run: python benchmarks/overhead.py [--repeat N]
Prints medians over the repeats; ratios are taken within the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import _reference
from ragstream.chains import create_retrieval_chain, create_stuff_documents_chain
from ragstream.documents import Document
from ragstream.parsers import StrOutputParser
from ragstream.prompts import ChatPromptTemplate
from ragstream.retrievers import BaseRetriever
from ragstream.testing import FakeChatModel

TOKENS = 2000


def answer(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


class ListRetriever(BaseRetriever):
    """Returns fixed documents: isolates the engine from any store."""

    def __init__(self) -> None:
        self.docs = [Document(f"passage {i} about task decomposition", {"source": f"s{i}"})
                     for i in range(4)]
        self.tags = ["ListRetriever"]

    async def _aget_relevant_documents(self, query: str, **kwargs: Any) -> list[Document]:
        return self.docs


def simple_chain(n: int) -> Any:
    prompt = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{input}")])
    return prompt | FakeChatModel(answer(n)) | StrOutputParser()


def guide_chain(n: int) -> Any:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Use the context.\n\n{context}"), ("human", "{input}")]
    )
    qa = create_stuff_documents_chain(FakeChatModel(answer(n)), prompt)
    return create_retrieval_chain(ListRetriever(), qa)


def median_time(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def amedian_time(fn: Callable[[], Any], repeat: int) -> float:
    async def run() -> float:
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            await fn()
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    return asyncio.run(run())


def per_token(
    chain_factory: Callable[[int], Any], inp: Any, repeat: int, *, model: Any = None,
    tokens: int = TOKENS, repeat_v1: int | None = None,
) -> dict[str, float]:
    chain = chain_factory(TOKENS)
    model = model or FakeChatModel(answer(TOKENS))
    msgs = [("human", "hi")]
    out: dict[str, float] = {}

    def raw_sync() -> None:
        for _ in model.stream(msgs):
            pass

    async def raw_async() -> None:
        async for _ in model.astream(msgs):
            pass

    def stream() -> None:
        for _ in chain.stream(inp):
            pass

    async def astream() -> None:
        async for _ in chain.astream(inp):
            pass

    async def events_v2() -> None:
        async for _ in chain.astream_events(inp, version="v2"):
            pass

    async def events_v1() -> None:
        async for _ in chain.astream_events(inp, version="v1"):
            pass

    out["raw model (sync)"] = median_time(raw_sync, repeat)
    out["raw model (async)"] = amedian_time(raw_async, repeat)
    out["stream"] = median_time(stream, repeat)
    out["astream"] = amedian_time(astream, repeat)
    out["astream_events v2"] = amedian_time(events_v2, repeat)
    out["astream_events v1"] = amedian_time(events_v1, repeat_v1 or repeat)
    return {k: v / tokens * 1e6 for k, v in out.items()}


def first_token(chain_factory: Callable[[int], Any], inp: Any, repeat: int) -> tuple[float, float]:
    """Median µs to the first token: raw model, and the chain."""
    chain = chain_factory(5)
    model = FakeChatModel(answer(5))

    async def first(stream: Any) -> float:
        t = time.perf_counter()
        async for _ in stream:
            break
        dt = time.perf_counter() - t
        await stream.aclose()
        return dt

    async def run() -> tuple[float, float]:
        raw, ch = [], []
        for _ in range(repeat):
            raw.append(await first(model.astream([("human", "hi")])))
            ch.append(await first(chain.astream(inp)))
        return statistics.median(raw) * 1e6, statistics.median(ch) * 1e6

    return asyncio.run(run())


def first_answer_token(repeat: int, *, reference: bool = False) -> tuple[float, float]:
    """µs to the first *answer* token of the guide's chain vs the raw model."""
    chain = _reference.guide_chain(5) if reference else guide_chain(5)
    model = _reference._model(5) if reference else FakeChatModel(answer(5))

    async def run() -> tuple[float, float]:
        raw, ch = [], []
        for _ in range(repeat):
            t = time.perf_counter()
            s = model.astream([("human", "hi")])
            async for _ in s:
                break
            raw.append(time.perf_counter() - t)
            await s.aclose()
            t = time.perf_counter()
            s2 = chain.astream({"input": "What is task decomposition?"})
            async for chunk in s2:
                if "answer" in chunk:
                    break
            ch.append(time.perf_counter() - t)
            await s2.aclose()
        return statistics.median(raw) * 1e6, statistics.median(ch) * 1e6

    return asyncio.run(run())


def import_time(module: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True, text=True, check=True,
        )
        last = [ln for ln in out.stderr.splitlines() if ln.rstrip().endswith(f"| {module}")]
        # cumulative microseconds of the top-level import
        times.append(int(last[-1].split("|")[1]) / 1000)
    return statistics.median(times)


def concurrent_streams(n_streams: int, n_tokens: int, repeat: int) -> float:
    chain = simple_chain(n_tokens)

    async def one() -> int:
        count = 0
        async for _ in chain.astream_events({"input": "hi"}):
            count += 1
        return count

    async def all_of_them() -> None:
        await asyncio.gather(*(one() for _ in range(n_streams)))

    return amedian_time(all_of_them, repeat)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--no-reference", action="store_true",
                    help="skip the same-run measurements of the reference framework")
    args = ap.parse_args()
    r = args.repeat
    warnings.filterwarnings("ignore")  # the reference warns that version="v1" is deprecated
    with_ref = not args.no_reference and _reference.available()

    for title, factory, ref_factory, inp in [
        ("prompt | model | parser", simple_chain, _reference.simple_chain, {"input": "hi"}),
        ("guide retrieval chain", guide_chain, _reference.guide_chain,
         {"input": "What is task decomposition?"}),
    ]:
        figures = per_token(factory, inp, r)
        ref: dict[str, float] = {}
        if with_ref:
            # the reference's fake model streams words and the spaces between them:
            # 2n-1 chunks for n words, so count its answer tokens as such
            n_ref = TOKENS // 2 + 1
            ref = per_token(ref_factory, inp, 3, model=_reference._model(n_ref),
                            tokens=2 * n_ref - 1, repeat_v1=1)
        print(f"\n{title}: µs per token ({TOKENS}-token answer, median of {r})")
        head = f"  {'':<20} {'ragstream':>10}" + (f" {'reference':>10} {'ratio':>7}" if ref else "")
        print(head)
        base_sync = figures["raw model (sync)"]
        base_async = figures["raw model (async)"]
        for k, v in figures.items():
            base = base_sync if k == "stream" else base_async
            line = f"  {k:<20} {v:10.2f}"
            if ref:
                line += f" {ref[k]:10.2f} {ref[k] / v:6.1f}x"
            if not k.startswith("raw"):
                line += f"   (+{v - base:.2f} over raw)"
            print(line)

    raw, chain = first_answer_token(max(r, 25))
    print(f"\ntime to first answer token, guide chain: raw model {raw:.0f} µs, "
          f"chain {chain:.0f} µs, added {chain - raw:.0f} µs")
    if with_ref:
        raw, chain = first_answer_token(max(r, 25), reference=True)
        print(f"  reference: raw model {raw:.0f} µs, chain {chain:.0f} µs, "
              f"added {chain - raw:.0f} µs")
    raw, chain = first_token(simple_chain, {"input": "hi"}, max(r, 25))
    print(f"time to first token, prompt|model|parser: raw model {raw:.0f} µs, "
          f"chain {chain:.0f} µs, added {chain - raw:.0f} µs")

    print("\nimport time (ms, median of 5 fresh interpreters)")
    mods = ["ragstream", "ragstream.chains", "ragstream.runnables"]
    if with_ref:
        mods += ["langchain_classic.chains", "langchain_core.runnables"]
    for mod in mods:
        print(f"  {mod:<26} {import_time(mod, 5):7.1f}")

    secs = concurrent_streams(100, 500, max(1, r // 2))
    print(f"\n100 concurrent astream_events streams of 500 tokens: {secs:.2f} s")


if __name__ == "__main__":
    main()
