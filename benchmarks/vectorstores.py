"""Vector store speed: in-memory queries against the reference, and Chroma embedded.

Builds N random unit vectors of D dimensions (seeded; no model, no download)
with a document per vector, then measures, in the same run:

- InMemoryVectorStore query latency at k=4 (median of many queries), by
  vector, with a selective and a broad metadata filter, sync and async;
- the reference ``langchain_core.vectorstores.InMemoryVectorStore`` on the
  same vectors and queries (fewer queries: it is much slower);
- Chroma embedded (persistent, in a temporary folder): add throughput and
  query latency.

    python benchmarks/vectorstores.py [--n 20000] [--dim 384] [--queries 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ragstream.documents import Document
from ragstream.embeddings import Embeddings
from ragstream.vectorstores import Chroma, InMemoryVectorStore


class Lookup(Embeddings):
    """Embeddings that return vectors made in advance, by text."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.table[t] for t in texts]


def median_ms(fn: Callable[[], Any], times: int) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def data(n: int, dim: int) -> tuple[list[Document], dict[str, list[float]], np.ndarray]:
    rng = np.random.default_rng(42)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    docs = [
        Document(f"chunk {i}", {"source": f"doc{i // 50}.md", "group": f"g{i % 10}", "i": i})
        for i in range(n)
    ]
    table = {d.page_content: v.tolist() for d, v in zip(docs, vectors, strict=True)}
    queries = rng.standard_normal((1000, dim)).astype(np.float32)
    return docs, table, queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--reference-queries", type=int, default=15)
    args = parser.parse_args()

    docs, table, queries = data(args.n, args.dim)
    emb = Lookup(table)
    qs = [q.tolist() for q in queries]
    print(f"{args.n} vectors of {args.dim} dimensions, k=4\n")

    store = InMemoryVectorStore(emb)
    started = time.perf_counter()
    store.add_documents(docs)
    print(
        f"InMemoryVectorStore add:        {args.n / (time.perf_counter() - started):10.0f} docs/s"
    )

    it = iter(range(10**9))

    def ours(filter: dict[str, Any] | None = None) -> Callable[[], Any]:
        return lambda: store.similarity_search_by_vector(qs[next(it) % 1000], 4, filter)

    ours_ms = median_ms(ours(), args.queries)
    selective_ms = median_ms(ours({"group": "g3"}), args.queries)
    broad_ms = median_ms(ours({"group": {"$ne": "g3"}}), args.queries)

    async def async_loop() -> float:
        samples = []
        for i in range(args.queries):
            started = time.perf_counter()
            await store.asimilarity_search_by_vector(qs[i % 1000], 4)
            samples.append(time.perf_counter() - started)
        return statistics.median(samples) * 1000

    async_ms = asyncio.run(async_loop())
    print(f"InMemoryVectorStore query:      {ours_ms:10.3f} ms  (sync, median of {args.queries})")
    print(f"  awaited in a running loop:    {async_ms:10.3f} ms")
    print(f"  filter {{'group': 'g3'}}:        {selective_ms:10.3f} ms  (10% of rows)")
    print(f"  filter {{'group': {{'$ne': ..}}}}: {broad_ms:10.3f} ms  (90% of rows)")

    try:
        from langchain_core.documents import Document as RefDocument
        from langchain_core.embeddings import Embeddings as RefEmbeddings
        from langchain_core.vectorstores import InMemoryVectorStore as RefStore
    except ImportError:
        print("\n(langchain-core not installed: no reference figures)")
        ref_ms = None
    else:

        class RefLookup(RefEmbeddings):
            def embed_documents(self, texts: list[str]) -> list[list[float]]:
                return [table[t] for t in texts]

            def embed_query(self, text: str) -> list[float]:
                return table[text]

        ref = RefStore(RefLookup())
        ref.add_documents([RefDocument(d.page_content, metadata=d.metadata) for d in docs])
        ref_ms = median_ms(
            lambda: ref.similarity_search_by_vector(qs[next(it) % 1000], 4), args.reference_queries
        )
        print(
            f"reference InMemoryVectorStore:  {ref_ms:10.3f} ms  "
            f"(median of {args.reference_queries})  -> ours is {ref_ms / ours_ms:.0f}x faster"
        )
        got = [d.page_content for d in store.similarity_search_by_vector(qs[0], 4)]
        want = [d.page_content for d in ref.similarity_search_by_vector(qs[0], 4)]
        assert got == want, (got, want)

    with tempfile.TemporaryDirectory() as folder:
        chroma = Chroma("bench", embedding_function=emb, persist_directory=folder)
        started = time.perf_counter()
        chroma.add_documents(docs)
        rate = args.n / (time.perf_counter() - started)
        print(f"\nChroma embedded add:            {rate:10.0f} docs/s  (persistent)")
        chroma_ms = median_ms(
            lambda: chroma.similarity_search_by_vector(qs[next(it) % 1000], 4), args.queries
        )
        filtered_ms = median_ms(
            lambda: chroma.similarity_search_by_vector(qs[next(it) % 1000], 4, {"group": "g3"}),
            args.queries,
        )
        print(f"Chroma embedded query:          {chroma_ms:10.3f} ms  (HNSW, approximate)")
        print(f"  filter {{'group': 'g3'}}:        {filtered_ms:10.3f} ms")


if __name__ == "__main__":
    main()
