"""MiniLM embedding throughput on the CPU, by batch size.

Builds ~1,000 chunks of ~1,000 characters of prose deterministically (no
downloads), measures the first load of the model, then embeds all chunks with
``MiniLMEmbeddings`` at several batch sizes, and once with
sentence-transformers' own ``encode`` on the same model, in the same run
(what ragstream adds on top of the engine should be nothing).

    python benchmarks/embedding.py [--chunks 1000] [--chars 1000] [--batch-sizes 8,32,64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time

import torch

from ragstream.embeddings import MiniLMEmbeddings
from ragstream.embeddings._minilm import _models

_WORDS = (
    "agent memory planning task decomposition reflection retrieval vector embedding model "
    "language prompt chain thought tool observation action result reasoning step goal "
    "the of and to in is that for it as was with be by on not this are or from at which"
).split()


def chunks(n: int, size: int, *, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words: list[str] = []
        length = 0
        while length < size:
            word = rng.choice(_WORDS)
            words.append(word)
            length += len(word) + 1
        out.append(" ".join(words)[:size])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=1000)
    parser.add_argument("--chars", type=int, default=1000)
    parser.add_argument("--batch-sizes", default="8,32,64")
    args = parser.parse_args()
    texts = chunks(args.chunks, args.chars)
    sizes = [int(s) for s in args.batch_sizes.split(",")]
    print(
        f"{len(texts)} chunks of {args.chars} characters; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}\n"
    )

    started = time.perf_counter()
    MiniLMEmbeddings().embed_query("load the model")
    print(f"first use (import + load):  {time.perf_counter() - started:8.2f} s")

    rates: dict[str, float] = {}
    for size in sizes:
        emb = MiniLMEmbeddings(batch_size=size)
        started = time.perf_counter()
        vectors = emb.embed_documents(texts)
        elapsed = time.perf_counter() - started
        assert len(vectors) == len(texts) and len(vectors[0]) == 384
        rates[f"batch {size}"] = len(texts) / elapsed
        print(f"MiniLMEmbeddings batch {size:>3}:  {rates[f'batch {size}']:8.1f} chunks/s")

    emb = MiniLMEmbeddings(batch_size=32)
    started = time.perf_counter()
    asyncio.run(emb.aembed_documents(texts))
    async_rate = len(texts) / (time.perf_counter() - started)
    print(f"aembed_documents batch  32: {async_rate:8.1f} chunks/s  (in a worker thread)")

    ((model, _lock),) = _models.values()
    started = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    raw = len(texts) / (time.perf_counter() - started)
    print(f"SentenceTransformer.encode: {raw:8.1f} chunks/s  (batch 32, the engine alone)")
    if "batch 32" in rates:
        print(f"MiniLMEmbeddings / engine:  {rates['batch 32'] / raw:8.2f}")


if __name__ == "__main__":
    main()
