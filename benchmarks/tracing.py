"""What tracing costs: per answer token and per run, tracing off vs on.

Three settings, measured in turn within each repeat (so drift on a shared
machine hits them alike):
- off: no observer; the engine takes its fast path (no run objects at all);
- null observer: an observer whose ``on_event`` does nothing, i.e. what the
  engine's run bookkeeping costs by itself;
- tracer: ``enable_tracing(path=...)`` writing to a SQLite file in a
  temporary folder (local store only, no export).

Workloads:
- the guide's retrieval chain (``create_retrieval_chain`` over a fixed-list
  retriever) streaming a 2,000-token zero-delay fake answer: µs per token;
- 1,000 short invocations (5-token answers) of prompt | model | parser and
  of the guide's chain: µs per invocation. The time the writer then needs
  to catch up (``tracer.flush()`` after the loop) is shown apart: it runs on
  its own thread, beside the caller, not in its way.

Run: python benchmarks/tracing.py [--repeat N]
Prints medians over the repeats; ratios are taken within the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ragstream.chains import create_retrieval_chain, create_stuff_documents_chain
from ragstream.core._run import get_observer, set_observer
from ragstream.documents import Document
from ragstream.parsers import StrOutputParser
from ragstream.prompts import ChatPromptTemplate
from ragstream.retrievers import BaseRetriever
from ragstream.testing import FakeChatModel
from ragstream.tracing import Tracer, disable_tracing, enable_tracing

TOKENS = 2000
SHORT = 1000
QUESTION = {"input": "What is task decomposition?"}


def answer(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


class ListRetriever(BaseRetriever):
    """Returns fixed documents: isolates the engine from any store."""

    def __init__(self) -> None:
        self.docs = [Document(f"passage {i} about task decomposition", {"source": f"s{i}"})
                     for i in range(4)]

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


class NullObserver:
    def on_event(self, event: dict[str, Any], run_type: str) -> None:
        pass


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[dict[str, Any], str]] = []

    def on_event(self, event: dict[str, Any], run_type: str) -> None:
        self.events.append((event, run_type))


def writer_alone(work: Callable[[], Any], runs: int, repeat: int, folder: Path
                 ) -> tuple[float, float]:
    """µs per run for the writer thread alone (the events of ``work`` replayed
    into a tracer, then flushed), and µs per event for ``on_event``."""
    recorder = Recorder()
    set_observer(recorder)
    work()
    set_observer(None)
    events = recorder.events
    write, queue = [], []
    for n in range(repeat):
        tracer = Tracer(path=folder / f"alone-{n}.db", max_queue=len(events) + 1,
                        flush_interval=3600)
        tracer.start()
        started = time.perf_counter()
        for event, run_type in events:
            tracer.on_event(event, run_type)
        queue.append((time.perf_counter() - started) / len(events))
        write.append(timed(tracer.flush) / runs)
        tracer.close()
    return statistics.median(write) * 1e6, statistics.median(queue) * 1e6


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def measure(work: Callable[[], Any], repeat: int, folder: Path, label: str
            ) -> dict[str, list[float]]:
    """Times of ``work`` with tracing off, a null observer and the tracer;
    and the tracer's catch-up (flush) after each run."""
    out: dict[str, list[float]] = {"off": [], "null": [], "tracer": [], "catch-up": []}
    work()  # warm up: imports, the sync loop, the first runs
    for n in range(repeat):
        set_observer(None)
        out["off"].append(timed(work))
        set_observer(NullObserver())
        out["null"].append(timed(work))
        tracer: Tracer = enable_tracing(path=folder / f"{label}-{n}.db")
        out["tracer"].append(timed(work))
        out["catch-up"].append(timed(tracer.flush))
        disable_tracing()
    return out


def report(title: str, times: dict[str, list[float]], per: int, unit: str) -> None:
    med = {k: statistics.median(v) / per * 1e6 for k, v in times.items()}
    off = med["off"]
    print(f"\n{title} (µs per {unit}, median)")
    print(f"  {'off':<14}{off:>10.2f}")
    for key in ("null", "tracer"):
        print(f"  {key + ' observer' if key == 'null' else 'tracer':<14}{med[key]:>10.2f}"
              f"   {med[key] / off:>5.2f}x   +{med[key] - off:.2f}")
    print(f"  {'writer catch-up':<14}{med['catch-up']:>9.2f}   (after the loop, on its thread)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    before = get_observer()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        guide = guide_chain(TOKENS)

        def stream_guide() -> None:
            for _ in guide.stream(QUESTION):
                pass

        async def astream_guide() -> None:
            async for _ in guide.astream(QUESTION):
                pass

        report("guide's chain, stream, 2,000 tokens",
               measure(stream_guide, args.repeat, folder, "stream"), TOKENS, "token")
        report("guide's chain, astream, 2,000 tokens",
               measure(lambda: asyncio.run(astream_guide()), args.repeat, folder, "astream"),
               TOKENS, "token")

        simple = simple_chain(5)
        short_guide = guide_chain(5)

        def invoke_simple() -> None:
            for _ in range(SHORT):
                simple.invoke({"input": "hi"})

        def invoke_guide() -> None:
            for _ in range(SHORT):
                short_guide.invoke(QUESTION)

        async def ainvoke_simple() -> None:
            for _ in range(SHORT):
                await simple.ainvoke({"input": "hi"})

        report("prompt | model | parser, 1,000 x invoke",
               measure(invoke_simple, args.repeat, folder, "simple"), SHORT, "invocation")
        report("prompt | model | parser, 1,000 x ainvoke",
               measure(lambda: asyncio.run(ainvoke_simple()), args.repeat, folder, "asimple"),
               SHORT, "invocation")
        report("guide's chain (15 runs each), 1,000 x invoke",
               measure(invoke_guide, args.repeat, folder, "guide"), SHORT, "invocation")
        per_run, per_event = writer_alone(invoke_guide, SHORT * 15, args.repeat, folder)
        print("\nthe tracer's own work, the guide's chain's events replayed (median)")
        print(f"  on_event (the caller's side)   {per_event:8.2f} µs per event")
        print(f"  writer thread                  {per_run:8.2f} µs per run recorded")
        size = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        print(f"\n(trace files written: {size:.1f} MB; answer of {len(answer(TOKENS))} characters)")
    set_observer(before)


if __name__ == "__main__":
    main()
