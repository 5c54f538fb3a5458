"""Throughput of RecursiveCharacterTextSplitter against the reference splitter.

Builds a few MB of text deterministically (no downloads): ordinary prose in
paragraphs of varied length, and the same words with no newline at all.
Each splitter splits each text several times; the outputs must be equal.
Prints the median MB/s of each and the speed ratio, measured in this run.

    python benchmarks/splitting.py [--mb 4] [--repeat 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from langchain_text_splitters import RecursiveCharacterTextSplitter as ReferenceSplitter

from ragstream.splitters import RecursiveCharacterTextSplitter

_WORDS = (
    "the of and to in is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there been one all we their has would when "
    "agent memory planning task decomposition reflection retrieval vector embedding model "
    "language prompt chain thought tool observation action result reasoning step goal "
    "subgoal large complex external knowledge long-term short-term context window token "
    "self-reflection refinement trajectory feedback environment experiment performance"
).split()


def prose(size: int, *, seed: int = 7) -> str:
    """Paragraphs of sentences, like an article: blank lines between paragraphs,
    an occasional single newline inside one, punctuation and capitals."""
    rng = random.Random(seed)
    paragraphs: list[str] = []
    total = 0
    while total < size:
        sentences = []
        for _ in range(rng.randint(1, 12)):
            words = [rng.choice(_WORDS) for _ in range(rng.randint(4, 28))]
            words[0] = words[0].capitalize()
            if rng.random() < 0.2:
                words[rng.randrange(len(words))] += ","
            sentences.append(" ".join(words) + rng.choice(".!?."))
        paragraph = " ".join(sentences)
        if rng.random() < 0.15:
            cut = paragraph.find(" ", len(paragraph) // 2)
            if cut > 0:
                paragraph = paragraph[:cut] + "\n" + paragraph[cut + 1 :]
        paragraphs.append(paragraph)
        total += len(paragraph) + 2
    return "\n\n".join(paragraphs)[:size]


def no_newlines(size: int, *, seed: int = 11) -> str:
    """The same kind of words, sentences run together, never a newline."""
    return prose(size, seed=seed).replace("\n\n", " ").replace("\n", " ")


def _median_seconds(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=4.0, help="size of each text in MB")
    parser.add_argument("--repeat", type=int, default=5, help="runs per splitter and text")
    args = parser.parse_args()
    size = int(args.mb * 1_000_000)
    texts = {"prose": prose(size), "no newlines": no_newlines(size)}
    settings = [
        {"chunk_size": 1000, "chunk_overlap": 200},
        {"chunk_size": 4000, "chunk_overlap": 200},
    ]
    print(f"text size {args.mb:g} MB (characters), median of {args.repeat} runs")
    header = ("text", "chunk/overlap", "reference MB/s", "ragstream MB/s", "ratio")
    print(f"{header[0]:<12} {header[1]:<14} {header[2]:>15} {header[3]:>15} {header[4]:>7}")
    for name, text in texts.items():
        megabytes = len(text) / 1_000_000
        for kwargs in settings:
            ours = RecursiveCharacterTextSplitter(**kwargs)
            reference = ReferenceSplitter(**kwargs)
            expected = reference.split_text(text)
            got = ours.split_text(text)
            assert got == expected, f"outputs differ on {name} with {kwargs}"
            ref_s = _median_seconds(lambda r=reference, t=text: r.split_text(t), args.repeat)
            our_s = _median_seconds(lambda o=ours, t=text: o.split_text(t), args.repeat)
            label = f"{kwargs['chunk_size']}/{kwargs['chunk_overlap']}"
            print(
                f"{name:<12} {label:<14} {megabytes / ref_s:>15.1f} {megabytes / our_s:>15.1f}"
                f" {ref_s / our_s:>6.1f}x"
            )


if __name__ == "__main__":
    main()
